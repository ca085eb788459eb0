/* seSparse delta extents (ESXi 6.5+, formats.md 4): 4 KiB grains, a
 * grain directory of u64 table indexes, grain tables of 4096 u64 entries
 * whose top nibble gives the state.  Read-only: a journal that needs
 * replaying is refused, as qemu does. */
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "vmdk-int.h"
#include "util/xio.h"

#define SES_GT_ENTRIES 4096
#define SES_GD_BLOCK 4096

struct sesparse {
  uint64_t gd_off;          /* bytes */
  uint64_t gd_entries;
  uint64_t gt_off;          /* bytes */
  uint64_t gt_count;        /* tables the grain-tables area holds */
  uint64_t grains_off;      /* bytes */
};

static int
ses_lookup (struct vmdk_sparse *sp, uint64_t grain, struct vmdk_grain *g)
{
  struct sesparse *s = sp->priv;
  uint64_t gdi = grain / SES_GT_ENTRIES, gti = grain % SES_GT_ENTRIES;

  if (gdi >= s->gd_entries)
    return h2k_seterr ("%s: grain %llu is beyond the grain directory",
                       sp->path, (unsigned long long) grain);
  uint64_t gde;
  if (vmdk_gd_entry (sp, s->gd_off, gdi, 8, &gde) == -1)
    return -1;
  if (gde == 0) {
    *g = (struct vmdk_grain) { VG_HOLE, 0, SES_GT_ENTRIES - gti, 0 };
    return 0;
  }
  if ((gde >> 32) != 0x10000000)
    return h2k_seterr ("%s: invalid grain directory entry %llu "
                       "(0x%016llx)", sp->path, (unsigned long long) gdi,
                       (unsigned long long) gde);
  uint64_t idx = gde & 0xffffffff;
  if (idx >= s->gt_count)
    return h2k_seterr ("%s: grain directory entry %llu names grain table "
                       "%llu, beyond the grain tables area (%llu tables)",
                       sp->path, (unsigned long long) gdi,
                       (unsigned long long) idx,
                       (unsigned long long) s->gt_count);
  uint64_t gt_off = s->gt_off + idx * SES_GT_ENTRIES * 8;
  if (gt_off > sp->filesize || SES_GT_ENTRIES * 8 > sp->filesize - gt_off)
    return h2k_seterr ("%s: grain table %llu is beyond the end of the file "
                       "(truncated?)", sp->path, (unsigned long long) idx);
  const unsigned char *gt = vmdk_tcache_get (&sp->gt, sp->fd, gt_off,
                                             sp->path);
  if (gt == NULL)
    return -1;
  uint64_t gte = vmdk_le64 (gt + gti * 8);
  unsigned state = gte >> 60;
  switch (state) {
  case 0:
  case 1:
  case 2: {
    if (state == 0 && gte != 0)
      break;
    /* Unmapped (1) and zero (2) grains both read as zeros and hide the
     * parent; only an all-zero entry falls through. */
    enum vmdk_grain_state st = state == 0 ? VG_HOLE : VG_ZERO;
    uint64_t run = 1;
    while (gti + run < SES_GT_ENTRIES) {
      uint64_t e = vmdk_le64 (gt + (gti + run) * 8);
      unsigned es = e >> 60;
      if (state == 0 ? e != 0 : (es != 1 && es != 2))
        break;
      run++;
    }
    *g = (struct vmdk_grain) { st, 0, run, gt_off };
    return 0;
  }
  case 3: {
    uint64_t gi = ((gte >> 48) & 0xfff) | ((gte & 0x0000ffffffffffffULL) << 12);
    if (gi > (sp->filesize - s->grains_off) / 4096)
      return h2k_seterr ("%s: grain table entry of grain %llu points beyond "
                         "the end of the file (grain %llu)", sp->path,
                         (unsigned long long) grain, (unsigned long long) gi);
    *g = (struct vmdk_grain) { VG_DATA, s->grains_off + gi * 4096, 1, gt_off };
    return vmdk_sparse_data_in_file (sp, grain, g->off);
  }
  }
  return h2k_seterr ("%s: invalid grain table entry 0x%016llx for grain %llu",
                     sp->path, (unsigned long long) gte,
                     (unsigned long long) grain);
}

static const struct vmdk_sparse_ops ses_ops = {
  .lookup = ses_lookup,
};

