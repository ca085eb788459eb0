/* VHD (Microsoft Virtual PC / Hyper-V) reader: fixed, dynamic and
 * differencing disks.  docs/formats.md section 7.1.
 *
 * A fixed disk is the raw disk followed by a 512-byte footer.  Dynamic and
 * differencing disks keep a copy of the footer at offset 0, a dynamic
 * header, a BAT of big-endian sector numbers, and blocks that start with a
 * sector bitmap.  Only differencing disks consult the bitmap (a 0 bit
 * means "read the parent"), as QEMU and Windows do; in a dynamic disk an
 * allocated block is data as a whole.
 *
 * The BAT is read through a small cache of one chunk, so memory does not
 * grow with the disk size.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bdev.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "vhd-util.h"
#include "util/xio.h"

#define VHD_SECTOR 512
#define VHD_FOOTER_SIZE 512
#define VHD_DYNHDR_SIZE 1024
#define VHD_TYPE_FIXED 2
#define VHD_TYPE_DYNAMIC 3
#define VHD_TYPE_DIFF 4
#define VHD_BAT_UNUSED 0xffffffffU
/* QEMU's VHD_MAX_SECTORS: the format's limit is 2040 GiB. */
#define VHD_MAX_SIZE (UINT64_C (0xff000000) * VHD_SECTOR)
#define VHD_MAX_BLOCK_SIZE (256U << 20)
#define VHD_MAX_LOCATOR_DATA 65536
/* BAT entries read at a time. */
#define BAT_CHUNK 16384

struct vhd {
  int fd;
  uint64_t filesize;
  uint32_t type;
  unsigned char uuid[16];

  /* Dynamic and differencing disks. */
  uint32_t block_size;
  uint32_t bitmap_size;          /* bytes before each block's data */
  uint64_t header_offset;        /* of the dynamic header */
  uint64_t bat_offset;
  uint64_t nblocks;
  unsigned char parent_uuid[16];
  uint32_t *bat;                 /* one chunk of BAT_CHUNK entries */
  uint64_t bat_chunk;            /* which chunk, or UINT64_MAX */
  unsigned char *bitmap;         /* differencing: one block's bitmap */
  uint64_t bitmap_block;         /* which block, or UINT64_MAX */
};

static uint32_t
be32 (const unsigned char *p)
{
  return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t
be64 (const unsigned char *p)
{
  return (uint64_t) be32 (p) << 32 | be32 (p + 4);
}

/* The checksum of the footer and the dynamic header: the one's
 * complement of the byte sum, with the checksum field counted as 0. */
static uint32_t
vhd_checksum (const unsigned char *p, size_t len, size_t csum_off)
{
  uint32_t sum = 0;
  for (size_t i = 0; i < len; i++)
    if (i < csum_off || i >= csum_off + 4)
      sum += p[i];
  return ~sum;
}

static bool
footer_valid (const unsigned char *f)
{
  return memcmp (f, "conectix", 8) == 0
    && be32 (f + 64) == vhd_checksum (f, VHD_FOOTER_SIZE, 64);
}

static int
vhd_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  unsigned char f[VHD_FOOTER_SIZE];

  if (len >= 8 && memcmp (head, "conectix", 8) == 0)
    return 100;
  /* A fixed VHD has only its footer, at the end.  Insist on a valid
   * checksum and a sane type and size, so that a raw disk whose last
   * sector merely starts with "conectix" stays raw. */
  if (filesize < VHD_FOOTER_SIZE
      || h2k_pread_full (fd, f, sizeof f, filesize - VHD_FOOTER_SIZE) != sizeof f)
    return 0;
  if (footer_valid (f) && be32 (f + 60) == VHD_TYPE_FIXED
      && be64 (f + 48) <= filesize - VHD_FOOTER_SIZE)
    return 100;
  return 0;
}

/* Guest size: CHS for images made by Virtual PC and QEMU's old "vpc"
 * driver (they round to the geometry and show only that much), the
 * current_size field for everything else and for the maximal geometry. */
