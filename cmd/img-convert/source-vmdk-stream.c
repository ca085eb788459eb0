/* A streamOptimized VMDK decoded sequentially from a byte stream (an OVA
 * member, a pipe), without seeking and without the grain directory
 * (docs/formats.md 2.8): read the header, skip to overHead, then walk the
 * markers: each grain marker's zlib payload is inflated into its LBA,
 * metadata markers (GT, GD, footer, progress) are skipped, EOS ends it.
 * Both producer layouts work: VMware's (GD at end, footer) and QEMU's
 * (preallocated tables before overHead).
 *
 * Grains must arrive in ascending LBA order, as VMware and QEMU write them;
 * a stream that goes back cannot be converted in one pass, and says so.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "die.h"
#include "source.h"

#define SECTOR 512
#define FLAG_COMPRESSED 0x00010000u
#define FLAG_MARKERS    0x00020000u
#define GD_AT_END UINT64_MAX
/* Grains up to 1 MiB (VMware allows 64 KiB): bounds the buffers. */
#define MAX_GRAIN_SECTORS 2048
/* Nothing VMware or QEMU writes comes close (seSparse stops under 64 TiB). */
#define MAX_CAPACITY_SECTORS ((UINT64_C (64) << 40) / SECTOR)

enum { M_EOS = 0, M_GT = 1, M_GD = 2, M_FOOTER = 3, M_PROGRESS = 4 };

struct svs {
  struct source src;
  struct bstream *bs;
  uint64_t capacity;      /* sectors */
  uint64_t grain;         /* sectors */
  uint64_t next_lba;      /* grains below this have been seen */
  bool done;
  unsigned char *cbuf;    /* a marker sector + compressed payload */
  size_t cbuf_len;
  unsigned char *gbuf;    /* one inflated grain */
  z_stream zs;
  bool zs_init;
};

