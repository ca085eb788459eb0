/* A disk image through the block-device layer, as vmdk-flatten,
 * img-convert and bdev-cat open it: h2k_chain_open (with the format forced
 * by FUZZ_FORMAT, or detected when it is NULL), the extents of the start
 * of the disk and of a few windows, reads there, and the deep check.
 * Built once per format (fuzz-vmdk, fuzz-vhd, fuzz-vhdx, fuzz-qcow2,
 * fuzz-probe); the vmdk target covers descriptors, hosted sparse (KDMV,
 * streamOptimized), COWD and seSparse, which the driver tells apart by
 * their magic. */
#include <endian.h>

#include "fuzz.h"
#include "disk/bdev.h"
#include "util/crc32c.h"
#include "util/die.h"

#ifndef FUZZ_FORMAT
#define FUZZ_FORMAT NULL
#endif

/* Bounds per input, so that a disk that claims 64 TiB is fuzzed for its
 * tables, not for the time it takes to read it. */
#define WINDOW (1u << 20)
#define READ_MAX (256u << 10)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Checksums, made right again after the mutation.  VHD's footer and
 * dynamic header and VHDX's headers, region tables and log entries carry
 * one; a mutated byte almost always breaks it, and the fuzzer would then
 * spend its runs on the "checksum mismatch" error instead of on the
 * tables behind it.  This is done to 7 inputs in 8 (chosen from the input
 * itself), so that the mismatch paths stay covered too.  The structures
 * are found where the formats put them, as the drivers find them. */
static uint32_t
get_be32 (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return be32toh (v);
}

static uint64_t
get_be64 (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return be64toh (v);
}

static uint32_t
get_le32 (const unsigned char *p)
{
  uint32_t v;
  memcpy (&v, p, 4);
  return le32toh (v);
}

static uint64_t
get_le64 (const unsigned char *p)
{
  uint64_t v;
  memcpy (&v, p, 8);
  return le64toh (v);
}

/* VHD: the one's complement of the byte sum, the field counted as 0. */
static void
fix_vhd_sum (unsigned char *p, size_t len, size_t off)
{
  uint32_t sum = 0;
  memset (p + off, 0, 4);
  for (size_t i = 0; i < len; i++)
    sum += p[i];
  uint32_t v = htobe32 (~sum);
  memcpy (p + off, &v, 4);
}

/* VHDX: CRC-32C of the structure with the field as 0, little-endian. */
static void
fix_vhdx_crc (unsigned char *p, size_t len)
{
  memset (p + 4, 0, 4);
  uint32_t v = htole32 (h2k_crc32c (0, p, len));
  memcpy (p + 4, &v, 4);
}

static void
fix_checksums (unsigned char *d, size_t size)
{
  if (size >= 512) {
    unsigned char *foot[2] = { d + size - 512, d };
    for (int i = 0; i < 2; i++) {
      unsigned char *f = foot[i];
      if (memcmp (f, "conectix", 8) != 0)
        continue;
      fix_vhd_sum (f, 512, 64);
      uint64_t dh = get_be64 (f + 16);
      if (dh < size && size - dh >= 1024 && memcmp (d + dh, "cxsparse", 8) == 0)
        fix_vhd_sum (d + dh, 1024, 36);
    }
  }
  if (size >= 8 && memcmp (d, "vhdxfile", 8) == 0) {
    static const size_t head[2] = { 64 << 10, 128 << 10 };
    static const size_t region[2] = { 192 << 10, 256 << 10 };
    for (int i = 0; i < 2; i++) {
      unsigned char *h = d + head[i];
      if (head[i] + 4096 > size || memcmp (h, "head", 4) != 0)
        continue;
      /* The log entries the header points at, each of its own length. */
      uint64_t lo = get_le64 (h + 72), ll = get_le32 (h + 68);
      for (uint64_t o = lo; ll <= size && lo <= size - ll && o + 4096 <= lo + ll; o += 4096) {
        uint32_t len = get_le32 (d + o + 8);
        if (memcmp (d + o, "loge", 4) == 0 && len && len % 4096 == 0
            && len <= lo + ll - o) {
          fix_vhdx_crc (d + o, len);
          o += len - 4096;
        }
      }
    }
    for (int i = 0; i < 2; i++)
      if (head[i] + 4096 <= size && memcmp (d + head[i], "head", 4) == 0)
        fix_vhdx_crc (d + head[i], 4096);
    for (int i = 0; i < 2; i++)
      if (region[i] + (64 << 10) <= size && memcmp (d + region[i], "regi", 4) == 0)
        fix_vhdx_crc (d + region[i], 64 << 10);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static unsigned char *buf, *fixed;
  static size_t fixed_size;
  if (buf == NULL && (buf = malloc (READ_MAX)) == NULL)
    abort ();
  uint64_t s = fuzz_seed (data, size);
  if (size > 0 && (s & 7) != 0) {
    if (size > fixed_size) {
      free (fixed);
      if ((fixed = malloc (size)) == NULL)
        abort ();
      fixed_size = size;
    }
    memcpy (fixed, data, size);
    fix_checksums (fixed, size);
    data = fixed;
  }
  fuzz_next (&s);
  char path[64];
  int fd = fuzz_memfd (data, size, path, sizeof path);
  if (fd == -1)
    return 0;
  struct h2k_bdev *bd = NULL;
  if (h2k_chain_open (path, FUZZ_FORMAT, 0, &bd) == 0) {
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
  return 0;
}
