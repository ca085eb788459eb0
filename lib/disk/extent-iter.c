/* The extent iterator (bdev.h): the one loop that asks a chain for its
 * allocation a window at a time. */
#include <string.h>

#include "bdev.h"

/* Large enough that a window is a few calls into a driver's metadata,
 * small enough that its extent list stays short on a fragmented disk. */
#define WINDOW (UINT64_C (1) << 30)

void
h2k_extent_iter_init (struct h2k_extent_iter *it, struct h2k_bdev *bd,
                      uint64_t offset, uint64_t length, unsigned flags)
{
  memset (it, 0, sizeof *it);
  it->bd = bd;
  it->pos = offset;
  it->end = offset + length;
  it->flags = flags;
}

/* The next extent as the chain reports it, window by window. */
static int
next_raw (struct h2k_extent_iter *it, struct h2k_extent *out)
{
  while (it->i == it->win.len) {
    if (it->pos >= it->end)
      return 0;
    uint64_t len = it->end - it->pos < WINDOW ? it->end - it->pos : WINDOW;
    if (h2k_bdev_extents (it->bd, it->pos, len, &it->win) == -1)
      return -1;
    it->i = 0;
    it->pos += len;
  }
  *out = it->win.ptr[it->i++];
  return 1;
}

int
h2k_extent_iter_next (struct h2k_extent_iter *it, struct h2k_extent *out)
{
  if (!(it->flags & H2K_EXTENT_ITER_MERGE))
    return next_raw (it, out);

  struct h2k_extent e;
  int r;
  if (!it->have_pending) {
    if ((r = next_raw (it, &it->pending)) <= 0)
      return r;
    it->have_pending = true;
  }
  while ((r = next_raw (it, &e)) > 0) {
    if (e.type == it->pending.type
        && it->pending.offset + it->pending.length == e.offset) {
      it->pending.length += e.length;
      continue;
    }
    *out = it->pending;
    it->pending = e;
    return 1;
  }
  if (r == -1)
    return -1;
  *out = it->pending;
  it->have_pending = false;
  return 1;
}

void
h2k_extent_iter_reset (struct h2k_extent_iter *it)
{
  h2k_extent_vector_reset (&it->win);
  it->i = 0;
  it->have_pending = false;
}
