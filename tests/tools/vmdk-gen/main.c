/* vmdk-gen: writes the VMDK extent forms qemu-img cannot write, for the
 * tests.  The content comes from a raw SPEC file: a grain is allocated
 * where SPEC has data (SEEK_DATA), so a sparse SPEC written with dd gives
 * a delta with exactly those grains.
 *
 *   vmdk-gen cowd OUT SPEC [GRAIN_SECTORS]         ESX vmfsSparse delta
 *   vmdk-gen sesparse OUT SPEC [zero=OFF:LEN|unmap=OFF:LEN|dirty]...
 *                                                  seSparse delta
 *   vmdk-gen stream OUT SPEC                       streamOptimized with the
 *        grain directory at the end (footer, GT/GD markers, a type-4
 *        progress marker), as ovftool writes it
 *   vmdk-gen compressed OUT SPEC                   compressed hosted sparse
 *        without markers (each grain is a u32 size and zlib data), grain
 *        tables preallocated at the start
 *
 * Test code: it exits on any error and trusts its arguments.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static int out_fd;

static void
fail (const char *what)
{
  perror (what);
  exit (1);
}

static void
put32 (unsigned char *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = v >> (8 * i);
}

static void
put64 (unsigned char *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = v >> (8 * i);
}

static void
wr (const void *buf, size_t n, uint64_t off)
{
  if (pwrite (out_fd, buf, n, off) != (ssize_t) n)
    fail ("pwrite");
}

struct spec {
  int fd;
  uint64_t size;
};

static struct spec
open_spec (const char *path)
{
  struct spec s;
  struct stat st;
  s.fd = open (path, O_RDONLY);
  if (s.fd == -1 || fstat (s.fd, &st) == -1)
    fail (path);
  s.size = st.st_size;
  if (s.size % 512) {
    fprintf (stderr, "%s: size not a multiple of 512\n", path);
    exit (1);
  }
  return s;
}

/* Does SPEC have data in [off, off+len)? */
static int
has_data (struct spec *s, uint64_t off, uint64_t len)
{
  off_t d = lseek (s->fd, off, SEEK_DATA);
  if (d == -1 && errno == ENXIO)
    return 0;
  if (d == -1)
    fail ("SEEK_DATA");
  return (uint64_t) d < off + len;
}

static void
read_spec (struct spec *s, void *buf, size_t n, uint64_t off)
{
  memset (buf, 0, n);
  if (off < s->size && pread (s->fd, buf, n, off) < 0)
    fail ("pread");
}

static void
open_out (const char *path)
{
  out_fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (out_fd == -1)
    fail (path);
}

static int
cowd (const char *outp, const char *specp, uint64_t grain)
{
  struct spec s = open_spec (specp);
  uint64_t cap = s.size / 512, gb = grain * 512;
  uint64_t ngrains = (cap + grain - 1) / grain;
  uint64_t ngd = (ngrains + 4095) / 4096;
  uint64_t gd_sectors = (ngd * 4 + 511) / 512;
  unsigned char hdr[2048] = { 0 };
  uint32_t *gd = calloc (ngd, 4);
  unsigned char *gt = malloc (16384), *buf = malloc (gb);

  open_out (outp);
  uint64_t next = 4 + gd_sectors;
  for (uint64_t t = 0; t < ngd; t++) {
    memset (gt, 0, 16384);
    int any = 0;
    uint64_t gt_sector = next;
    for (uint64_t i = 0; i < 4096; i++) {
      uint64_t g = t * 4096 + i;
      if (g >= ngrains || !has_data (&s, g * gb, gb))
        continue;
      if (!any) {
        any = 1;
        next += 32;
      }
      read_spec (&s, buf, gb, g * gb);
      wr (buf, gb, next * 512);
      put32 (gt + i * 4, next);
      next += grain;
    }
    if (any) {
      wr (gt, 16384, gt_sector * 512);
      put32 ((unsigned char *) &gd[t], gt_sector);
    }
  }
  memcpy (hdr, "COWD", 4);
  put32 (hdr + 4, 1);
  put32 (hdr + 8, 3);
  put32 (hdr + 12, cap);
  put32 (hdr + 16, grain);
  put32 (hdr + 20, 4);
  put32 (hdr + 24, ngd);
  put32 (hdr + 28, next);
  wr (hdr, sizeof hdr, 0);
  wr (gd, ngd * 4, 4 * 512);
  if (ftruncate (out_fd, next * 512) == -1)
    fail ("ftruncate");
  free (gd);
  free (gt);
  free (buf);
  close (s.fd);
  return close (out_fd) == 0 ? 0 : 1;
}

#define SES_ZERO   0x2000000000000000ULL
#define SES_UNMAP  0x1000000000000000ULL