static uint32_t
le32 (const unsigned char *p)
{
  return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t
le64 (const unsigned char *p)
{
  return le32 (p) | ((uint64_t) le32 (p + 4) << 32);
}

static int
svs_next (struct source *src, struct chunk *out)
{
  struct svs *s = (struct svs *) src;
  unsigned char *m = s->cbuf;

  while (!s->done) {
    uint64_t at = s->bs->pos;
    if (bstream_read_exact (s->bs, m, SECTOR, "marker") == -1)
      return -1;
    uint64_t val = le64 (m);
    uint32_t size = le32 (m + 8);

    if (size == 0) {
      uint32_t type = le32 (m + 12);
      switch (type) {
      case M_EOS:
        s->done = true;
        continue;
      case M_GT: case M_GD: case M_FOOTER: case M_PROGRESS:
        if (val > MAX_CAPACITY_SECTORS)
          return h2k_seterr ("%s: marker at byte %llu: metadata of %llu sectors is impossible",
                             s->src.name, (unsigned long long) at,
                             (unsigned long long) val);
        if (bstream_skip (s->bs, val * SECTOR, "metadata after a marker") == -1)
          return -1;
        continue;
      default:
        return h2k_seterr ("%s: unknown marker type %u at byte %llu",
                           s->src.name, type, (unsigned long long) at);
      }
    }

    /* A grain: LBA val, SIZE bytes of zlib data from byte 12, padded. */
    uint64_t gbytes = s->grain * SECTOR;
    if ((uint64_t) size + 12 > s->cbuf_len - SECTOR)
      return h2k_seterr ("%s: grain at byte %llu: compressed size %u is larger than a grain can be",
                         s->src.name, (unsigned long long) at, size);
    if (val % s->grain != 0 || val >= s->capacity)
      return h2k_seterr ("%s: grain at byte %llu: LBA %llu is %s",
                         s->src.name, (unsigned long long) at,
                         (unsigned long long) val,
                         val >= s->capacity ? "beyond the end of the disk"
                         : "not at a grain boundary");
    if (val < s->next_lba)
      return h2k_seterr ("%s: grain for LBA %llu comes after LBA %llu: grains out of order cannot be converted from a stream",
                         s->src.name, (unsigned long long) val,
                         (unsigned long long) (s->next_lba - s->grain));
    size_t rec = (12 + (size_t) size + SECTOR - 1) / SECTOR * SECTOR;
    if (rec > SECTOR
        && bstream_read_exact (s->bs, m + SECTOR, rec - SECTOR, "compressed grain") == -1)
      return -1;

    if (inflateReset (&s->zs) != Z_OK)
      return h2k_seterr ("%s: zlib: inflateReset failed", s->src.name);
    s->zs.next_in = m + 12;
    s->zs.avail_in = size;
    s->zs.next_out = s->gbuf;
    s->zs.avail_out = gbytes;
    int r = inflate (&s->zs, Z_FINISH);
    if (r != Z_STREAM_END)
      return h2k_seterr ("%s: grain for LBA %llu: corrupt compressed data (zlib %s)",
                         s->src.name, (unsigned long long) val,
                         r == Z_BUF_ERROR ? "data too long or truncated"
                         : s->zs.msg ? s->zs.msg : "error");
    uint64_t got = gbytes - s->zs.avail_out;
    uint64_t want = (s->capacity - val) * SECTOR;
    if (want > gbytes)
      want = gbytes;
    /* Only the last grain may be short: it may stop at the disk's end. */
    if (got < want)
      return h2k_seterr ("%s: grain for LBA %llu inflates to %llu bytes, expected %llu",
                         s->src.name, (unsigned long long) val,
                         (unsigned long long) got, (unsigned long long) want);
    s->next_lba = val + s->grain;
    *out = (struct chunk) { val * SECTOR, want, s->gbuf };
    return 1;
  }
  return 0;
}

static void
svs_close (struct source *src)
{
  struct svs *s = (struct svs *) src;
  if (s->zs_init)
    inflateEnd (&s->zs);
  free (s->cbuf);
  free (s->gbuf);
  free (s);
}

static const struct source_ops svs_ops = {
  .next = svs_next,
  .close = svs_close,
};

struct source *
source_vmdk_stream_open (struct bstream *bs, const char *name)
{
  unsigned char h[SECTOR];
  struct svs *s = calloc (1, sizeof *s);
  if (s == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  s->src.ops = &svs_ops;
  s->src.name = name;
  s->bs = bs;

  if (bstream_read_exact (bs, h, SECTOR, "VMDK header") == -1)
    goto fail;
  if (memcmp (h, "KDMV", 4) != 0) {
    h2k_seterr ("%s: not a VMDK sparse extent (no KDMV magic); only streamOptimized VMDKs can be read from a stream", name);
    goto fail;
  }
  uint32_t version = le32 (h + 4), flags = le32 (h + 8);
  uint64_t capacity = le64 (h + 12), grain = le64 (h + 20);
  uint64_t overhead = le64 (h + 64);
  unsigned calg = h[77] | (h[78] << 8);
  if (version < 1 || version > 3) {
    h2k_seterr ("%s: unsupported VMDK version %u", name, version);
    goto fail;
  }
  if (!(flags & FLAG_COMPRESSED) || !(flags & FLAG_MARKERS) || calg != 1) {
    h2k_seterr ("%s: not a streamOptimized VMDK (flags 0x%x, compression %u): only compressed grains with markers can be read from a stream",
                name, flags, calg);
    goto fail;
  }
  if (flags & 0xfffc0000u) {
    h2k_seterr ("%s: unknown incompatible VMDK flags 0x%x", name,
                flags & 0xfffc0000u);
    goto fail;
  }
  if (capacity > MAX_CAPACITY_SECTORS) {
    h2k_seterr ("%s: capacity of %llu sectors is beyond any VMDK", name,
                (unsigned long long) capacity);
    goto fail;
  }
  if (grain == 0 || grain > MAX_GRAIN_SECTORS || (grain & (grain - 1))) {
    h2k_seterr ("%s: grain size of %llu sectors is invalid", name,
                (unsigned long long) grain);
    goto fail;
  }
  if (overhead < 1 || overhead > MAX_CAPACITY_SECTORS) {
    h2k_seterr ("%s: overHead of %llu sectors is invalid", name,
                (unsigned long long) overhead);
    goto fail;
  }
  s->capacity = capacity;
  s->grain = grain;
  s->src.size = capacity * SECTOR;
  /* Room for a marker and the worst zlib expansion of one grain. */
  s->cbuf_len = SECTOR + compressBound (grain * SECTOR) + SECTOR;
  s->cbuf = malloc (s->cbuf_len);
  s->gbuf = malloc (grain * SECTOR);
  if (s->cbuf == NULL || s->gbuf == NULL) {
    h2k_seterr ("out of memory");
    goto fail;
  }
  if (inflateInit (&s->zs) != Z_OK) {
    h2k_seterr ("%s: cannot set up zlib", name);
    goto fail;
  }
  s->zs_init = true;
  if (bstream_skip (bs, (overhead - 1) * SECTOR, "metadata before the first grain") == -1)
    goto fail;
  return &s->src;

 fail:
  svs_close (&s->src);
  return NULL;
}
