/* Hosted sparse extents ("KDMV"): monolithicSparse, twoGbMaxExtentSparse
 * pieces and streamOptimized in both layouts (formats.md 2). */
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "vmdk-int.h"
#include "util/xio.h"

#define GD_BLOCK 4096   /* the grain directory is read in 4 KiB blocks */

struct kdmv {
  struct h2k_vmdk_header h;
  uint64_t gd_off;        /* bytes */
  uint64_t gd_entries;
  uint64_t gt_bytes;
};

/* The footer of a stream whose header says GD_AT_END: footer marker,
 * a copy of the header with the real gd_offset, EOS marker. */
static int
read_footer (struct vmdk_sparse *sp, struct h2k_vmdk_header *h)
{
  unsigned char buf[1536];
  struct h2k_vmdk_marker m;

  if (sp->filesize < 512 + sizeof buf)
    return h2k_seterr ("%s: grain directory is at the end but the file is "
                       "too short for a footer (truncated?)", sp->path);
  if (h2k_pread_exact (sp->fd, buf, sizeof buf, sp->filesize - sizeof buf,
                       sp->path) == -1)
    return -1;
  if (h2k_vmdk_parse_marker (buf, 512, &m) == -1
      || m.type != H2K_VMDK_MARKER_FOOTER
      || h2k_vmdk_parse_marker (buf + 1024, 512, &m) == -1
      || m.type != H2K_VMDK_MARKER_EOS)
    return h2k_seterr ("%s: grain directory is at the end but there is no "
                       "footer and end-of-stream marker (truncated?)",
                       sp->path);
  if (h2k_vmdk_parse_header (buf + 512, h) == -1)
    return h2k_seterr_prefix ("%s: footer", sp->path);
  if (h->gd_offset == H2K_VMDK_GD_AT_END)
    return h2k_seterr ("%s: footer does not give the grain directory's "
                       "offset", sp->path);
  return 0;
}

static int
kdmv_lookup (struct vmdk_sparse *sp, uint64_t grain, struct vmdk_grain *g)
{
  struct kdmv *k = sp->priv;
  uint64_t n = k->h.num_gtes_per_gt;
  uint64_t gdi = grain / n, gti = grain % n;

  uint64_t gde;
  if (vmdk_gd_entry (sp, k->gd_off, gdi, 4, &gde) == -1)
    return -1;
  if (gde == 0) {
    *g = (struct vmdk_grain) { VG_HOLE, 0, n - gti, 0 };
    return 0;
  }
  const unsigned char *gt = vmdk_gt_at (sp, gdi, gde, k->gt_bytes);
  if (gt == NULL)
    return -1;
  uint32_t gte = vmdk_le32 (gt + gti * 4);
  bool zero = gte == 1 && (k->h.flags & H2K_VMDK_FLAG_ZERO_GRAIN);
  if (gte == 0 || zero) {
    /* Count the run of equal entries, so that extents stay few. */
    uint64_t run = 1;
    while (gti + run < n && vmdk_le32 (gt + (gti + run) * 4) == gte)
      run++;
    *g = (struct vmdk_grain) { zero ? VG_ZERO : VG_HOLE, 0, run, gde * 512 };
    return 0;
  }
  g->off = (uint64_t) gte * 512;
  g->run = 1;
  g->table = gde * 512;
  if (k->h.compressed) {
    g->st = VG_COMPRESSED;
    if (g->off > sp->filesize || sp->filesize - g->off < 12)
      return h2k_seterr ("%s: grain table entry of grain %llu points beyond "
                         "the end of the file (sector %u, file is %llu "
                         "bytes)", sp->path, (unsigned long long) grain,
                         gte, (unsigned long long) sp->filesize);
    return 0;
  }
  g->st = VG_DATA;
  return vmdk_sparse_data_in_file (sp, grain, g->off);
}