/* An area of the file given as sector offset and size in the header. */
static int
area (struct vmdk_sparse *sp, const unsigned char *head, int field,
      const char *what, uint64_t *off, uint64_t *size)
{
  *off = vmdk_le64 (head + field * 8);
  *size = vmdk_le64 (head + field * 8 + 8);
  if (*off == 0 || *off > sp->filesize / 512
      || *size > (sp->filesize - *off * 512) / 512)
    return h2k_seterr ("%s: seSparse %s (%llu sectors at sector %llu) is "
                       "beyond the end of the file (%llu bytes)", sp->path,
                       what, (unsigned long long) *size,
                       (unsigned long long) *off,
                       (unsigned long long) sp->filesize);
  return 0;
}

int
vmdk_sesparse_open (struct vmdk_sparse *sp, const unsigned char *head)
{
  struct sesparse *s = calloc (1, sizeof *s);
  if (s == NULL)
    return h2k_seterr ("%s: out of memory", sp->path);
  sp->priv = s;
  sp->ops = &ses_ops;

  uint64_t version = vmdk_le64 (head + 8);
  uint64_t capacity = vmdk_le64 (head + 16);
  uint64_t grain = vmdk_le64 (head + 24);
  uint64_t gt_size = vmdk_le64 (head + 32);
  uint64_t flags = vmdk_le64 (head + 40);

  if (version != 0x200000001ULL)
    return h2k_seterr ("%s: unsupported seSparse version 0x%llx", sp->path,
                       (unsigned long long) version);
  if (grain != 8)
    return h2k_seterr ("%s: unsupported seSparse grain size %llu sectors "
                       "(only 8 is known)", sp->path,
                       (unsigned long long) grain);
  if (gt_size != 64)
    return h2k_seterr ("%s: unsupported seSparse grain table size %llu "
                       "sectors (only 64 is known)", sp->path,
                       (unsigned long long) gt_size);
  if (flags != 0)
    return h2k_seterr ("%s: unsupported seSparse flags 0x%llx", sp->path,
                       (unsigned long long) flags);
  if (capacity > H2K_VMDK_MAX_CAPACITY / 512)
    return h2k_seterr ("%s: capacity of %llu sectors is absurd (more than "
                       "64 TiB)", sp->path, (unsigned long long) capacity);

  uint64_t voff, vsize, off, size;
  if (area (sp, head, 10, "volatile header", &voff, &vsize) == -1)
    return -1;
  unsigned char vh[32];
  if (h2k_pread_exact (sp->fd, vh, sizeof vh, voff * 512, sp->path) == -1)
    return -1;
  if (vmdk_le64 (vh) != 0xcafecafeULL)
    return h2k_seterr ("%s: seSparse volatile header has a bad magic",
                       sp->path);
  if (vmdk_le64 (vh + 24) != 0)
    return h2k_seterr ("%s: seSparse journal needs replaying (the delta was "
                       "not closed cleanly); refusing to read it", sp->path);

  if (area (sp, head, 16, "grain directory", &off, &size) == -1)
    return -1;
  s->gd_off = off * 512;
  s->gd_entries = size * 512 / 8;
  uint64_t need = (capacity + SES_GT_ENTRIES * 8 - 1) / (SES_GT_ENTRIES * 8);
  if (s->gd_entries < need)
    return h2k_seterr ("%s: seSparse grain directory has %llu entries, the "
                       "capacity of %llu sectors needs %llu", sp->path,
                       (unsigned long long) s->gd_entries,
                       (unsigned long long) capacity,
                       (unsigned long long) need);
  if (area (sp, head, 18, "grain tables", &off, &size) == -1)
    return -1;
  s->gt_off = off * 512;
  s->gt_count = size / 64;
  /* The grains area may legitimately reach past the end of a file that
   * has not filled it yet: only its start must be inside. */
  off = vmdk_le64 (head + 24 * 8);
  if (off == 0 || off > sp->filesize / 512)
    return h2k_seterr ("%s: seSparse grains area at sector %llu is beyond "
                       "the end of the file", sp->path,
                       (unsigned long long) off);
  s->grains_off = off * 512;

  sp->capacity = capacity * 512;
  sp->grain_bytes = 4096;
  sp->gd.blksize = SES_GD_BLOCK;
  sp->gt.blksize = SES_GT_ENTRIES * 8;
  sp->gt_grains = SES_GT_ENTRIES;
  return 0;
}
