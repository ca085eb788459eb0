/* A disk image through the block-device layer, as vmdk-flatten,
 * img-convert and bdev-cat open it: h2k_chain_open (with the format forced
 * by FUZZ_FORMAT, or detected when it is NULL), the extents of the start
 * of the disk and of a few windows, reads there, and the deep check.
 * Built once per format (fuzz-vmdk, fuzz-vhd, fuzz-vhdx, fuzz-qcow2,
 * fuzz-probe); the vmdk target covers descriptors, hosted sparse (KDMV,
 * streamOptimized), COWD and seSparse, which the driver tells apart by
 * their magic. */
#include "fuzz.h"
#include "disk/bdev.h"
#include "util/die.h"

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT NULL
#endif

/* Bounds per input, so that a disk that claims 64 TiB is fuzzed for its
 * tables, not for the time it takes to read it. */
#define WINDOW (1u << 20)
#define READ_MAX (256u << 10)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static unsigned char *buf;
  if (buf == NULL && (buf = malloc (READ_MAX)) == NULL)
    abort ();
  char path[64];
  int fd = fuzz_memfd (data, size, path, sizeof path);
  if (fd == -1)
    return 0;
  struct h2k_bdev *bd = NULL;
  if (h2k_chain_open (path, FUZZ_FORMAT, 0, &bd) == 0) {
    uint64_t s = fuzz_seed (data, size);
    struct h2k_extent_vector ext = { 0 };
    for (int i = 0; i < 4 && bd->size > 0; i++) {
      uint64_t off = i == 0 ? 0 : fuzz_next (&s) % bd->size;
      uint64_t len = bd->size - off < WINDOW ? bd->size - off : WINDOW;
      if (h2k_bdev_extents (bd, off, len, &ext) == 0) {
        /* The extents must cover the window exactly, in order. */
        uint64_t pos = off;
        for (size_t k = 0; k < ext.len; k++) {
          if (ext.ptr[k].offset != pos || ext.ptr[k].length == 0)
            abort ();
          pos += ext.ptr[k].length;
        }
        if (pos != off + len)
          abort ();
      }
      size_t n = len < READ_MAX ? len : READ_MAX;
      h2k_bdev_pread (bd, buf, n, off);
    }
    h2k_extent_vector_reset (&ext);
    h2k_bdev_check (bd);
    h2k_bdev_close (bd);
  }
  close (fd);
  return 0;
}
