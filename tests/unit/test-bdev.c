/* Unit tests of the block-device layer: the raw driver and the chain. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk/bdev.h"
#include "util/h2k.h"
#include "tap.h"

/* A fake in-memory layer: MAP[i] says what block i of 4 KiB is
 * ('D' data filled with FILL, 'Z' zero, 'H' hole). */
#define BLK 4096
struct fake {
  const char *map;
  char fill;
};

static int
fake_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct fake *f = bd->data;
  for (size_t i = 0; i < count; i++) {
    uint64_t blk = (offset + i) / BLK;
    ((char *) buf)[i] = f->map[blk] == 'D' ? f->fill : 0;
  }
  return 0;
}

static int
fake_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
              struct h2k_extent_vector *out)
{
  struct fake *f = bd->data;
  for (uint64_t b = offset / BLK; b * BLK < offset + length; b++) {
    enum h2k_extent_type t = f->map[b] == 'D' ? H2K_EXTENT_DATA
      : f->map[b] == 'Z' ? H2K_EXTENT_ZERO : H2K_EXTENT_HOLE;
    if (h2k_bdev_add_extent (out, b * BLK, BLK, t) == -1)
      return -1;
  }
  return 0;
}

static void fake_close (struct h2k_bdev *bd) { }

static const struct h2k_bdev_ops fake_ops = {
  .name = "fake", .pread = fake_pread, .extents = fake_extents,
  .close = fake_close,
};

static struct h2k_bdev *
fake_layer (const char *map, char fill, struct h2k_bdev *parent)
{
  struct h2k_bdev *bd = calloc (1, sizeof *bd);
  struct fake *f = calloc (1, sizeof *f);
  f->map = map;
  f->fill = fill;
  bd->ops = &fake_ops;
  bd->path = strdup (map);
  bd->size = strlen (map) * BLK;
  bd->data = f;
  bd->parent = parent;
  return bd;
}

static void
free_fakes (struct h2k_bdev *bd)
{
  for (struct h2k_bdev *b = bd; b; b = b->parent)
    free (b->data);
  h2k_bdev_close (bd);
}

static void
test_chain (void)
{
  /* Base "DDHH" of 'a', middle "HZDH" of 'b', top "HHHD" of 'c' (the top
   * is one block larger than the base: past the base's end it is zeros). */
  struct h2k_bdev *base = fake_layer ("DDHH", 'a', NULL);
  struct h2k_bdev *mid = fake_layer ("HZDH", 'b', base);
  struct h2k_bdev *top = fake_layer ("HHHDH", 'c', mid);
  char *buf = malloc (5 * BLK);
  int r = h2k_bdev_pread (top, buf, 5 * BLK, 0);
  ok (r == 0, "pread through a 3-layer chain");
  ok (buf[0] == 'a' && buf[BLK] == 0 && buf[2 * BLK] == 'b'
      && buf[3 * BLK] == 'c' && buf[4 * BLK] == 0,
      "each block comes from the right layer");
  ok (h2k_bdev_pread (top, buf, 2, BLK - 1) == 0 && buf[0] == 'a' && buf[1] == 0,
      "a read across a layer boundary");
  ok (h2k_bdev_pread (top, buf, 1, 5 * BLK) == -1, "read past the end fails");

  struct h2k_extent_vector v = { 0 };
  ok (h2k_bdev_extents (top, 0, 5 * BLK, &v) == 0, "chain extents");
  is_int (v.len, 4, "extents merged: DATA, ZERO, DATA, HOLE");
  if (v.len == 4) {
    ok (v.ptr[0].type == H2K_EXTENT_DATA && v.ptr[0].length == BLK,
        "base data first");
    ok (v.ptr[1].type == H2K_EXTENT_ZERO, "zeroed by the middle layer");
    ok (v.ptr[2].type == H2K_EXTENT_DATA && v.ptr[2].length == 2 * BLK,
        "middle and top data merged");
    ok (v.ptr[3].type == H2K_EXTENT_HOLE && v.ptr[3].offset == 4 * BLK,
        "unallocated everywhere is a hole");
  }
  ok (h2k_bdev_extents (top, 100, 10, &v) == 0 && v.len == 1
      && v.ptr[0].offset == 100 && v.ptr[0].length == 10,
      "extents are clipped to the request");
  h2k_extent_vector_reset (&v);
  free (buf);
  free_fakes (top);
}

static void
test_raw (void)
{
  char path[] = "/tmp/h2k-test-bdev.XXXXXX";
  int fd = mkstemp (path);
  char block[65536];
  memset (block, 'x', sizeof block);
  ok (fd >= 0 && ftruncate (fd, 4 << 20) == 0
      && pwrite (fd, block, sizeof block, 1 << 20) == (ssize_t) sizeof block,
      "raw test file written");
  close (fd);

  struct h2k_bdev *bd;
  ok (h2k_bdev_open (path, NULL, 0, &bd) == 0, "raw detected");
  is_str (bd->ops->name, "raw", "driver is raw");
  is_int (bd->size, 4 << 20, "raw size");
  struct h2k_extent_vector v = { 0 };
  ok (h2k_bdev_extents (bd, 0, bd->size, &v) == 0, "raw extents");
  int found = 0;
  for (size_t i = 0; i < v.len; i++)
    if (v.ptr[i].type == H2K_EXTENT_DATA && v.ptr[i].offset <= (1 << 20)
        && v.ptr[i].offset + v.ptr[i].length >= (1 << 20) + 65536)
      found = 1;
  ok (found, "the written block is data");
  ok (v.ptr[0].type == H2K_EXTENT_ZERO, "the leading hole reads as zeros");
  char got[16];
  ok (h2k_bdev_pread (bd, got, 16, (1 << 20) - 8) == 0
      && got[0] == 0 && got[8] == 'x', "raw pread");
  h2k_extent_vector_reset (&v);
  h2k_bdev_close (bd);

  ok (h2k_bdev_open ("/nonexistent/disk", NULL, 0, &bd) == -1
      && strstr (h2k_errmsg (), "/nonexistent/disk") != NULL,
      "missing file: %s", h2k_errmsg ());
  ok (h2k_bdev_open (path, "nosuchformat", 0, &bd) == -1,
      "unknown format: %s", h2k_errmsg ());
  ok (h2k_bdev_open ("/tmp", NULL, 0, &bd) == -1, "directory refused: %s",
      h2k_errmsg ());
  unlink (path);
}

int
main (void)
{
  test_chain ();
  test_raw ();
  return done_testing ();
}