static uint64_t
footer_size (const unsigned char *f)
{
  uint64_t cyls = (f[56] << 8) | f[57], heads = f[58], secs = f[59];
  bool max_geometry = cyls == 65535 && heads == 16 && secs == 255;
  if ((memcmp (f + 28, "vpc ", 4) == 0 || memcmp (f + 28, "qemu", 4) == 0)
      && !max_geometry)
    return cyls * heads * secs * VHD_SECTOR;
  return be64 (f + 48);
}

static void
format_uuid (char out[37], const unsigned char *u)
{
  snprintf (out, 37,
            "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
            u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int
load_bat_chunk (struct h2k_bdev *bd, uint64_t chunk)
{
  struct vhd *v = bd->data;
  uint64_t first = chunk * BAT_CHUNK;
  uint64_t n = v->nblocks - first < BAT_CHUNK ? v->nblocks - first : BAT_CHUNK;

  v->bat_chunk = UINT64_MAX;
  if (h2k_pread_exact (v->fd, v->bat, n * 4, v->bat_offset + first * 4,
                       bd->path) == -1)
    return h2k_seterr_prefix ("%s: reading the BAT", bd->path);
  for (uint64_t i = 0; i < n; i++)
    v->bat[i] = be32toh (v->bat[i]);
  v->bat_chunk = chunk;
  return 0;
}

/* The file offset of block B's bitmap, or 0 when the block is not
 * allocated.  Entries are checked against the file size here, so a lying
 * BAT fails cleanly. */
static int
bat_get (struct h2k_bdev *bd, uint64_t b, uint64_t *off)
{
  struct vhd *v = bd->data;
  if (b / BAT_CHUNK != v->bat_chunk && load_bat_chunk (bd, b / BAT_CHUNK) == -1)
    return -1;
  uint32_t e = v->bat[b % BAT_CHUNK];
  if (e == VHD_BAT_UNUSED) {
    *off = 0;
    return 0;
  }
  uint64_t start = (uint64_t) e * VHD_SECTOR;
  uint64_t blen = bd->size - b * v->block_size < v->block_size
    ? bd->size - b * v->block_size : v->block_size;
  if (start < VHD_SECTOR || start + v->bitmap_size + blen > v->filesize)
    return h2k_seterr ("%s: BAT entry %" PRIu64 " points outside the file (sector %" PRIu32 ", file size %" PRIu64 ")",
                       bd->path, b, e, v->filesize);
  *off = start;
  return 0;
}

static int
get_bitmap (struct h2k_bdev *bd, uint64_t b, uint64_t off)
{
  struct vhd *v = bd->data;
  if (v->bitmap_block == b)
    return 0;
  v->bitmap_block = UINT64_MAX;
  if (h2k_pread_exact (v->fd, v->bitmap, v->bitmap_size, off, bd->path) == -1)
    return -1;
  v->bitmap_block = b;
  return 0;
}

/* Sector S of the current bitmap: MSB-first. */
static bool
bitmap_bit (const unsigned char *bm, uint64_t s)
{
  return bm[s / 8] & (0x80 >> (s % 8));
}

/* A file URL ("file://./parent.vhd", "file:///dir/parent%20a.vhd") made
 * into a path, in place. */
static void
url_to_path (char *s)
{
  const char *p = strncmp (s, "file://", 7) == 0 ? s + 7 : s;
  char *w = s;
  for (; *p; p++) {
    unsigned hex;
    if (p[0] == '%' && p[1] && p[2] && sscanf (p + 1, "%2x", &hex) == 1
        && hex != 0) {
      *w++ = (char) hex;
      p += 2;
    }
    else
      *w++ = *p;
  }
  *w = '\0';
}

/* Parent locators: prefer the relative path, fall back to the absolute
 * one's file name in the child's directory. */
static int
read_locators (struct h2k_bdev *bd, const unsigned char *dh)
{
  struct vhd *v = bd->data;
  CLEANUP_FREE char *rel = NULL;
  CLEANUP_FREE char *abs = NULL;
  CLEANUP_FREE char *name = h2k_utf16_to_utf8 (dh + 64, 512, true);

  if (name == NULL)
    return h2k_seterr_prefix ("%s: parent name", bd->path);

  for (int i = 0; i < 8; i++) {
    const unsigned char *l = dh + 576 + i * 24;
    uint32_t code = be32 (l);
    uint32_t dlen = be32 (l + 8);
    uint64_t doff = be64 (l + 16);
    bool utf16 = code == 0x57327275 /* W2ru */ || code == 0x57326b75 /* W2ku */;
    bool ascii = code == 0x57693272 /* Wi2r */ || code == 0x5769326b /* Wi2k */;
    bool macx = code == 0x4d616358;  /* MacX: a UTF-8 file URL (Xen's vhd-util) */
    bool relative = code == 0x57327275 || code == 0x57693272;

    if (!utf16 && !ascii && !macx)
      continue;   /* unused, or the old "Mac " alias records */
    if (dlen == 0 || dlen > VHD_MAX_LOCATOR_DATA || doff > v->filesize
        || dlen > v->filesize - doff)
      return h2k_seterr ("%s: parent locator %d is out of bounds (offset %" PRIu64 ", length %" PRIu32 ")",
                         bd->path, i, doff, dlen);
    CLEANUP_FREE unsigned char *data = malloc (dlen + 1);
    if (data == NULL)
      return h2k_seterr ("%s: out of memory", bd->path);
    if (h2k_pread_exact (v->fd, data, dlen, doff, bd->path) == -1)
      return -1;
    char *s;
    if (utf16)
      s = h2k_utf16_to_utf8 (data, dlen, false);
    else {
      data[dlen] = '\0';
      s = strdup ((char *) data);
      if (s == NULL)
        h2k_seterr ("out of memory");
    }
    if (s == NULL)
      return h2k_seterr_prefix ("%s: parent locator %d", bd->path, i);
    if (macx) {
      url_to_path (s);
      relative = s[0] != '/';
    }
    if (s[0] == '\0')
      free (s);
    else if (relative && rel == NULL)
      rel = s;
    else if (!relative && abs == NULL)
      abs = s;
    else
      free (s);
  }

  const char *last = abs ? abs : rel ? rel : name;
  if (last[0] == '\0')
    return h2k_seterr ("%s: differencing disk names no parent", bd->path);

  CLEANUP_FREE char *base = h2k_windows_path (h2k_windows_basename (last));
  if (base == NULL)
    return -1;
  bd->parent_alt = h2k_path_relative_to (bd->path, base);
  if (bd->parent_alt == NULL)
    return -1;
  if (rel) {
    CLEANUP_FREE char *p = h2k_windows_path (rel);
    if (p == NULL)
      return -1;
    bd->parent_path = h2k_path_relative_to (bd->path, p);
  }
  else if (abs && !h2k_windows_path_is_absolute (abs))
    bd->parent_path = h2k_windows_path (abs);
  else
    bd->parent_path = strdup (bd->parent_alt);
  if (bd->parent_path == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  return 0;
}

static int
open_dynamic (struct h2k_bdev *bd, const unsigned char *f)
{
  struct vhd *v = bd->data;
  unsigned char dh[VHD_DYNHDR_SIZE];
  uint64_t hoff = be64 (f + 16);

  if (hoff > v->filesize || v->filesize - hoff < VHD_DYNHDR_SIZE)
    return h2k_seterr ("%s: dynamic header offset %" PRIu64 " is beyond the end of the file",
                       bd->path, hoff);
  if (h2k_pread_exact (v->fd, dh, sizeof dh, hoff, bd->path) == -1)
    return -1;
  if (memcmp (dh, "cxsparse", 8) != 0)
    return h2k_seterr ("%s: dynamic header has no \"cxsparse\" cookie", bd->path);
  if (be32 (dh + 36) != vhd_checksum (dh, sizeof dh, 36))
    return h2k_seterr ("%s: dynamic header checksum mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                       bd->path, be32 (dh + 36), vhd_checksum (dh, sizeof dh, 36));

  v->header_offset = hoff;
  v->bat_offset = be64 (dh + 16);
  uint32_t max_entries = be32 (dh + 28);
  v->block_size = be32 (dh + 32);
  if (v->block_size < VHD_SECTOR || v->block_size > VHD_MAX_BLOCK_SIZE
      || (v->block_size & (v->block_size - 1)))
    return h2k_seterr ("%s: invalid block size %" PRIu32, bd->path, v->block_size);
  if (bd->size > VHD_MAX_SIZE)
    return h2k_seterr ("%s: disk size %" PRIu64 " is larger than the VHD limit of 2040 GiB",
                       bd->path, bd->size);
  v->nblocks = (bd->size + v->block_size - 1) / v->block_size;
  if (max_entries < v->nblocks)
    return h2k_seterr ("%s: BAT has %" PRIu32 " entries, too few for a disk of %" PRIu64 " bytes",
                       bd->path, max_entries, bd->size);
  if (v->bat_offset > v->filesize || v->filesize - v->bat_offset < v->nblocks * 4)
    return h2k_seterr ("%s: BAT (offset %" PRIu64 ", %" PRIu64 " entries) extends beyond the end of the file",
                       bd->path, v->bat_offset, v->nblocks);
  /* One bit per sector, rounded up to whole sectors. */
  v->bitmap_size = ((v->block_size / VHD_SECTOR + 7) / 8 + VHD_SECTOR - 1)
    / VHD_SECTOR * VHD_SECTOR;

  v->bat = malloc (BAT_CHUNK * sizeof *v->bat);
  v->bitmap = malloc (v->bitmap_size);
  if (v->bat == NULL || v->bitmap == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  v->bat_chunk = v->bitmap_block = UINT64_MAX;

  /* Check every BAT entry now, so that a lying table fails at open and
   * not halfway through a conversion. */
  for (uint64_t b = 0; b < v->nblocks; b++) {
    uint64_t off;
    if (bat_get (bd, b, &off) == -1)
      return -1;
  }

  if (v->type == VHD_TYPE_DIFF) {
    memcpy (v->parent_uuid, dh + 40, 16);
    if (read_locators (bd, dh) == -1)
      return -1;
  }
  return 0;
}

static int
vhd_open (struct h2k_bdev *bd, int fd, unsigned flags)
{
  unsigned char f[VHD_FOOTER_SIZE], head[VHD_FOOTER_SIZE];
  off_t end = lseek (fd, 0, SEEK_END);
  struct vhd *v;

  if (end < 0)
    return h2k_seterr ("%s: %m", bd->path);
  if ((uint64_t) end < VHD_FOOTER_SIZE)
    return h2k_seterr ("%s: file too small for a VHD footer", bd->path);
  v = calloc (1, sizeof *v);
  if (v == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  bd->data = v;
  v->fd = -1;
  v->filesize = end;

  /* The footer at the end is authoritative; dynamic disks keep a copy at
   * offset 0 which helps when the end was damaged (or cut off). */
  if (h2k_pread_exact (fd, f, sizeof f, v->filesize - VHD_FOOTER_SIZE, bd->path) == -1
      || h2k_pread_exact (fd, head, sizeof head, 0, bd->path) == -1)
    goto fail;
  if (!footer_valid (f)) {
    if (memcmp (head, "conectix", 8) == 0 && footer_valid (head)
        && be32 (head + 60) != VHD_TYPE_FIXED)
      memcpy (f, head, sizeof f);
    else if (memcmp (f, "conectix", 8) == 0 || memcmp (head, "conectix", 8) == 0) {
      const unsigned char *p = memcmp (f, "conectix", 8) == 0 ? f : head;
      h2k_seterr ("%s: VHD footer checksum mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                  bd->path, be32 (p + 64), vhd_checksum (p, VHD_FOOTER_SIZE, 64));
      goto fail;
    }
    else {
      h2k_seterr ("%s: no VHD footer (\"conectix\") found", bd->path);
      goto fail;
    }
  }
  v->type = be32 (f + 60);
  memcpy (v->uuid, f + 68, 16);
  bd->size = footer_size (f);

  switch (v->type) {
  case VHD_TYPE_FIXED:
    if (bd->size > v->filesize - VHD_FOOTER_SIZE) {
      h2k_seterr ("%s: fixed VHD claims %" PRIu64 " bytes but the file holds only %" PRIu64,
                  bd->path, bd->size, v->filesize - VHD_FOOTER_SIZE);
      goto fail;
    }
    break;
  case VHD_TYPE_DYNAMIC:
  case VHD_TYPE_DIFF:
    v->fd = fd;
    if (open_dynamic (bd, f) == -1) {
      v->fd = -1;
      goto fail;
    }
    break;
  default:
    h2k_seterr ("%s: unsupported VHD disk type %" PRIu32, bd->path, v->type);
    goto fail;
  }
  v->fd = fd;
  return 0;

 fail:
  free (v->bat);
  free (v->bitmap);
  free (v);
  bd->data = NULL;
  free (bd->parent_path);
  free (bd->parent_alt);
  bd->parent_path = bd->parent_alt = NULL;
  return -1;
}

/* Visit [offset, offset+length) block by block, calling FN for runs of
 * one kind: DATA (with its file offset), or HOLE. */
typedef int (*run_fn) (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
                       enum h2k_extent_type type, uint64_t fileoff, void *opaque);

static int
walk (struct h2k_bdev *bd, uint64_t offset, uint64_t length, run_fn fn,
      void *opaque)
{
  struct vhd *v = bd->data;
  uint64_t end = offset + length;

  if (v->type == VHD_TYPE_FIXED)
    return fn (bd, offset, length, H2K_EXTENT_DATA, offset, opaque);

  while (offset < end) {
    uint64_t b = offset / v->block_size;
    uint64_t bstart = b * v->block_size;
    uint64_t bend = bstart + v->block_size < end ? bstart + v->block_size : end;
    uint64_t boff;

    if (bat_get (bd, b, &boff) == -1)
      return -1;
    if (boff == 0) {
      if (fn (bd, offset, bend - offset, H2K_EXTENT_HOLE, 0, opaque) == -1)
        return -1;
    }
    else if (v->type == VHD_TYPE_DYNAMIC) {
      if (fn (bd, offset, bend - offset, H2K_EXTENT_DATA,
              boff + v->bitmap_size + (offset - bstart), opaque) == -1)
        return -1;
    }
    else {
      if (get_bitmap (bd, b, boff) == -1)
        return -1;
      /* Runs of sectors with the same bit. */
      uint64_t p = offset;
      while (p < bend) {
        uint64_t s = (p - bstart) / VHD_SECTOR;
        bool bit = bitmap_bit (v->bitmap, s);
        uint64_t q = bstart + (s + 1) * VHD_SECTOR;
        while (q < bend && bitmap_bit (v->bitmap, (q - bstart) / VHD_SECTOR) == bit)
          q += VHD_SECTOR;
        if (q > bend)
          q = bend;
        if (fn (bd, p, q - p, bit ? H2K_EXTENT_DATA : H2K_EXTENT_HOLE,
                boff + v->bitmap_size + (p - bstart), opaque) == -1)
          return -1;
        p = q;
      }
    }
    offset = bend;
  }
  return 0;
}

struct read_ctx {
  char *buf;
  uint64_t start;     /* the guest offset of BUF[0] */
};

static int
read_run (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
          enum h2k_extent_type type, uint64_t fileoff, void *opaque)
{
  struct vhd *v = bd->data;
  struct read_ctx *ctx = opaque;
  char *buf = ctx->buf + (offset - ctx->start);

  if (type != H2K_EXTENT_DATA) {
    memset (buf, 0, length);
    return 0;
  }
  return h2k_pread_exact (v->fd, buf, length, fileoff, bd->path);
}

static int
vhd_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct read_ctx ctx = { buf, offset };
  return walk (bd, offset, count, read_run, &ctx);
}

static int
extent_run (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
            enum h2k_extent_type type, uint64_t fileoff, void *opaque)
{
  struct vhd *v = bd->data;
  /* Allocated sectors the file holds as holes read as zeros. */
  if (type == H2K_EXTENT_DATA)
    return h2k_host_extents (v->fd, bd->path, fileoff, length, offset, opaque);
  return h2k_bdev_add_extent (opaque, offset, length, type);
}

/* Fixed disks are raw files: their holes read as zeros. */
static int
fixed_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
               struct h2k_extent_vector *out)
{
  struct vhd *v = bd->data;
  return h2k_host_extents (v->fd, bd->path, offset, length, offset, out);
}

static int
vhd_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
             struct h2k_extent_vector *out)
{
  struct vhd *v = bd->data;
  if (v->type == VHD_TYPE_FIXED)
    return fixed_extents (bd, offset, length, out);
  return walk (bd, offset, length, extent_run, out);
}

/* Deep check: no two structures of the file (footer copy, dynamic
 * header, BAT, blocks) overlap.  The BAT entries themselves were checked
 * at open.  Needs one range per allocated block, as much as the BAT. */
static int
vhd_check (struct h2k_bdev *bd)
{
  struct vhd *v = bd->data;
  if (v->type == VHD_TYPE_FIXED)
    return 0;

  struct h2k_file_range *r = malloc ((v->nblocks + 4) * sizeof *r);
  size_t n = 0;
  if (r == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  r[n++] = (struct h2k_file_range) { 0, VHD_FOOTER_SIZE, -1 };
  r[n++] = (struct h2k_file_range) { v->header_offset, v->header_offset + VHD_DYNHDR_SIZE, -2 };
  r[n++] = (struct h2k_file_range) { v->bat_offset, v->bat_offset + v->nblocks * 4, -3 };
  r[n++] = (struct h2k_file_range) { v->filesize - VHD_FOOTER_SIZE, v->filesize, -4 };
  for (uint64_t b = 0; b < v->nblocks; b++) {
    uint64_t off;
    if (bat_get (bd, b, &off) == -1) {
      free (r);
      return -1;
    }
    if (off) {
      uint64_t blen = bd->size - b * v->block_size < v->block_size
        ? bd->size - b * v->block_size : v->block_size;
      r[n++] = (struct h2k_file_range) { off, off + v->bitmap_size + blen, (int64_t) b };
    }
  }
  static const char *const what[] = { "", "the footer copy", "the dynamic header", "the BAT", "the footer" };
  int ret = h2k_check_no_overlap (bd->path, r, n, what);
  free (r);
  return ret;
}

extern const struct h2k_bdev_ops h2k_vhd_ops;

static int
vhd_check_parent (struct h2k_bdev *child, struct h2k_bdev *parent,
                  unsigned flags)
{
  struct vhd *c = child->data;
  char want[37], got[37];

  if (flags & H2K_OPEN_IGNORE_PARENT_ID)
    return 0;
  if (h2k_parent_same_format (child, parent, &h2k_vhd_ops, "VHD") == -1)
    return -1;
  struct vhd *p = parent->data;
  if (memcmp (c->parent_uuid, p->uuid, 16) != 0) {
    format_uuid (want, c->parent_uuid);
    format_uuid (got, p->uuid);
    h2k_seterr ("%s: parent %s has UUID %s, expected %s",
                child->path, parent->path, got, want);
    return h2k_seterr_code (H2K_ERR_PARENT_ID);
  }
  return 0;
}

static void
vhd_close (struct h2k_bdev *bd)
{
  struct vhd *v = bd->data;
  if (v) {
    if (v->fd >= 0)
      close (v->fd);
    free (v->bat);
    free (v->bitmap);
    free (v);
  }
}

const struct h2k_bdev_ops h2k_vhd_ops = {
  .name = "vhd",
  .probe = vhd_probe,
  .open = vhd_open,
  .pread = vhd_pread,
  .extents = vhd_extents,
  .check_parent = vhd_check_parent,
  .check = vhd_check,
  .close = vhd_close,
};
