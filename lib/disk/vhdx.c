/* VHDX (Hyper-V) reader: fixed, dynamic and differencing disks, with the
 * log replayed in memory.  docs/formats.md section 7.2, MS-VHDX.
 *
 * Every structure with a checksum is checked (CRC-32C of the headers and
 * the region table, and of the log entries in vhdx-log.c); regions and
 * metadata items marked required that this reader does not know make it
 * refuse the file, as the specification demands.  The BAT is read
 * through a one-chunk cache, so memory does not grow with the disk size.
 */
#include <endian.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bdev.h"
#include "util/cleanup.h"
#include "util/crc32c.h"
#include "util/die.h"
#include "vhd-util.h"
#include "vhdx.h"
#include "util/xio.h"

#define MiB (UINT64_C (1) << 20)
#define HEADER1_OFFSET (64 * 1024)
#define HEADER2_OFFSET (128 * 1024)
#define HEADER_SIZE 4096
#define REGION1_OFFSET (192 * 1024)
#define REGION2_OFFSET (256 * 1024)
#define REGION_SIZE (64 * 1024)
#define METADATA_TABLE_SIZE (64 * 1024)
#define MAX_TABLE_ENTRIES 2047
#define MAX_DISK_SIZE (UINT64_C (64) << 40)
#define BAT_CHUNK 8192

#define GUID_BAT       "2dc27766-f623-4200-9d64-115e9bfd4a08"
#define GUID_METADATA  "8b7ca206-4790-4b9a-b8fe-575f050f886e"
#define GUID_FILE_PARAMETERS "caa16737-fa36-4d43-b3b6-33f0aa44e76b"
#define GUID_DISK_SIZE "2fa54224-cd1b-4876-b211-5dbed83bf4b8"
#define GUID_DISK_ID   "beca12ab-b2e6-4523-93ef-c309e000c746"
#define GUID_LOGICAL_SECTOR  "8141bf1d-a96f-4709-ba47-f233a8faab5f"
#define GUID_PHYSICAL_SECTOR "cda348c7-445d-4471-9cc9-e9885251c556"
#define GUID_PARENT_LOCATOR  "a8d35f2d-b30b-454d-abf7-d3d84834ab0c"
#define GUID_VHDX_LOCATOR_TYPE "b04aefb7-d19e-4a81-b789-25b8e9445913"

/* Payload block states. */
enum {
  PAYLOAD_NOT_PRESENT = 0, PAYLOAD_UNDEFINED = 1, PAYLOAD_ZERO = 2,
  PAYLOAD_UNMAPPED = 3, PAYLOAD_UNMAPPED_V095 = 5,
  PAYLOAD_FULLY_PRESENT = 6, PAYLOAD_PARTIALLY_PRESENT = 7,
};
#define SB_BLOCK_PRESENT 6
#define BAT_STATE(e) ((e) & 7)
#define BAT_OFFSET(e) ((e) & UINT64_C (0xfffffffffff00000))

struct vhdx {
  struct h2k_vhdx_file f;
  unsigned char data_write_guid[16];
  uint32_t block_size;
  uint32_t sector_size;          /* logical */
  uint64_t chunk_ratio;
  bool has_parent;
  bool replayed;
  uint64_t nblocks;
  uint64_t bat_offset;
  uint32_t bat_length;
  uint64_t meta_offset, log_offset;
  uint32_t meta_length, log_length;
  uint64_t bat_entries;
  uint64_t *bat;                 /* one chunk */
  uint64_t bat_chunk;            /* which, or UINT64_MAX */
  unsigned char *bitmap;         /* differencing: one block's bitmap */
  uint64_t bitmap_block;         /* which, or UINT64_MAX */
  char *parent_linkage;
  char *parent_linkage2;
};

static uint16_t
le16 (const unsigned char *p)
{
  return p[0] | p[1] << 8;
}

static uint32_t
le32 (const unsigned char *p)
{
  return (uint32_t) le16 (p) | (uint32_t) le16 (p + 2) << 16;
}

