/* Byte streams: sequential, non-seekable input (a pipe, an archive member,
 * a gunzipped member).  The stream sources read through this so that they
 * work on any of them.
 *
 * read returns the number of bytes read (less than COUNT only at the end),
 * 0 at the end, or -1 with h2k_seterr.
 */
#ifndef IMGCONV_BSTREAM_H
#define IMGCONV_BSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct bstream {
  ssize_t (*read) (struct bstream *bs, void *buf, size_t count);
  void *opaque;
  const char *name;         /* for messages */
  uint64_t pos;             /* bytes handed out so far */
  /* Bytes pushed back by bstream_unread (a peek at the first bytes). */
  unsigned char *pushback;
  size_t pb_len, pb_off;
};

/* Read exactly COUNT bytes; a short read is an error ("truncated" naming
 * WHAT).  Returns 0 or -1. */
int bstream_read_exact (struct bstream *bs, void *buf, size_t count,
                        const char *what);
/* Read up to COUNT bytes, stopping only at the end; returns the count or
 * -1. */
ssize_t bstream_read (struct bstream *bs, void *buf, size_t count);
/* Discard COUNT bytes (exactly). */
int bstream_skip (struct bstream *bs, uint64_t count, const char *what);
/* Give back the COUNT bytes just read (only once, before anything else is
 * read): used to peek at a stream's first bytes. */
int bstream_unread (struct bstream *bs, const void *buf, size_t count);
void bstream_free_pushback (struct bstream *bs);

/* A stream on a file descriptor (stdin). */
void bstream_init_fd (struct bstream *bs, int *fdp, const char *name);

#endif