static int
sesparse (const char *outp, const char *specp, char **mods, int nmods)
{
  struct spec s = open_spec (specp);
  uint64_t cap = s.size / 512, ngrains = (cap + 7) / 8;
  uint64_t ngt = (ngrains + 4095) / 4096;
  uint64_t gd_off = 8, gd_size = (ngt * 8 + 511) / 512;
  uint64_t gt_off = gd_off + gd_size, gt_size = ngt * 64;
  uint64_t grains_off = gt_off + gt_size;
  uint64_t *gte = calloc (ngt * 4096, 8);
  unsigned char buf[4096], head[512] = { 0 }, vol[512] = { 0 };
  int dirty = 0;

  open_out (outp);
  uint64_t gi = 0;
  for (uint64_t g = 0; g < ngrains; g++) {
    if (!has_data (&s, g * 4096, 4096))
      continue;
    read_spec (&s, buf, 4096, g * 4096);
    wr (buf, 4096, (grains_off + gi * 8) * 512);
    gte[g] = 0x3000000000000000ULL | ((gi & 0xfff) << 48) | (gi >> 12);
    gi++;
  }
  for (int i = 0; i < nmods; i++) {
    unsigned long long off, len;
    if (strcmp (mods[i], "dirty") == 0)
      dirty = 1;
    else if (sscanf (mods[i], "zero=%llu:%llu", &off, &len) == 2)
      for (uint64_t g = off / 4096; g < (off + len) / 4096; g++)
        gte[g] = SES_ZERO;
    else if (sscanf (mods[i], "unmap=%llu:%llu", &off, &len) == 2)
      /* An unmapped entry still names its old grain. */
      for (uint64_t g = off / 4096; g < (off + len) / 4096; g++)
        gte[g] = SES_UNMAP | (gte[g] & 0x0fffffffffffffffULL);
    else {
      fprintf (stderr, "vmdk-gen: bad modifier %s\n", mods[i]);
      exit (2);
    }
  }
  for (uint64_t t = 0; t < ngt; t++) {
    unsigned char gdent[8], table[32768];
    int any = 0;
    for (int i = 0; i < 4096; i++) {
      put64 (table + i * 8, gte[t * 4096 + i]);
      any |= gte[t * 4096 + i] != 0;
    }
    if (!any)
      continue;
    put64 (gdent, 0x1000000000000000ULL | t);
    wr (gdent, 8, gd_off * 512 + t * 8);
    wr (table, sizeof table, (gt_off + t * 64) * 512);
  }
  uint64_t f[26] = { 0xcafebabeULL, 0x200000001ULL, cap, 8, 64, 0, 0, 0, 0, 0,
                     1, 1, 2, 1, 3, 5, gd_off, gd_size, gt_off, gt_size,
                     0, 0, 0, 0, grains_off, gi * 8 };
  for (int i = 0; i < 26; i++)
    put64 (head + i * 8, f[i]);
  wr (head, 512, 0);
  put64 (vol, 0xcafecafeULL);
  put64 (vol + 8, ngt);
  put64 (vol + 24, dirty);
  wr (vol, 512, 512);
  uint64_t end = (grains_off + gi * 8) * 512;
  if (ftruncate (out_fd, end) == -1)
    fail ("ftruncate");
  free (gte);
  close (s.fd);
  return close (out_fd) == 0 ? 0 : 1;
}

static void
marker (uint64_t val, uint32_t type, uint64_t *pos)
{
  unsigned char m[512] = { 0 };
  put64 (m, val);
  put32 (m + 12, type);
  wr (m, 512, *pos);
  *pos += 512;
}

static void
kdmv_header (unsigned char *h, uint64_t cap, uint64_t gd)
{
  memset (h, 0, 512);
  memcpy (h, "KDMV", 4);
  put32 (h + 4, 3);
  put32 (h + 8, 0x30001);
  put64 (h + 12, cap);
  put64 (h + 20, 128);
  put64 (h + 28, 1);
  put64 (h + 36, 20);
  put32 (h + 44, 512);
  put64 (h + 56, gd);
  put64 (h + 64, 128);
  memcpy (h + 73, "\n \r\n", 4);
  h[77] = 1;
}

