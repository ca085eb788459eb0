/* The raw writer.  Into a file: the file is made SIZE bytes long at the
 * end (sparse) and only non-zero blocks are written, so holes stay holes.
 * Into a pipe or a block device, where a skipped range would not read as
 * zeros, the zeros are written out. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/die.h"
#include "sink.h"
#include "util/xio.h"

/* Zero detection granularity: the file system block size. */
#define RAW_BLOCK 4096
#define ZEROS_LEN (1u << 20)

struct rw {
  struct sink sink;
  int fd;
  const char *name;
  bool seekable;
  bool holes_are_zero;    /* a fresh file: unwritten ranges read as zeros */
  uint64_t pos;           /* everything before this is written */
  unsigned char *zeros;
};

/* Writes go out in pieces of at most this size: one large write into the
 * page cache was measured to be much slower than the same bytes in 256 KiB
 * pieces (dirty-page throttling hits a big write as a whole), as qemu-img
 * finds with its own small buffers. */
#define RAW_WRITE_MAX (256u << 10)

static int
put (struct rw *w, const void *buf, size_t len, uint64_t off)
{
  const char *p = buf;
  while (len > 0) {
    size_t n = len < RAW_WRITE_MAX ? len : RAW_WRITE_MAX;
    int r = w->seekable ? h2k_pwrite_full (w->fd, p, n, off)
      : h2k_write_full (w->fd, p, n);
    if (r == -1)
      return h2k_seterr ("%s: write: %m", w->name);
    p += n;
    off += n;
    len -= n;
  }
  return 0;
}

/* Make [w->pos, upto) zeros. */
static int
fill_zeros (struct rw *w, uint64_t upto)
{
  if (w->holes_are_zero) {
    w->pos = upto;
    return 0;
  }
  if (w->zeros == NULL && (w->zeros = calloc (1, ZEROS_LEN)) == NULL)
    return h2k_seterr ("out of memory");
  while (w->pos < upto) {
    size_t n = upto - w->pos < ZEROS_LEN ? upto - w->pos : ZEROS_LEN;
    if (put (w, w->zeros, n, w->pos) == -1)
      return -1;
    w->pos += n;
  }
  return 0;
}

static int
rw_write (struct sink *s, uint64_t offset, const void *buf, size_t len)
{
  struct rw *w = (struct rw *) s;
  const unsigned char *p = buf;

  if (offset < w->pos)
    return h2k_seterr ("%s: internal error: write out of order", w->name);
  if (fill_zeros (w, offset) == -1)
    return -1;
  if (!w->holes_are_zero) {
    if (put (w, p, len, offset) == -1)
      return -1;
    w->pos = offset + len;
    return 0;
  }
  /* Write each run of non-zero blocks with one call. */
  size_t i = 0;
  while (i < len) {
    size_t n = len - i < RAW_BLOCK ? len - i : RAW_BLOCK;
    if (h2k_is_zero (p + i, n)) {
      i += n;
      continue;
    }
    size_t start = i;
    i += n;
    while (i < len) {
      n = len - i < RAW_BLOCK ? len - i : RAW_BLOCK;
      if (h2k_is_zero (p + i, n))
        break;
      i += n;
    }
    if (put (w, p + start, i - start, offset + start) == -1)
      return -1;
  }
  w->pos = offset + len;
  return 0;
}

static int
rw_finish (struct sink *s, uint64_t size)
{
  struct rw *w = (struct rw *) s;
  if (w->holes_are_zero) {
    if (ftruncate (w->fd, size) == -1)
      return h2k_seterr ("%s: cannot set size: %m", w->name);
    return 0;
  }
  return fill_zeros (w, size);
}

static void
rw_free (struct sink *s)
{
  struct rw *w = (struct rw *) s;
  if (w) {
    free (w->zeros);
    free (w);
  }
}

static const struct sink_ops rw_ops = {
  .write = rw_write,
  .finish = rw_finish,
  .free = rw_free,
};

struct sink *
raw_sink_new (int fd, const char *name, bool seekable, bool holes_are_zero)
{
  struct rw *w = calloc (1, sizeof *w);
  if (w == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  w->sink.ops = &rw_ops;
  w->fd = fd;
  w->name = name;
  w->seekable = seekable;
  w->holes_are_zero = holes_are_zero && seekable;
  return &w->sink;
}
