/* Sinks: where the guest bytes go (the qcow2 writer, the raw writer).
 *
 * write() is called with ascending, non-overlapping ranges; the bytes
 * between them are zeros.  The data may contain zeros: the sink finds them
 * itself and never stores them as data.  finish() gets the final guest
 * size and completes the file (still named OUTPUT.part: the caller
 * commits it); abort() frees everything after a failure.
 */
#ifndef IMGCONV_SINK_H
#define IMGCONV_SINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct sink;

struct sink_ops {
  int (*write) (struct sink *s, uint64_t offset, const void *buf, size_t len);
  int (*finish) (struct sink *s, uint64_t size);
  void (*free) (struct sink *s);
};

struct sink {
  const struct sink_ops *ops;
};

struct qcow2_options {
  unsigned cluster_bits;     /* 9..21 */
  bool compress;
  int compression_type;      /* QCOW2_COMPRESSION_ZLIB or _ZSTD */
  int level;                 /* codec level; 0 = the codec's default */
  unsigned threads;          /* compression threads, >= 1 */
};

/* Both write to FD, which must be seekable for qcow2 (for raw, SEEKABLE
 * false means a pipe: zeros are written out).  SIZE_HINT is the guest
 * size if known (UINT64_MAX otherwise): it lets the writer refuse an
 * impossible size before any work.  NAME is used in messages. */
struct sink *qcow2_sink_new (int fd, const char *name,
                             const struct qcow2_options *opt,
                             uint64_t size_hint);
struct sink *raw_sink_new (int fd, const char *name, bool seekable,
                           bool holes_are_zero);

#endif