static int
stream (const char *outp, const char *specp)
{
  struct spec s = open_spec (specp);
  uint64_t cap = s.size / 512, gb = 65536, ngrains = (cap + 127) / 128;
  uint64_t ngt = (ngrains + 511) / 512;
  uint64_t gd_sectors = (ngt * 4 + 511) / 512;
  uint32_t *gd = calloc (gd_sectors * 128, 4);
  unsigned char h[512], desc[20 * 512] = { 0 }, gt[2048];
  unsigned char *buf = malloc (gb), *z = malloc (compressBound (gb) + 512);
  uint64_t pos = 128 * 512;

  open_out (outp);
  snprintf ((char *) desc, sizeof desc,
            "# Disk DescriptorFile\nversion=1\nCID=1234abcd\n"
            "parentCID=ffffffff\ncreateType=\"streamOptimized\"\n\n"
            "# Extent description\nRDONLY %llu SPARSE \"generated-stream.vmdk\"\n"
            "\n# The Disk Data Base\n#DDB\n\nddb.virtualHWVersion = \"8\"\n",
            (unsigned long long) cap);
  wr (desc, sizeof desc, 512);
  for (uint64_t t = 0; t < ngt; t++) {
    memset (gt, 0, sizeof gt);
    int any = 0;
    for (uint64_t i = 0; i < 512; i++) {
      uint64_t g = t * 512 + i;
      if (g >= ngrains || !has_data (&s, g * gb, gb))
        continue;
      uint64_t n = cap * 512 - g * gb < gb ? cap * 512 - g * gb : gb;
      read_spec (&s, buf, n, g * gb);
      uLongf zlen = compressBound (gb);
      if (compress2 (z + 12, &zlen, buf, n, 6) != Z_OK)
        fail ("compress2");
      put64 (z, g * 128);
      put32 (z + 8, zlen);
      size_t rec = (12 + zlen + 511) / 512 * 512;
      memset (z + 12 + zlen, 0, rec - 12 - zlen);
      put32 (gt + i * 4, pos / 512);
      wr (z, rec, pos);
      pos += rec;
      any = 1;
      /* The undocumented progress marker vSphere writes now and then. */
      if (g == ngrains / 2)
        marker (0, 4, &pos);
    }
    if (any) {
      marker (4, 1, &pos);
      gd[t] = pos / 512;
      wr (gt, sizeof gt, pos);
      pos += sizeof gt;
    }
  }
  marker (gd_sectors, 2, &pos);
  uint64_t gd_sector = pos / 512;
  unsigned char *gdb = calloc (gd_sectors, 512);
  for (uint64_t t = 0; t < ngt; t++)
    put32 (gdb + t * 4, gd[t]);
  wr (gdb, gd_sectors * 512, pos);
  pos += gd_sectors * 512;
  marker (1, 3, &pos);
  kdmv_header (h, cap, gd_sector);
  wr (h, 512, pos);
  pos += 512;
  marker (0, 0, &pos);
  kdmv_header (h, cap, UINT64_MAX);
  wr (h, 512, 0);
  free (gd);
  free (gdb);
  free (buf);
  free (z);
  close (s.fd);
  return close (out_fd) == 0 ? 0 : 1;
}

static int
compressed (const char *outp, const char *specp)
{
  struct spec s = open_spec (specp);
  uint64_t cap = s.size / 512, gb = 65536, ngrains = (cap + 127) / 128;
  uint64_t ngt = (ngrains + 511) / 512;
  uint64_t gd_sectors = (ngt * 4 + 511) / 512;
  uint64_t gd = 21, gts = gd + gd_sectors, pos = (gts + ngt * 4) * 512;
  unsigned char h[512], *tables = calloc (ngt, 2048), *gdb = calloc (gd_sectors, 512);
  unsigned char *buf = malloc (gb), *z = malloc (compressBound (gb) + 512);

  open_out (outp);
  for (uint64_t g = 0; g < ngrains; g++) {
    if (!has_data (&s, g * gb, gb))
      continue;
    uint64_t n = cap * 512 - g * gb < gb ? cap * 512 - g * gb : gb;
    read_spec (&s, buf, n, g * gb);
    uLongf zlen = compressBound (gb);
    if (compress2 (z + 4, &zlen, buf, n, 1) != Z_OK)
      fail ("compress2");
    put32 (z, zlen);
    size_t rec = (4 + zlen + 511) / 512 * 512;
    memset (z + 4 + zlen, 0, rec - 4 - zlen);
    put32 (tables + g * 4, pos / 512);
    wr (z, rec, pos);
    pos += rec;
  }
  for (uint64_t t = 0; t < ngt; t++)
    put32 (gdb + t * 4, gts + t * 4);
  wr (gdb, gd_sectors * 512, gd * 512);
  wr (tables, ngt * 2048, gts * 512);
  kdmv_header (h, cap, gd);
  put32 (h + 4, 1);
  put32 (h + 8, 0x10001);
  put64 (h + 28, 0);
  put64 (h + 36, 0);
  wr (h, 512, 0);
  if (ftruncate (out_fd, pos) == -1)
    fail ("ftruncate");
  free (tables);
  free (gdb);
  free (buf);
  free (z);
  close (s.fd);
  return close (out_fd) == 0 ? 0 : 1;
}

int
main (int argc, char *argv[])
{
  if (argc >= 4 && strcmp (argv[1], "cowd") == 0)
    return cowd (argv[2], argv[3], argc > 4 ? strtoull (argv[4], NULL, 10) : 1);
  if (argc >= 4 && strcmp (argv[1], "sesparse") == 0)
    return sesparse (argv[2], argv[3], argv + 4, argc - 4);
  if (argc == 4 && strcmp (argv[1], "stream") == 0)
    return stream (argv[2], argv[3]);
  if (argc == 4 && strcmp (argv[1], "compressed") == 0)
    return compressed (argv[2], argv[3]);
  fprintf (stderr, "usage: vmdk-gen cowd|sesparse|stream|compressed OUT SPEC [...]\n");
  return 2;
}
