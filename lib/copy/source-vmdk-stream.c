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

#include "util/die.h"
#include "source.h"
#include "disk/vmdk/vmdk.h"

#define SECTOR H2K_VMDK_SECTOR
#define MAX_CAPACITY_SECTORS (H2K_VMDK_MAX_CAPACITY / SECTOR)

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
};

static int
svs_next (struct source *src, struct chunk *out)
{
  struct svs *s = (struct svs *) src;
  unsigned char *m = s->cbuf;

  while (!s->done) {
    uint64_t at = s->bs->pos;
    struct h2k_vmdk_marker mk;
    if (bstream_read_exact (s->bs, m, SECTOR, "marker") == -1)
      return -1;
    if (h2k_vmdk_parse_marker (m, SECTOR, &mk) == -1)
      return h2k_seterr_prefix ("%s: at byte %llu", s->src.name,
                                (unsigned long long) at);
    uint64_t val = mk.val;
    uint32_t size = mk.size;

    if (mk.type != H2K_VMDK_MARKER_GRAIN) {
      if (mk.type == H2K_VMDK_MARKER_EOS) {
        s->done = true;
        continue;
      }
      /* GT, GD, footer and progress markers: skip what follows. */
      if (val > MAX_CAPACITY_SECTORS)
        return h2k_seterr ("%s: marker at byte %llu: metadata of %llu sectors is impossible",
                           s->src.name, (unsigned long long) at,
                           (unsigned long long) val);
      if (bstream_skip (s->bs, val * SECTOR, "metadata after a marker") == -1)
        return -1;
      continue;
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
    size_t rec = h2k_vmdk_grain_record_bytes (&mk);
    if (rec > SECTOR
        && bstream_read_exact (s->bs, m + SECTOR, rec - SECTOR, "compressed grain") == -1)
      return -1;

    size_t got;
    if (h2k_vmdk_inflate_grain (m + 12, size, s->gbuf, gbytes, &got) == -1)
      return h2k_seterr_prefix ("%s: grain for LBA %llu", s->src.name,
                                (unsigned long long) val);
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
  struct h2k_vmdk_header hd;
  if (h2k_vmdk_parse_header (h, &hd) == -1) {
    h2k_seterr_prefix ("%s", name);
    goto fail;
  }
  if (!(hd.flags & H2K_VMDK_FLAG_COMPRESSED) || !hd.markers || !hd.compressed) {
    h2k_seterr ("%s: not a streamOptimized VMDK (flags 0x%x, compression %u): only compressed grains with markers can be read from a stream",
                name, hd.flags, hd.compress_algorithm);
    goto fail;
  }
  uint64_t capacity = hd.capacity, grain = hd.grain_size;
  uint64_t overhead = hd.overhead;
  if (overhead < 1 || overhead > MAX_CAPACITY_SECTORS) {
    h2k_seterr ("%s: overHead of %llu sectors is invalid", name,
                (unsigned long long) overhead);
    goto fail;
  }
  s->capacity = capacity;
  s->grain = grain;
  s->src.size = capacity * SECTOR;
  /* Room for a marker and the worst zlib expansion of one grain. */
  s->cbuf_len = SECTOR + grain * SECTOR * 2 + 4096;
  s->cbuf = malloc (s->cbuf_len);
  s->gbuf = malloc (grain * SECTOR);
  if (s->cbuf == NULL || s->gbuf == NULL) {
    h2k_seterr ("out of memory");
    goto fail;
  }
  if (bstream_skip (bs, (overhead - 1) * SECTOR, "metadata before the first grain") == -1)
    goto fail;
  return &s->src;

 fail:
  svs_close (&s->src);
  return NULL;
}
