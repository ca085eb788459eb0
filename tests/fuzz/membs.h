/* A byte stream (lib/copy/bstream.h) on a memory buffer that hands out
 * its bytes in small, input-chosen pieces, the way a pipe does. */
#ifndef H2K_FUZZ_MEMBS_H
#define H2K_FUZZ_MEMBS_H

#include "copy/bstream.h"

struct membs {
  struct bstream bs;
  const uint8_t *data;
  size_t size, pos;
  uint64_t seed;
};

static ssize_t
membs_read (struct bstream *bs, void *buf, size_t count)
{
  struct membs *m = (struct membs *) bs;
  size_t left = m->size - m->pos;
  size_t n = count < left ? count : left;
  /* Short reads of 1 to 64 KiB, as from a pipe. */
  size_t piece = 1 + fuzz_next (&m->seed) % 65536;
  if (n > piece)
    n = piece;
  memcpy (buf, m->data + m->pos, n);
  m->pos += n;
  return (ssize_t) n;
}

static inline void
membs_init (struct membs *m, const uint8_t *data, size_t size, const char *name)
{
  memset (m, 0, sizeof *m);
  m->bs.read = membs_read;
  m->bs.name = name;
  m->data = data;
  m->size = size;
  m->seed = fuzz_seed (data, size) | 1;
}

#endif
