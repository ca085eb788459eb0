/* Raw bytes from a stream (stdin): the disk is whatever arrives, and its
 * size is known only at the end.  The writers find the zeros. */
#include <stdlib.h>

#include "util/die.h"
#include "source.h"

struct srs {
  struct source src;
  struct bstream *bs;
  uint64_t pos;
  unsigned char *buf;
};

static int
srs_next (struct source *src, struct chunk *out)
{
  struct srs *s = (struct srs *) src;
  ssize_t n = bstream_read (s->bs, s->buf, SOURCE_BUFSIZE);
  if (n < 0)
    return -1;
  if (n == 0) {
    s->src.size = s->pos;
    return 0;
  }
  *out = (struct chunk) { s->pos, n, s->buf };
  s->pos += n;
  return 1;
}

static void
srs_close (struct source *src)
{
  struct srs *s = (struct srs *) src;
  free (s->buf);
  free (s);
}

static const struct source_ops srs_ops = {
  .next = srs_next,
  .close = srs_close,
};

struct source *
source_raw_stream_open (struct bstream *bs, const char *name)
{
  struct srs *s = calloc (1, sizeof *s);
  if (s == NULL || (s->buf = malloc (SOURCE_BUFSIZE)) == NULL) {
    free (s);
    h2k_seterr ("out of memory");
    return NULL;
  }
  s->src.ops = &srs_ops;
  s->src.size = SOURCE_SIZE_UNKNOWN;
  s->src.name = name;
  s->bs = bs;
  return &s->src;
}
