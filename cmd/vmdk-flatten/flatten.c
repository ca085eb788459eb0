/* Writing the flattened disk.  The chain's allocation is read a window at
 * a time; DATA extents are read in pieces of at most BUF_SIZE and written,
 * zero blocks inside them skipped (so zero runs become holes), ZERO and
 * HOLE extents skipped too.  A stream gets every byte, in order.  Memory
 * is the buffer plus the extent list of one window, whatever the disk. */
#include <stdlib.h>
#include <string.h>

#include "die.h"
#include "flatten.h"
#include "xio.h"

#define WINDOW (256u << 20)    /* extents asked for at once */
#define BUF_SIZE (2u << 20)    /* data read at once */
#define ZBLOCK 4096            /* granularity of zero detection */

static int
write_zeros (struct h2k_outfile *out, const unsigned char *zeros,
             uint64_t offset, uint64_t len)
{
  while (len > 0) {
    size_t n = len < BUF_SIZE ? len : BUF_SIZE;
    int r = out->is_stdout ? h2k_write_full (out->fd, zeros, n)
      : h2k_pwrite_full (out->fd, zeros, n, offset);
    if (r == -1)
      return h2k_seterr ("%s: write: %m", out->is_stdout ? "<stdout>" : out->part ? out->part : out->path);
    offset += n;
    len -= n;
  }
  return 0;
}

/* Write BUF (LEN bytes of data at OFFSET), skipping zero blocks when the
 * output is a sparse file. */
static int
write_data (struct h2k_outfile *out, const unsigned char *buf, uint64_t len,
            uint64_t offset, struct flatten_stats *st)
{
  const char *name = out->is_stdout ? "<stdout>" : out->part ? out->part : out->path;

  if (out->is_stdout || out->is_blockdev) {
    int r = out->is_stdout ? h2k_write_full (out->fd, buf, len)
      : h2k_pwrite_full (out->fd, buf, len, offset);
    if (r == -1)
      return h2k_seterr ("%s: write: %m", name);
    st->written_bytes += len;
    return 0;
  }
  uint64_t i = 0;
  while (i < len) {
    /* Skip zero blocks, then write the run of non-zero blocks. */
    while (i < len) {
      uint64_t n = len - i < ZBLOCK ? len - i : ZBLOCK;
      if (!h2k_is_zero (buf + i, n))
        break;
      i += n;
    }
    uint64_t s = i;
    while (i < len) {
      uint64_t n = len - i < ZBLOCK ? len - i : ZBLOCK;
      if (h2k_is_zero (buf + i, n))
        break;
      i += n;
    }
    if (i > s) {
      if (h2k_pwrite_full (out->fd, buf + s, i - s, offset + s) == -1)
        return h2k_seterr ("%s: write: %m", name);
      st->written_bytes += i - s;
    }
  }
  return 0;
}

int
flatten_write (struct h2k_bdev *bd, struct h2k_outfile *out,
               struct h2k_progress *pr, struct flatten_stats *st)
{
  struct h2k_extent_vector v = { 0 };
  unsigned char *buf = malloc (BUF_SIZE);
  unsigned char *zeros = calloc (1, BUF_SIZE);
  int r = -1;

  memset (st, 0, sizeof *st);
  if (buf == NULL || zeros == NULL) {
    h2k_seterr ("out of memory");
    goto out;
  }
  if (h2k_outfile_set_size (out, bd->size) == -1)
    goto out;

  for (uint64_t pos = 0; pos < bd->size; ) {
    uint64_t wlen = bd->size - pos < WINDOW ? bd->size - pos : WINDOW;
    if (h2k_bdev_extents (bd, pos, wlen, &v) == -1)
      goto out;
    for (size_t i = 0; i < v.len; i++) {
      struct h2k_extent *e = &v.ptr[i];
      if (e->type != H2K_EXTENT_DATA) {
        /* Holes stay holes in a file; a stream or a device gets zeros. */
        if ((out->is_stdout || out->is_blockdev)
            && write_zeros (out, zeros, e->offset, e->length) == -1)
          goto out;
        h2k_progress_update (pr, e->offset + e->length);
        continue;
      }
      st->extents++;
      for (uint64_t o = e->offset; o < e->offset + e->length; ) {
        uint64_t n = e->offset + e->length - o;
        if (n > BUF_SIZE)
          n = BUF_SIZE;
        if (h2k_bdev_pread (bd, buf, n, o) == -1
            || write_data (out, buf, n, o, st) == -1)
          goto out;
        st->data_bytes += n;
        o += n;
        h2k_progress_update (pr, o);
      }
    }
    pos += wlen;
  }
  r = 0;
 out:
  h2k_extent_vector_reset (&v);
  free (buf);
  free (zeros);
  return r;
}
