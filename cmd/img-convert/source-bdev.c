/* The source for files: any format the block-device layer opens, chains
 * included.  Only DATA extents are read; ZERO and HOLE ranges are skipped
 * (the output has no backing file, so both read as zeros).  Reads are
 * large and aligned to SOURCE_BUFSIZE so the writer sees whole clusters. */
#include <stdlib.h>

#include "bdev.h"
#include "die.h"
#include "source.h"

/* Allocation is asked for in windows, which bounds the extent list. */
#define WINDOW (1ULL << 30)

struct sb {
  struct source src;
  struct h2k_bdev *bd;
  struct h2k_extent_vector ext;
  size_t ei;
  uint64_t pos;         /* next byte to read inside ext.ptr[ei] */
  uint64_t win_end;     /* the end of the window in ext */
  unsigned char *buf;
};

static int
sb_next (struct source *src, struct chunk *out)
{
  struct sb *s = (struct sb *) src;

  for (;;) {
    if (s->ei < s->ext.len) {
      struct h2k_extent *e = &s->ext.ptr[s->ei];
      uint64_t end = e->offset + e->length;
      if (e->type != H2K_EXTENT_DATA) {
        s->ei++;
        continue;
      }
      if (s->pos < e->offset)
        s->pos = e->offset;
      uint64_t n = SOURCE_BUFSIZE - s->pos % SOURCE_BUFSIZE;
      if (n > end - s->pos)
        n = end - s->pos;
      if (h2k_bdev_pread (s->bd, s->buf, n, s->pos) == -1)
        return -1;
      *out = (struct chunk) { s->pos, n, s->buf };
      s->pos += n;
      if (s->pos == end)
        s->ei++;
      return 1;
    }
    if (s->win_end >= s->src.size)
      return 0;
    uint64_t len = s->src.size - s->win_end < WINDOW
      ? s->src.size - s->win_end : WINDOW;
    if (h2k_bdev_extents (s->bd, s->win_end, len, &s->ext) == -1)
      return -1;
    s->ei = 0;
    s->pos = s->win_end;
    s->win_end += len;
  }
}

static void
sb_close (struct source *src)
{
  struct sb *s = (struct sb *) src;
  h2k_bdev_close (s->bd);
  h2k_extent_vector_reset (&s->ext);
  free (s->buf);
  free (s);
}

static const struct source_ops sb_ops = {
  .next = sb_next,
  .close = sb_close,
};

struct source *
source_bdev_open (const char *path, const char *format)
{
  struct sb *s = calloc (1, sizeof *s);
  if (s == NULL || (s->buf = malloc (SOURCE_BUFSIZE)) == NULL) {
    free (s);
    h2k_seterr ("out of memory");
    return NULL;
  }
  if (h2k_chain_open (path, format, 0, &s->bd) == -1) {
    free (s->buf);
    free (s);
    return NULL;
  }
  s->src.ops = &sb_ops;
  s->src.size = s->bd->size;
  s->src.name = s->bd->path;
  return &s->src;
}