static uint64_t
le64 (const unsigned char *p)
{
  return (uint64_t) le32 (p) | (uint64_t) le32 (p + 4) << 32;
}

/* A GUID in Microsoft's binary form, as lowercase text. */
static void
format_guid (char out[37], const unsigned char *g)
{
  snprintf (out, 37, "%08" PRIx32 "-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
            le32 (g), le16 (g + 4), le16 (g + 6), g[8], g[9], g[10], g[11],
            g[12], g[13], g[14], g[15]);
}

static bool
guid_is (const unsigned char *g, const char *text)
{
  char s[37];
  format_guid (s, g);
  return strcmp (s, text) == 0;
}

static bool
checksum_ok (unsigned char *buf, size_t len, size_t off)
{
  uint32_t stored = le32 (buf + off);
  memset (buf + off, 0, 4);
  uint32_t crc = h2k_crc32c (0, buf, len);
  memcpy (buf + off, &(uint32_t) { htole32 (stored) }, 4);
  return crc == stored;
}

static int
vhdx_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  return len >= 8 && memcmp (head, "vhdxfile", 8) == 0 ? 100 : 0;
}

/* The current header: the valid one with the higher sequence number. */
static int
read_headers (struct h2k_bdev *bd, unsigned char *cur)
{
  struct vhdx *v = bd->data;
  unsigned char h[2][HEADER_SIZE];
  bool ok[2];
  const uint64_t offs[2] = { HEADER1_OFFSET, HEADER2_OFFSET };

  for (int i = 0; i < 2; i++) {
    if (h2k_pread_exact (v->f.fd, h[i], HEADER_SIZE, offs[i], bd->path) == -1)
      return h2k_seterr_prefix ("%s: reading VHDX header %d", bd->path, i + 1);
    ok[i] = memcmp (h[i], "head", 4) == 0 && checksum_ok (h[i], HEADER_SIZE, 4);
  }
  if (!ok[0] && !ok[1])
    return h2k_seterr ("%s: no valid VHDX header (both copies have a bad signature or CRC-32C)",
                       bd->path);
  int c = !ok[0] ? 1 : !ok[1] ? 0 : le64 (h[1] + 8) > le64 (h[0] + 8);
  memcpy (cur, h[c], HEADER_SIZE);
  if (le16 (cur + 66) != 1)
    return h2k_seterr ("%s: unsupported VHDX version %u", bd->path, le16 (cur + 66));
  if (le16 (cur + 64) != 0)
    return h2k_seterr ("%s: unsupported VHDX log version %u", bd->path, le16 (cur + 64));
  memcpy (v->data_write_guid, cur + 32, 16);
  return 0;
}

/* The region table: BAT and metadata locations. */
static int
read_regions (struct h2k_bdev *bd, uint64_t *bat_off, uint32_t *bat_len,
              uint64_t *meta_off, uint32_t *meta_len)
{
  struct vhdx *v = bd->data;
  CLEANUP_FREE unsigned char *r = malloc (REGION_SIZE);
  if (r == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);

  bool found = false;
  for (int i = 0; i < 2 && !found; i++) {
    if (h2k_vhdx_file_read (&v->f, r, REGION_SIZE,
                            i ? REGION2_OFFSET : REGION1_OFFSET,
                            "region table") == -1)
      return -1;
    found = memcmp (r, "regi", 4) == 0 && checksum_ok (r, REGION_SIZE, 4);
  }
  if (!found)
    return h2k_seterr ("%s: no valid VHDX region table (both copies have a bad signature or CRC-32C)",
                       bd->path);
  uint32_t n = le32 (r + 8);
  if (n > MAX_TABLE_ENTRIES)
    return h2k_seterr ("%s: VHDX region table has %" PRIu32 " entries (at most %d)",
                       bd->path, n, MAX_TABLE_ENTRIES);
  *bat_off = *meta_off = 0;
  for (uint32_t i = 0; i < n; i++) {
    const unsigned char *e = r + 16 + 32 * i;
    uint64_t off = le64 (e + 16);
    uint32_t len = le32 (e + 24);
    bool required = le32 (e + 28) & 1;
    char g[37];
    format_guid (g, e);
    bool bat = strcmp (g, GUID_BAT) == 0, meta = strcmp (g, GUID_METADATA) == 0;
    if (!bat && !meta) {
      if (required)
        return h2k_seterr ("%s: unknown required VHDX region {%s}", bd->path, g);
      continue;
    }
    if (off < MiB || off % MiB || len == 0 || off > v->f.size
        || v->f.size - off < len)
      return h2k_seterr ("%s: VHDX %s region (offset %" PRIu64 ", length %" PRIu32 ") is out of bounds",
                         bd->path, bat ? "BAT" : "metadata", off, len);
    if (bat) {
      *bat_off = off;
      *bat_len = len;
    }
    else {
      *meta_off = off;
      *meta_len = len;
    }
  }
  if (*bat_off == 0 || *meta_off == 0)
    return h2k_seterr ("%s: VHDX region table lacks the %s region", bd->path,
                       *bat_off == 0 ? "BAT" : "metadata");
  return 0;
}