static int
kdmv_read_compressed (struct vmdk_sparse *sp, uint64_t grain, uint64_t off)
{
  struct kdmv *k = sp->priv;
  unsigned char hdr[12];
  size_t hlen = k->h.markers ? 12 : 4;
  uint32_t size;

  if (h2k_pread_exact (sp->fd, hdr, hlen, off, sp->path) == -1)
    return -1;
  if (k->h.markers) {
    uint64_t lba = vmdk_le64 (hdr);
    size = vmdk_le32 (hdr + 8);
    if (lba != grain * k->h.grain_size)
      return h2k_seterr ("%s: grain marker at byte %llu is for sector %llu, "
                         "but the grain table says grain %llu (sector %llu)",
                         sp->path, (unsigned long long) off,
                         (unsigned long long) lba, (unsigned long long) grain,
                         (unsigned long long) (grain * k->h.grain_size));
  }
  else
    size = vmdk_le32 (hdr);
  /* zlib never grows data by more than a few bytes per 16 KiB. */
  size_t limit = sp->grain_bytes + sp->grain_bytes / 8 + 1024;
  if (size == 0 || size > limit)
    return h2k_seterr ("%s: compressed grain %llu at byte %llu has an "
                       "invalid size (%u bytes)", sp->path,
                       (unsigned long long) grain, (unsigned long long) off,
                       size);
  if (off + hlen > sp->filesize || size > sp->filesize - off - hlen)
    return h2k_seterr ("%s: compressed grain %llu at byte %llu extends "
                       "beyond the end of the file (truncated?)", sp->path,
                       (unsigned long long) grain, (unsigned long long) off);
  /* The buffers are allocated on first use: a chain of many layers only
   * pays for the compressed ones. */
  if (sp->cbuf == NULL) {
    sp->cbuf = malloc (limit);
    sp->zbuf = malloc (sp->grain_bytes);
    if (sp->cbuf == NULL || sp->zbuf == NULL)
      return h2k_seterr ("%s: out of memory", sp->path);
  }
  if (h2k_pread_exact (sp->fd, sp->cbuf, size, off + hlen, sp->path) == -1)
    return -1;
  size_t got;
  if (h2k_vmdk_inflate_grain (sp->cbuf, size, sp->zbuf, sp->grain_bytes,
                              &got) == -1)
    return h2k_seterr_prefix ("%s: grain %llu at byte %llu", sp->path,
                              (unsigned long long) grain,
                              (unsigned long long) off);
  uint64_t need = sp->capacity - grain * sp->grain_bytes;
  if (need > sp->grain_bytes)
    need = sp->grain_bytes;
  if (got < need)
    return h2k_seterr ("%s: compressed grain %llu inflates to %zu bytes, "
                       "expected %llu", sp->path, (unsigned long long) grain,
                       got, (unsigned long long) need);
  memset (sp->zbuf + got, 0, sp->grain_bytes - got);
  return 0;
}

static const struct vmdk_sparse_ops kdmv_ops = {
  .lookup = kdmv_lookup,
  .read_compressed = kdmv_read_compressed,
};

static const struct vmdk_sparse_ops kdmv_plain_ops = {
  .lookup = kdmv_lookup,
};

int
vmdk_kdmv_open (struct vmdk_sparse *sp, const unsigned char *head)
{
  struct kdmv *k = calloc (1, sizeof *k);
  if (k == NULL)
    return h2k_seterr ("%s: out of memory", sp->path);
  sp->priv = k;

  struct h2k_vmdk_header *h = &k->h;
  if (h2k_vmdk_parse_header (head, h) == -1)
    return -1;
  sp->ops = h->compressed ? &kdmv_ops : &kdmv_plain_ops;

  /* The embedded descriptor, cut at its NUL padding. */
  if (h->desc_offset != 0) {
    uint64_t doff = h->desc_offset * 512;
    if (doff >= sp->filesize)
      return h2k_seterr ("%s: embedded descriptor at sector %llu is beyond "
                         "the end of the file", sp->path,
                         (unsigned long long) h->desc_offset);
    uint64_t dlen = h->desc_size * 512;
    if (dlen > sp->filesize - doff)
      dlen = sp->filesize - doff;
    sp->desc_text = malloc (dlen + 1);
    if (sp->desc_text == NULL)
      return h2k_seterr ("%s: out of memory", sp->path);
    if (h2k_pread_exact (sp->fd, sp->desc_text, dlen, doff, sp->path) == -1)
      return -1;
    sp->desc_text[dlen] = '\0';
    sp->desc_len = strlen (sp->desc_text);
  }

  if (h->gd_offset == H2K_VMDK_GD_AT_END) {
    struct h2k_vmdk_header f;
    if (read_footer (sp, &f) == -1)
      return -1;
    /* The footer is the authority: it was written last. */
    f.desc_offset = h->desc_offset;
    f.desc_size = h->desc_size;
    *h = f;
    sp->ops = h->compressed ? &kdmv_ops : &kdmv_plain_ops;
  }
  uint64_t gd = h->gd_offset;
  if (gd == 0 && (h->flags & H2K_VMDK_FLAG_RGD))
    gd = h->rgd_offset;
  if (gd == 0)
    return h2k_seterr ("%s: header gives no grain directory", sp->path);

  sp->capacity = h->capacity * 512;
  sp->grain_bytes = h->grain_size * 512;
  k->gd_entries = h2k_vmdk_gd_entries (h);
  k->gt_bytes = (uint64_t) h->num_gtes_per_gt * 4;
  sp->gt_grains = h->num_gtes_per_gt;
  if (gd > sp->filesize / 512
      || k->gd_entries * 4 > sp->filesize - gd * 512)
    return h2k_seterr ("%s: grain directory (%llu entries at sector %llu) "
                       "extends beyond the end of the file (%llu bytes): "
                       "the header's capacity is wrong or the file is "
                       "truncated", sp->path,
                       (unsigned long long) k->gd_entries,
                       (unsigned long long) gd,
                       (unsigned long long) sp->filesize);
  k->gd_off = gd * 512;
  sp->gd.blksize = GD_BLOCK;
  sp->gt.blksize = k->gt_bytes;
  return 0;
}
