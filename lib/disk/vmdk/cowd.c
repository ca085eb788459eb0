/* ESX vmfsSparse delta extents ("COWD", formats.md 3): a 2048-byte header
 * of u32 fields, a grain directory of sector offsets to grain tables of
 * exactly 4096 u32 entries, no zero-grain value. */
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "vmdk-int.h"

#define COWD_GT_ENTRIES 4096
#define COWD_GD_BLOCK 4096

struct cowd {
  uint64_t gd_off;        /* bytes */
  uint64_t gd_entries;
};

static int
cowd_lookup (struct vmdk_sparse *sp, uint64_t grain, struct vmdk_grain *g)
{
  struct cowd *c = sp->priv;
  uint64_t gdi = grain / COWD_GT_ENTRIES, gti = grain % COWD_GT_ENTRIES;

  if (gdi >= c->gd_entries)
    return h2k_seterr ("%s: grain %llu is beyond the grain directory",
                       sp->path, (unsigned long long) grain);
  uint64_t gde;
  if (vmdk_gd_entry (sp, c->gd_off, gdi, 4, &gde) == -1)
    return -1;
  if (gde == 0) {
    *g = (struct vmdk_grain) { VG_HOLE, 0, COWD_GT_ENTRIES - gti, 0 };
    return 0;
  }
  const unsigned char *gt = vmdk_gt_at (sp, gdi, gde, COWD_GT_ENTRIES * 4);
  if (gt == NULL)
    return -1;
  uint32_t gte = vmdk_le32 (gt + gti * 4);
  if (gte == 0) {
    uint64_t run = 1;
    while (gti + run < COWD_GT_ENTRIES && vmdk_le32 (gt + (gti + run) * 4) == 0)
      run++;
    *g = (struct vmdk_grain) { VG_HOLE, 0, run, gde * 512 };
    return 0;
  }
  *g = (struct vmdk_grain) { VG_DATA, (uint64_t) gte * 512, 1, gde * 512 };
  return vmdk_sparse_data_in_file (sp, grain, g->off);
}

static const struct vmdk_sparse_ops cowd_ops = {
  .lookup = cowd_lookup,
};

int
vmdk_cowd_open (struct vmdk_sparse *sp, const unsigned char *head)
{
  struct cowd *c = calloc (1, sizeof *c);
  if (c == NULL)
    return h2k_seterr ("%s: out of memory", sp->path);
  sp->priv = c;
  sp->ops = &cowd_ops;

  uint32_t version = vmdk_le32 (head + 4);
  uint64_t capacity = vmdk_le32 (head + 12);
  uint64_t grain = vmdk_le32 (head + 16);
  uint64_t gd = vmdk_le32 (head + 20);
  c->gd_entries = vmdk_le32 (head + 24);

  if (version != 1)
    return h2k_seterr ("%s: unsupported COWD version %u", sp->path, version);
  if (sp->filesize < 2048)
    return h2k_seterr ("%s: COWD header is truncated (file is %llu bytes)",
                       sp->path, (unsigned long long) sp->filesize);
  if (grain == 0 || grain > VMDK_MAX_GRAIN_SECTORS || (grain & (grain - 1)))
    return h2k_seterr ("%s: invalid COWD grain size %llu sectors (must be a "
                       "power of 2 up to %d)", sp->path,
                       (unsigned long long) grain, VMDK_MAX_GRAIN_SECTORS);
  uint64_t per_gt = COWD_GT_ENTRIES * grain;
  uint64_t need = (capacity + per_gt - 1) / per_gt;
  if (c->gd_entries < need)
    return h2k_seterr ("%s: COWD grain directory has %llu entries, the "
                       "capacity of %llu sectors needs %llu", sp->path,
                       (unsigned long long) c->gd_entries,
                       (unsigned long long) capacity,
                       (unsigned long long) need);
  if (gd == 0 || gd > sp->filesize / 512
      || c->gd_entries * 4 > sp->filesize - gd * 512)
    return h2k_seterr ("%s: COWD grain directory (%llu entries at sector "
                       "%llu) extends beyond the end of the file (%llu "
                       "bytes)", sp->path, (unsigned long long) c->gd_entries,
                       (unsigned long long) gd,
                       (unsigned long long) sp->filesize);
  c->gd_off = gd * 512;
  sp->capacity = capacity * 512;
  sp->grain_bytes = grain * 512;
  sp->gd.blksize = COWD_GD_BLOCK;
  sp->gt.blksize = COWD_GT_ENTRIES * 4;
  sp->gt_grains = COWD_GT_ENTRIES;
  return 0;
}