static char *
kv_string (const unsigned char *item, uint32_t len, uint32_t off, uint16_t n)
{
  if (off > len || n > len - off || n % 2) {
    h2k_seterr ("parent locator entry out of bounds");
    return NULL;
  }
  return h2k_utf16_to_utf8 (item + off, n, false);
}

static int
parse_parent_locator (struct h2k_bdev *bd, const unsigned char *item,
                      uint32_t len)
{
  struct vhdx *v = bd->data;
  CLEANUP_FREE char *rel = NULL;
  CLEANUP_FREE char *vol = NULL;
  CLEANUP_FREE char *abs = NULL;

  if (len < 20)
    return h2k_seterr ("%s: VHDX parent locator too short", bd->path);
  if (!guid_is (item, GUID_VHDX_LOCATOR_TYPE)) {
    char g[37];
    format_guid (g, item);
    return h2k_seterr ("%s: unsupported VHDX parent locator type {%s}", bd->path, g);
  }
  uint16_t n = le16 (item + 18);
  if (20 + 12 * (uint64_t) n > len)
    return h2k_seterr ("%s: VHDX parent locator has %u entries, more than fit", bd->path, n);
  for (uint16_t i = 0; i < n; i++) {
    const unsigned char *e = item + 20 + 12 * i;
    CLEANUP_FREE char *key = kv_string (item, len, le32 (e), le16 (e + 8));
    char *val = key ? kv_string (item, len, le32 (e + 4), le16 (e + 10)) : NULL;
    if (val == NULL)
      return h2k_seterr_prefix ("%s: VHDX parent locator", bd->path);
    char **slot = strcmp (key, "parent_linkage") == 0 ? &v->parent_linkage
      : strcmp (key, "parent_linkage2") == 0 ? &v->parent_linkage2
      : strcmp (key, "relative_path") == 0 ? &rel
      : strcmp (key, "volume_path") == 0 ? &vol
      : strcmp (key, "absolute_win32_path") == 0 ? &abs : NULL;
    if (slot && *slot == NULL)
      *slot = val;
    else
      free (val);
  }
  if (v->parent_linkage == NULL)
    return h2k_seterr ("%s: VHDX parent locator has no parent_linkage", bd->path);
  const char *any = rel ? rel : abs ? abs : vol;
  if (any == NULL || any[0] == '\0')
    return h2k_seterr ("%s: VHDX parent locator names no parent path", bd->path);

  const char *last = abs ? abs : vol ? vol : rel;
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
  else
    bd->parent_path = strdup (bd->parent_alt);
  if (bd->parent_path == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  return 0;
}

static int
read_metadata (struct h2k_bdev *bd, uint64_t off, uint32_t len)
{
  struct vhdx *v = bd->data;
  bool have_fp = false, have_size = false, have_ss = false;
  CLEANUP_FREE unsigned char *t = malloc (METADATA_TABLE_SIZE);

  if (t == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  if (len < METADATA_TABLE_SIZE)
    return h2k_seterr ("%s: VHDX metadata region too small (%" PRIu32 " bytes)", bd->path, len);
  if (h2k_vhdx_file_read (&v->f, t, METADATA_TABLE_SIZE, off, "metadata table") == -1)
    return -1;
  if (memcmp (t, "metadata", 8) != 0)
    return h2k_seterr ("%s: VHDX metadata table has a bad signature", bd->path);
  uint16_t n = le16 (t + 10);
  if (n > MAX_TABLE_ENTRIES)
    return h2k_seterr ("%s: VHDX metadata table has %u entries (at most %d)",
                       bd->path, n, MAX_TABLE_ENTRIES);

  for (uint16_t i = 0; i < n; i++) {
    const unsigned char *e = t + 32 + 32 * i;
    uint32_t ioff = le32 (e + 16), ilen = le32 (e + 20), flags = le32 (e + 24);
    bool is_user = flags & 1, required = flags & 4;
    char g[37];
    format_guid (g, e);
    if (is_user) {
      if (required)
        return h2k_seterr ("%s: unknown required VHDX user metadata item {%s}", bd->path, g);
      continue;
    }
    bool fp = strcmp (g, GUID_FILE_PARAMETERS) == 0;
    bool ds = strcmp (g, GUID_DISK_SIZE) == 0;
    bool ls = strcmp (g, GUID_LOGICAL_SECTOR) == 0;
    bool pl = strcmp (g, GUID_PARENT_LOCATOR) == 0;
    bool known = fp || ds || ls || pl || strcmp (g, GUID_DISK_ID) == 0
      || strcmp (g, GUID_PHYSICAL_SECTOR) == 0;
    if (!known) {
      if (required)
        return h2k_seterr ("%s: unknown required VHDX metadata item {%s}", bd->path, g);
      continue;
    }
    if (!(fp || ds || ls || pl))
      continue;
    if (ilen > MiB || (ilen && ioff < METADATA_TABLE_SIZE) || ioff > len
        || ilen > len - ioff)
      return h2k_seterr ("%s: VHDX metadata item {%s} (offset %" PRIu32 ", length %" PRIu32 ") is out of bounds",
                         bd->path, g, ioff, ilen);
    uint32_t need = fp ? 8 : ds ? 8 : ls ? 4 : 20;
    if (ilen < need)
      return h2k_seterr ("%s: VHDX metadata item {%s} is too short (%" PRIu32 " bytes)",
                         bd->path, g, ilen);
    CLEANUP_FREE unsigned char *item = malloc (ilen);
    if (item == NULL)
      return h2k_seterr ("%s: out of memory", bd->path);
    if (h2k_vhdx_file_read (&v->f, item, ilen, off + ioff, "metadata item") == -1)
      return -1;
    if (fp) {
      v->block_size = le32 (item);
      v->has_parent = le32 (item + 4) & 2;
      have_fp = true;
    }
    else if (ds) {
      bd->size = le64 (item);
      have_size = true;
    }
    else if (ls) {
      v->sector_size = le32 (item);
      have_ss = true;
    }
    else if (parse_parent_locator (bd, item, ilen) == -1)
      return -1;
  }
  if (!have_fp || !have_size || !have_ss)
    return h2k_seterr ("%s: VHDX metadata lacks the %s item", bd->path,
                       !have_fp ? "file parameters" : !have_size
                       ? "virtual disk size" : "logical sector size");
  if (v->block_size < MiB || v->block_size > 256 * MiB
      || (v->block_size & (v->block_size - 1)))
    return h2k_seterr ("%s: invalid VHDX block size %" PRIu32, bd->path, v->block_size);
  if (v->sector_size != 512 && v->sector_size != 4096)
    return h2k_seterr ("%s: invalid VHDX logical sector size %" PRIu32, bd->path,
                       v->sector_size);
  if (bd->size > MAX_DISK_SIZE)
    return h2k_seterr ("%s: VHDX disk size %" PRIu64 " is larger than the 64 TiB limit",
                       bd->path, bd->size);
  if (v->has_parent && bd->parent_path == NULL)
    return h2k_seterr ("%s: differencing VHDX has no parent locator", bd->path);
  if (!v->has_parent && bd->parent_path) {
    free (bd->parent_path);
    free (bd->parent_alt);
    bd->parent_path = bd->parent_alt = NULL;
  }
  return 0;
}

static int
bat_get (struct h2k_bdev *bd, uint64_t i, uint64_t *entry)
{
  struct vhdx *v = bd->data;
  uint64_t chunk = i / BAT_CHUNK;
  if (chunk != v->bat_chunk) {
    uint64_t first = chunk * BAT_CHUNK;
    uint64_t n = v->bat_entries - first < BAT_CHUNK ? v->bat_entries - first : BAT_CHUNK;
    v->bat_chunk = UINT64_MAX;
    if (h2k_vhdx_file_read (&v->f, v->bat, n * 8, v->bat_offset + first * 8, "BAT") == -1)
      return -1;
    for (uint64_t k = 0; k < n; k++)
      v->bat[k] = le64toh (v->bat[k]);
    v->bat_chunk = chunk;
  }
  *entry = v->bat[i % BAT_CHUNK];
  return 0;
}

/* Payload block B: its state and file offset, checked. */
static int
payload (struct h2k_bdev *bd, uint64_t b, unsigned *state, uint64_t *off)
{
  struct vhdx *v = bd->data;
  uint64_t e;
  if (bat_get (bd, b + b / v->chunk_ratio, &e) == -1)
    return -1;
  *state = BAT_STATE (e);
  *off = BAT_OFFSET (e);
  switch (*state) {
  case PAYLOAD_NOT_PRESENT: case PAYLOAD_UNDEFINED: case PAYLOAD_ZERO:
  case PAYLOAD_UNMAPPED: case PAYLOAD_UNMAPPED_V095:
    return 0;
  case PAYLOAD_PARTIALLY_PRESENT:
    if (!v->has_parent)
      return h2k_seterr ("%s: block %" PRIu64 " is partially present in a disk without a parent",
                         bd->path, b);
    /* fall through */
  case PAYLOAD_FULLY_PRESENT: {
    uint64_t blen = bd->size - b * v->block_size < v->block_size
      ? bd->size - b * v->block_size : v->block_size;
    if (*off < MiB || *off > v->f.size || v->f.size - *off < blen)
      return h2k_seterr ("%s: BAT entry for block %" PRIu64 " points outside the file (offset %" PRIu64 ", file size %" PRIu64 ")",
                         bd->path, b, *off, v->f.size);
    return 0;
  }
  default:
    return h2k_seterr ("%s: BAT entry for block %" PRIu64 " has the invalid state %u",
                       bd->path, b, *state);
  }
}

/* The sector bitmap bits of block B (differencing disks). */
static int
get_bitmap (struct h2k_bdev *bd, uint64_t b)
{
  struct vhdx *v = bd->data;
  uint64_t k = b / v->chunk_ratio, e;
  uint64_t bytes = v->block_size / v->sector_size / 8;

  if (v->bitmap_block == b)
    return 0;
  v->bitmap_block = UINT64_MAX;
  if (bat_get (bd, k * (v->chunk_ratio + 1) + v->chunk_ratio, &e) == -1)
    return -1;
  if (BAT_STATE (e) != SB_BLOCK_PRESENT)
    return h2k_seterr ("%s: block %" PRIu64 " is partially present but its sector bitmap is not (state %u)",
                       bd->path, b, (unsigned) BAT_STATE (e));
  uint64_t off = BAT_OFFSET (e);
  if (off < MiB || off > v->f.size || v->f.size - off < MiB)
    return h2k_seterr ("%s: sector bitmap of chunk %" PRIu64 " points outside the file (offset %" PRIu64 ")",
                       bd->path, k, off);
  if (h2k_vhdx_file_read (&v->f, v->bitmap, bytes,
                          off + (b % v->chunk_ratio) * bytes, "sector bitmap") == -1)
    return -1;
  v->bitmap_block = b;
  return 0;
}

/* LSB-first, unlike VHD. */
static bool
bitmap_bit (const unsigned char *bm, uint64_t s)
{
  return bm[s / 8] & (1 << (s % 8));
}

typedef int (*run_fn) (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
                       enum h2k_extent_type type, uint64_t fileoff, void *opaque);

static int
walk (struct h2k_bdev *bd, uint64_t offset, uint64_t length, run_fn fn,
      void *opaque)
{
  struct vhdx *v = bd->data;
  uint64_t end = offset + length;
  uint64_t ss = v->sector_size;

  while (offset < end) {
    uint64_t b = offset / v->block_size;
    uint64_t bstart = b * v->block_size;
    uint64_t bend = bstart + v->block_size < end ? bstart + v->block_size : end;
    unsigned state;
    uint64_t boff;

    if (payload (bd, b, &state, &boff) == -1)
      return -1;
    int r;
    switch (state) {
    case PAYLOAD_NOT_PRESENT:
      r = fn (bd, offset, bend - offset, H2K_EXTENT_HOLE, 0, opaque);
      break;
    case PAYLOAD_FULLY_PRESENT:
      r = fn (bd, offset, bend - offset, H2K_EXTENT_DATA,
              boff + (offset - bstart), opaque);
      break;
    case PAYLOAD_PARTIALLY_PRESENT: {
      if (get_bitmap (bd, b) == -1)
        return -1;
      uint64_t p = offset;
      r = 0;
      while (p < bend && r == 0) {
        uint64_t s = (p - bstart) / ss;
        bool bit = bitmap_bit (v->bitmap, s);
        uint64_t q = bstart + (s + 1) * ss;
        while (q < bend && bitmap_bit (v->bitmap, (q - bstart) / ss) == bit)
          q += ss;
        if (q > bend)
          q = bend;
        r = fn (bd, p, q - p, bit ? H2K_EXTENT_DATA : H2K_EXTENT_HOLE,
                boff + (p - bstart), opaque);
        p = q;
      }
      break;
    }
    default:    /* zero, unmapped, undefined: reads as zeros */
      r = fn (bd, offset, bend - offset, H2K_EXTENT_ZERO, 0, opaque);
    }
    if (r == -1)
      return -1;
    offset = bend;
  }
  return 0;
}

struct read_ctx {
  char *buf;
  uint64_t start;
};

static int
read_run (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
          enum h2k_extent_type type, uint64_t fileoff, void *opaque)
{
  struct vhdx *v = bd->data;
  struct read_ctx *ctx = opaque;
  char *buf = ctx->buf + (offset - ctx->start);
  if (type != H2K_EXTENT_DATA) {
    memset (buf, 0, length);
    return 0;
  }
  return h2k_vhdx_file_read (&v->f, buf, length, fileoff, "data block");
}

static int
vhdx_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct read_ctx ctx = { buf, offset };
  return walk (bd, offset, count, read_run, &ctx);
}

static int
extent_run (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
            enum h2k_extent_type type, uint64_t fileoff, void *opaque)
{
  struct vhdx *v = bd->data;
  /* Data the file does not really hold (holes of a preallocated or
   * sparse-copied file) reads as zeros; the log's replayed writes and
   * anything past the physical end are not in the file's holes map. */
  if (type == H2K_EXTENT_DATA && fileoff + length <= v->f.physical_size
      && (v->f.overlay.len == 0 || fileoff >= v->f.overlay_end
          || fileoff + length <= v->f.overlay_start))
    return h2k_host_extents (v->f.fd, bd->path, fileoff, length, offset, opaque);
  return h2k_bdev_add_extent (opaque, offset, length, type);
}

static int
vhdx_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
              struct h2k_extent_vector *out)
{
  return walk (bd, offset, length, extent_run, out);
}

