/* KDMV headers, stream markers and compressed grains (formats.md 2). */
#include <string.h>
#include <zlib.h>

#include "util/die.h"
#include "vmdk.h"
#include "vmdk-int.h"

int
h2k_vmdk_parse_header (const void *buf, struct h2k_vmdk_header *h)
{
  const unsigned char *p = buf;

  memset (h, 0, sizeof *h);
  if (memcmp (p, "KDMV", 4) != 0)
    return h2k_seterr ("not a hosted sparse VMDK (no KDMV magic)");
  /* The fields are unaligned, so every one is read byte-wise. */
  h->version = vmdk_le32 (p + 4);
  h->flags = vmdk_le32 (p + 8);
  h->capacity = vmdk_le64 (p + 12);
  h->grain_size = vmdk_le64 (p + 20);
  h->desc_offset = vmdk_le64 (p + 28);
  h->desc_size = vmdk_le64 (p + 36);
  h->num_gtes_per_gt = vmdk_le32 (p + 44);
  h->rgd_offset = vmdk_le64 (p + 48);
  h->gd_offset = vmdk_le64 (p + 56);
  h->overhead = vmdk_le64 (p + 64);
  h->unclean_shutdown = p[72] != 0;
  h->compress_algorithm = p[77] | (p[78] << 8);

  if (h->version < 1 || h->version > 3)
    return h2k_seterr ("unsupported hosted sparse version %u", h->version);
  /* The high 16 flag bits are incompatible features: only "compressed"
   * and "markers" are known, and markers only come with compression. */
  uint32_t incompat = h->flags & 0xffff0000u;
  if (incompat & ~(H2K_VMDK_FLAG_COMPRESSED | H2K_VMDK_FLAG_MARKERS))
    return h2k_seterr ("unsupported incompatible header flags 0x%08x",
                       h->flags);
  if (h->compress_algorithm > 1)
    return h2k_seterr ("unsupported compression algorithm %u",
                       h->compress_algorithm);
  h->compressed = h->compress_algorithm == 1;
  h->markers = (h->flags & H2K_VMDK_FLAG_MARKERS) != 0;
  if (h->markers && !h->compressed)
    return h2k_seterr ("header flags say markers but grains are not "
                       "compressed");
  if (h->grain_size == 0 || h->grain_size > VMDK_MAX_GRAIN_SECTORS
      || (h->grain_size & (h->grain_size - 1)) != 0)
    return h2k_seterr ("invalid grain size %llu sectors (must be a power "
                       "of 2 up to %d)", (unsigned long long) h->grain_size,
                       VMDK_MAX_GRAIN_SECTORS);
  if (h->num_gtes_per_gt < 128 || h->num_gtes_per_gt > 512
      || (h->num_gtes_per_gt & (h->num_gtes_per_gt - 1)) != 0)
    return h2k_seterr ("invalid number of entries per grain table %u "
                       "(must be 128, 256 or 512)", h->num_gtes_per_gt);
  if (h->capacity > H2K_VMDK_MAX_CAPACITY / H2K_VMDK_SECTOR)
    return h2k_seterr ("capacity of %llu sectors is absurd (more than "
                       "64 TiB)", (unsigned long long) h->capacity);
  if (h->desc_offset != 0 && (h->desc_size == 0
                              || h->desc_size > VMDK_MAX_DESC_SECTORS))
    return h2k_seterr ("invalid embedded descriptor size %llu sectors",
                       (unsigned long long) h->desc_size);
  if ((h->flags & H2K_VMDK_FLAG_NL_DETECT)
      && memcmp (p + 73, "\n \r\n", 4) != 0)
    return h2k_seterr ("header newline check characters are damaged "
                       "(was the file copied in text mode?)");
  return 0;
}

uint64_t
h2k_vmdk_gd_entries (const struct h2k_vmdk_header *h)
{
  uint64_t per_gt = (uint64_t) h->num_gtes_per_gt * h->grain_size;
  return (h->capacity + per_gt - 1) / per_gt;
}

int
h2k_vmdk_parse_marker (const void *buf, size_t len, struct h2k_vmdk_marker *m)
{
  const unsigned char *p = buf;

  if (len < 16)
    return h2k_seterr ("marker truncated");
  m->val = vmdk_le64 (p);
  m->size = vmdk_le32 (p + 8);
  if (m->size > 0) {
    m->type = H2K_VMDK_MARKER_GRAIN;
    return 0;
  }
  uint32_t type = vmdk_le32 (p + 12);
  if (type > H2K_VMDK_MARKER_PROGRESS)
    return h2k_seterr ("unknown marker type %u", type);
  m->type = type;
  return 0;
}

uint64_t
h2k_vmdk_grain_record_bytes (const struct h2k_vmdk_marker *m)
{
  uint64_t n = 12 + (uint64_t) m->size;
  return (n + H2K_VMDK_SECTOR - 1) / H2K_VMDK_SECTOR * H2K_VMDK_SECTOR;
}

int
h2k_vmdk_inflate_grain (const void *src, size_t srclen,
                        void *dst, size_t dstlen, size_t *outlen)
{
  z_stream z;

  memset (&z, 0, sizeof z);
  /* A zlib (RFC 1950) stream, as VMware's deflateInit and qemu's
   * compress() write it: not raw deflate. */
  if (inflateInit (&z) != Z_OK)
    return h2k_seterr ("zlib: cannot initialise");
  z.next_in = (unsigned char *) src;
  z.avail_in = srclen;
  z.next_out = dst;
  z.avail_out = dstlen;
  int r = inflate (&z, Z_FINISH);
  *outlen = dstlen - z.avail_out;
  const char *msg = z.msg ? z.msg : "error";
  size_t left = z.avail_out;
  inflateEnd (&z);
  if (r == Z_STREAM_END)
    return 0;
  if (r == Z_BUF_ERROR && left == 0)
    return h2k_seterr ("compressed grain inflates to more than %zu bytes",
                       dstlen);
  if (r == Z_BUF_ERROR)
    return h2k_seterr ("compressed grain is truncated");
  return h2k_seterr ("compressed grain is corrupt (zlib: %s)",
                     msg);
}
