/* Sources: where the guest bytes come from.
 *
 * The writers never care whether the disk is a file opened through the
 * block-device layer, raw bytes on a pipe, or a streamOptimized VMDK
 * decoded from inside an OVA.  A source hands out the disk as chunks in
 * ascending offset order; the space between chunks reads as zeros.  A
 * chunk with DATA == NULL is a known-zero range (it may also be left out).
 *
 *   struct chunk c;
 *   while ((r = src->ops->next (src, &c)) > 0)
 *     use c.offset, c.length, c.data   (valid until the next call)
 *   r == 0: the end; src->size is final.  r == -1: h2k_errmsg ().
 *
 * src->size is the guest size, or SOURCE_SIZE_UNKNOWN for a pipe until
 * next() has returned 0.
 */
#ifndef IMGCONV_SOURCE_H
#define IMGCONV_SOURCE_H

#include <stdint.h>
#include <stddef.h>

#include "bstream.h"

#define SOURCE_SIZE_UNKNOWN UINT64_MAX

/* Large reads keep syscalls and per-call overheads down; this is also the
 * largest chunk a source hands out. */
#define SOURCE_BUFSIZE (4u << 20)

struct chunk {
  uint64_t offset;
  uint64_t length;
  const void *data;     /* NULL: zeros */
};

struct source;

struct source_ops {
  int (*next) (struct source *src, struct chunk *out);
  void (*close) (struct source *src);
};

struct source {
  const struct source_ops *ops;
  uint64_t size;
  const char *name;     /* for messages */
};

/* A chain already open; the source owns BD (closed with the source, or
 * here on failure). */
struct h2k_bdev;
struct source *source_bdev_new (struct h2k_bdev *bd);
/* A file (or chain) opened through h2k_chain_open; FORMAT may be NULL. */
struct source *source_bdev_open (const char *path, const char *format,
                                 unsigned open_flags);
/* Raw bytes read from a byte stream (stdin). */
struct source *source_raw_stream_open (struct bstream *bs, const char *name);
/* A streamOptimized VMDK decoded sequentially from a byte stream. */
struct source *source_vmdk_stream_open (struct bstream *bs, const char *name);

static inline void
source_close (struct source *src)
{
  if (src)
    src->ops->close (src);
}

#endif