static void
free_state (struct vhdx *v)
{
  h2k_vhdx_file_free_overlay (&v->f);
  free (v->bat);
  free (v->bitmap);
  free (v->parent_linkage);
  free (v->parent_linkage2);
  free (v);
}

static int
vhdx_open (struct h2k_bdev *bd, int fd, unsigned flags)
{
  struct vhdx *v = calloc (1, sizeof *v);
  unsigned char h[HEADER_SIZE];
  off_t end = lseek (fd, 0, SEEK_END);

  if (v == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  if (end < 0) {
    free (v);
    return h2k_seterr ("%s: %m", bd->path);
  }
  bd->data = v;
  v->f.fd = fd;
  v->f.path = bd->path;
  v->f.physical_size = v->f.size = end;
  v->bat_chunk = v->bitmap_block = UINT64_MAX;

  unsigned char ident[8];
  if (h2k_pread_exact (fd, ident, sizeof ident, 0, bd->path) == -1)
    goto fail;
  if (memcmp (ident, "vhdxfile", 8) != 0) {
    h2k_seterr ("%s: not a VHDX image (no \"vhdxfile\" identifier)", bd->path);
    goto fail;
  }
  if (read_headers (bd, h) == -1)
    goto fail;

  /* A log to replay?  LogGuid zero or LogLength zero means none. */
  static const unsigned char zero_guid[16];
  uint32_t log_len = le32 (h + 68);
  uint64_t log_off = le64 (h + 72);
  if (memcmp (h + 48, zero_guid, 16) != 0 && log_len != 0
      && h2k_vhdx_log_replay (&v->f, log_off, log_len, h + 48, &v->replayed) == -1)
    goto fail;

  uint64_t bat_off = 0, meta_off = 0;
  uint32_t bat_len = 0, meta_len = 0;
  if (read_regions (bd, &bat_off, &bat_len, &meta_off, &meta_len) == -1
      || read_metadata (bd, meta_off, meta_len) == -1)
    goto fail;

  v->chunk_ratio = (UINT64_C (1) << 23) * v->sector_size / v->block_size;
  v->nblocks = (bd->size + v->block_size - 1) / v->block_size;
  if (v->has_parent)
    v->bat_entries = (v->nblocks + v->chunk_ratio - 1) / v->chunk_ratio
      * (v->chunk_ratio + 1);
  else
    v->bat_entries = v->nblocks ? v->nblocks + (v->nblocks - 1) / v->chunk_ratio : 0;
  v->bat_offset = bat_off;
  v->bat_length = bat_len;
  v->meta_offset = meta_off;
  v->meta_length = meta_len;
  v->log_offset = log_off;
  v->log_length = log_len;
  if (v->bat_entries * 8 > bat_len) {
    h2k_seterr ("%s: VHDX BAT region (%" PRIu32 " bytes) is too small for %" PRIu64 " entries",
                bd->path, bat_len, v->bat_entries);
    goto fail;
  }
  v->bat = malloc (BAT_CHUNK * 8);
  v->bitmap = malloc (v->block_size / v->sector_size / 8);
  if (v->bat == NULL || v->bitmap == NULL) {
    h2k_seterr ("%s: out of memory", bd->path);
    goto fail;
  }
  /* Check every payload entry now, so that a lying BAT fails at open and
   * not halfway through a conversion. */
  for (uint64_t b = 0; b < v->nblocks; b++) {
    unsigned state;
    uint64_t off;
    if (payload (bd, b, &state, &off) == -1)
      goto fail;
  }
  return 0;

 fail:
  free_state (v);
  bd->data = NULL;
  free (bd->parent_path);
  free (bd->parent_alt);
  bd->parent_path = bd->parent_alt = NULL;
  return -1;
}

/* Deep check: every partially present block has its sector bitmap, and
 * no two structures of the file (the 1 MiB header area, log, BAT,
 * metadata, payload and bitmap blocks) overlap.  Needs one range per
 * allocated block, as much as the BAT. */
static int
vhdx_check (struct h2k_bdev *bd)
{
  struct vhdx *v = bd->data;
  uint64_t nranges = v->bat_entries + 4;
  struct h2k_file_range *r = malloc (nranges * sizeof *r);
  size_t n = 0;
  int ret = -1;

  if (r == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  r[n++] = (struct h2k_file_range) { 0, MiB, -1 };
  r[n++] = (struct h2k_file_range) { v->bat_offset, v->bat_offset + v->bat_length, -2 };
  r[n++] = (struct h2k_file_range) { v->meta_offset, v->meta_offset + v->meta_length, -3 };
  if (v->log_length)
    r[n++] = (struct h2k_file_range) { v->log_offset, v->log_offset + v->log_length, -4 };
  for (uint64_t b = 0; b < v->nblocks; b++) {
    unsigned state;
    uint64_t off;
    if (payload (bd, b, &state, &off) == -1)
      goto out;
    if (state == PAYLOAD_PARTIALLY_PRESENT && get_bitmap (bd, b) == -1)
      goto out;
    if (state == PAYLOAD_FULLY_PRESENT || state == PAYLOAD_PARTIALLY_PRESENT) {
      uint64_t blen = bd->size - b * v->block_size < v->block_size
        ? bd->size - b * v->block_size : v->block_size;
      r[n++] = (struct h2k_file_range) { off, off + blen, (int64_t) b };
    }
  }
  /* Sector bitmap blocks (differencing disks), 1 MiB each. */
  for (uint64_t k = 0; v->has_parent && k * (v->chunk_ratio + 1) + v->chunk_ratio < v->bat_entries; k++) {
    uint64_t e;
    if (bat_get (bd, k * (v->chunk_ratio + 1) + v->chunk_ratio, &e) == -1)
      goto out;
    if (BAT_STATE (e) == SB_BLOCK_PRESENT)
      r[n++] = (struct h2k_file_range) { BAT_OFFSET (e), BAT_OFFSET (e) + MiB, -5 };
  }
  static const char *const what[] = { "", "the header area", "the BAT", "the metadata region", "the log", "a sector bitmap block" };
  if (h2k_check_no_overlap (bd->path, r, n, what) == -1)
    goto out;
  ret = 0;
 out:
  free (r);
  return ret;
}

extern const struct h2k_bdev_ops h2k_vhdx_ops;

/* The parent's DataWriteGuid must be one of the child's parent_linkage
 * values. */
static int
vhdx_check_parent (struct h2k_bdev *child, struct h2k_bdev *parent,
                   unsigned flags)
{
  struct vhdx *c = child->data;
  char got[40], g[37];

  if (flags & H2K_OPEN_IGNORE_PARENT_ID)
    return 0;
  if (h2k_parent_same_format (child, parent, &h2k_vhdx_ops, "VHDX") == -1)
    return -1;
  struct vhdx *p = parent->data;
  if (p->sector_size != c->sector_size)
    return h2k_seterr ("%s: parent %s has %" PRIu32 "-byte logical sectors, the child %" PRIu32,
                       child->path, parent->path, p->sector_size, c->sector_size);
  format_guid (g, p->data_write_guid);
  snprintf (got, sizeof got, "{%s}", g);
  if (strcasecmp (got, c->parent_linkage) == 0
      || (c->parent_linkage2 && strcasecmp (got, c->parent_linkage2) == 0))
    return 0;
  h2k_seterr ("%s: parent %s has DataWriteGuid %s, expected %s",
              child->path, parent->path, got, c->parent_linkage);
  return h2k_seterr_code (H2K_ERR_PARENT_ID);
}

static void
vhdx_close (struct h2k_bdev *bd)
{
  struct vhdx *v = bd->data;
  if (v) {
    close (v->f.fd);
    free_state (v);
  }
}

const struct h2k_bdev_ops h2k_vhdx_ops = {
  .name = "vhdx",
  .probe = vhdx_probe,
  .open = vhdx_open,
  .pread = vhdx_pread,
  .extents = vhdx_extents,
  .check_parent = vhdx_check_parent,
  .check = vhdx_check,
  .close = vhdx_close,
};
