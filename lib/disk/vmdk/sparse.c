/* Sparse extents in general: the table cache, and extents, reads and
 * checks on top of each format's grain lookup (see vmdk-int.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/die.h"
#include "vmdk-int.h"
#include "util/xio.h"

const unsigned char *
vmdk_tcache_get (struct vmdk_tcache *c, int fd, uint64_t off,
                 const char *path)
{
  unsigned victim = 0;

  c->clock++;
  for (unsigned i = 0; i < VMDK_TCACHE_SLOTS; i++) {
    if (c->slot[i].buf && c->slot[i].off == off) {
      c->slot[i].stamp = c->clock;
      return c->slot[i].buf;
    }
    if (c->slot[i].buf == NULL
        || (c->slot[victim].buf && c->slot[i].stamp < c->slot[victim].stamp))
      victim = i;
  }
  if (c->slot[victim].buf == NULL) {
    c->slot[victim].buf = malloc (c->blksize);
    if (c->slot[victim].buf == NULL) {
      h2k_seterr ("%s: out of memory", path);
      return NULL;
    }
  }
  /* Drop the slot's key first: a failed read must not leave stale data
   * under the old key nor half-read data under the new one. */
  c->slot[victim].off = UINT64_MAX;
  ssize_t n = h2k_pread_full (fd, c->slot[victim].buf, c->blksize, off);
  if (n < 0) {
    h2k_seterr ("%s: read at byte %llu: %m", path, (unsigned long long) off);
    return NULL;
  }
  /* A block may run past the end of the file (a small table near the
   * end): callers check that the entries they use are inside it. */
  if ((size_t) n < c->blksize)
    memset (c->slot[victim].buf + n, 0, c->blksize - n);
  c->slot[victim].off = off;
  c->slot[victim].stamp = c->clock;
  return c->slot[victim].buf;
}

void
vmdk_tcache_free (struct vmdk_tcache *c)
{
  for (unsigned i = 0; i < VMDK_TCACHE_SLOTS; i++) {
    free (c->slot[i].buf);
    c->slot[i].buf = NULL;
  }
}

const char *
vmdk_sparse_magic (const unsigned char *head, size_t len)
{
  if (len >= 4 && memcmp (head, "KDMV", 4) == 0)
    return "hosted sparse";
  if (len >= 4 && memcmp (head, "COWD", 4) == 0)
    return "COWD";
  if (len >= 8 && memcmp (head, "\xbe\xba\xfe\xca\0\0\0\0", 8) == 0)
    return "seSparse";
  return NULL;
}

int
vmdk_sparse_open (const char *path, int fd, struct vmdk_sparse **out)
{
  unsigned char head[512];
  struct stat st;
  int r;

  if (fstat (fd, &st) == -1)
    return h2k_seterr ("%s: %m", path);
  ssize_t n = h2k_pread_full (fd, head, sizeof head, 0);
  if (n < 0)
    return h2k_seterr ("%s: %m", path);
  const char *kind = vmdk_sparse_magic (head, n);
  if (kind == NULL)
    return h2k_seterr ("%s: not a sparse extent (no KDMV, COWD or seSparse "
                       "magic)", path);
  if (n < (ssize_t) sizeof head)
    return h2k_seterr ("%s: %s header is truncated (file is %zd bytes)",
                       path, kind, n);

  struct vmdk_sparse *sp = calloc (1, sizeof *sp);
  if (sp == NULL || (sp->path = strdup (path)) == NULL) {
    free (sp);
    return h2k_seterr ("%s: out of memory", path);
  }
  sp->fd = fd;
  sp->zgrain = UINT64_MAX;
  sp->filesize = st.st_size;
  if (S_ISBLK (st.st_mode)) {
    off_t end = lseek (fd, 0, SEEK_END);
    sp->filesize = end > 0 ? (uint64_t) end : 0;
  }

  if (head[0] == 'K')
    r = vmdk_kdmv_open (sp, head);
  else if (head[0] == 'C')
    r = vmdk_cowd_open (sp, head);
  else
    r = vmdk_sesparse_open (sp, head);
  if (r == 0)
    sp->ngrains = (sp->capacity + sp->grain_bytes - 1) / sp->grain_bytes;
  if (r == -1) {
    if (strstr (h2k_errmsg (), path) == NULL)
      h2k_seterr_prefix ("%s", path);
    sp->fd = -1;
    vmdk_sparse_free (sp);
    return -1;
  }
  *out = sp;
  return 0;
}

void
vmdk_sparse_free (struct vmdk_sparse *sp)
{
  if (sp == NULL)
    return;
  free (sp->priv);
  vmdk_tcache_free (&sp->gd);
  vmdk_tcache_free (&sp->gt);
  free (sp->zbuf);
  free (sp->cbuf);
  free (sp->desc_text);
  if (sp->fd >= 0)
    close (sp->fd);
  free (sp->path);
  free (sp);
}

/* Bytes of GRAIN that lie inside the disk (the last one may be short). */
static uint64_t
grain_len (struct vmdk_sparse *sp, uint64_t grain)
{
  uint64_t start = grain * sp->grain_bytes;
  uint64_t left = sp->capacity - start;
  return left < sp->grain_bytes ? left : sp->grain_bytes;
}

int
vmdk_sparse_data_in_file (struct vmdk_sparse *sp, uint64_t grain,
                          uint64_t off)
{
  uint64_t need = grain_len (sp, grain);
  if (off > sp->filesize || need > sp->filesize - off)
    return h2k_seterr ("%s: grain table entry of grain %llu points beyond "
                       "the end of the file (byte %llu, file is %llu bytes)",
                       sp->path, (unsigned long long) grain,
                       (unsigned long long) off,
                       (unsigned long long) sp->filesize);
  return 0;
}

int
vmdk_sparse_extents (struct vmdk_sparse *sp, uint64_t off, uint64_t len,
                     uint64_t base, struct h2k_extent_vector *out)
{
  uint64_t pos = off, end = off + len;

  while (pos < end) {
    if (pos >= sp->capacity)
      /* An extent line longer than the sparse file's capacity. */
      return h2k_bdev_add_extent (out, base + pos, end - pos, H2K_EXTENT_HOLE);
    uint64_t grain = pos / sp->grain_bytes;
    struct vmdk_grain g;
    if (sp->ops->lookup (sp, grain, &g) == -1)
      return -1;
    uint64_t stop = (grain + g.run) * sp->grain_bytes;
    if (stop > sp->capacity || stop < pos)
      stop = sp->capacity;
    if (stop > end)
      stop = end;
    enum h2k_extent_type t = g.st == VG_HOLE ? H2K_EXTENT_HOLE
      : g.st == VG_ZERO ? H2K_EXTENT_ZERO : H2K_EXTENT_DATA;
    if (h2k_bdev_add_extent (out, base + pos, stop - pos, t) == -1)
      return -1;
    pos = stop;
  }
  return 0;
}

int
vmdk_sparse_pread (struct vmdk_sparse *sp, void *buf, uint64_t count,
                   uint64_t off)
{
  unsigned char *p = buf;

  while (count > 0) {
    if (off >= sp->capacity) {
      memset (p, 0, count);
      return 0;
    }
    uint64_t grain = off / sp->grain_bytes;
    uint64_t in = off % sp->grain_bytes;
    uint64_t n = sp->grain_bytes - in;
    if (n > count)
      n = count;
    if (n > sp->capacity - off)
      n = sp->capacity - off;
    struct vmdk_grain g;
    if (sp->ops->lookup (sp, grain, &g) == -1)
      return -1;

    switch (g.st) {
    case VG_HOLE:
    case VG_ZERO: {
      /* The whole run the lookup found, not one grain per lookup: each
       * lookup counts the run again, which made reading a hole of N
       * grains cost N * N table entries. */
      uint64_t stop = (grain + g.run) * sp->grain_bytes;
      if (g.run > 1 && stop > off) {
        uint64_t more = stop - off;
        if (more > count)
          more = count;
        if (more > sp->capacity - off)
          more = sp->capacity - off;
        if (more > n)
          n = more;
      }
      memset (p, 0, n);
      break;
    }
    case VG_DATA: {
      /* Grains that follow each other in the file are read at once. */
      uint64_t start = g.off + in;
      uint64_t next = g.off + sp->grain_bytes;
      while (n < count && off + n < sp->capacity) {
        struct vmdk_grain h;
        uint64_t more = sp->grain_bytes;
        if (sp->ops->lookup (sp, grain + 1, &h) == -1)
          return -1;
        if (h.st != VG_DATA || h.off != next)
          break;
        if (more > count - n)
          more = count - n;
        if (more > sp->capacity - off - n)
          more = sp->capacity - off - n;
        n += more;
        next += sp->grain_bytes;
        grain++;
      }
      if (h2k_pread_exact (sp->fd, p, n, start, sp->path) == -1)
        return -1;
      break;
    }
    case VG_COMPRESSED:
      if (sp->zgrain != grain) {
        sp->zgrain = UINT64_MAX;
        if (sp->ops->read_compressed (sp, grain, g.off) == -1)
          return -1;
        sp->zgrain = grain;
      }
      memcpy (p, sp->zbuf + in, n);
      break;
    }
    p += n;
    off += n;
    count -= n;
  }
  return 0;
}

/* A set of grain table offsets (never 0): open addressing, grown at half
 * full. */
struct table_set {
  uint64_t *slot;
  size_t cap, n;
};

static size_t
table_hash (uint64_t off, size_t cap)
{
  return (size_t) (((off >> 9) * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
}

static bool
table_set_has (const struct table_set *s, uint64_t off)
{
  if (s->cap == 0)
    return false;
  for (size_t i = table_hash (off, s->cap); s->slot[i]; i = (i + 1) & (s->cap - 1))
    if (s->slot[i] == off)
      return true;
  return false;
}

static int
table_set_add (struct table_set *s, uint64_t off)
{
  if (2 * (s->n + 1) > s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 64;
    uint64_t *slot = calloc (cap, sizeof *slot);
    if (slot == NULL)
      return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slot[i]) {
        size_t j = table_hash (s->slot[i], cap);
        while (slot[j])
          j = (j + 1) & (cap - 1);
        slot[j] = s->slot[i];
      }
    free (s->slot);
    s->slot = slot;
    s->cap = cap;
  }
  size_t i = table_hash (off, s->cap);
  while (s->slot[i])
    i = (i + 1) & (s->cap - 1);
  s->slot[i] = off;
  s->n++;
  return 0;
}

int
vmdk_sparse_check (struct vmdk_sparse *sp)
{
  /* Every table entry is checked by lookup; a missing table is skipped
   * as a whole, so a huge, empty disk is checked quickly.  A grain table
   * that several directory entries point at is walked once, when nothing
   * in it depends on where it is used: its entries are checked against
   * the file, not against the grain.  (Compressed grains name their own
   * sector: a table of them is walked each time, and fails on the second
   * use.)  Otherwise a small file whose directory points at one full
   * table again and again costs as much as a fully allocated disk of the
   * capacity it claims. */
  struct table_set done = { 0 };
  uint64_t grain = 0, table = 0, table_end = 0;
  bool clean = false;
  int ret = -1;

  while (grain < sp->ngrains) {
    struct vmdk_grain g;
    if (sp->ops->lookup (sp, grain, &g) == -1)
      goto out;
    uint64_t per = sp->gt_grains;
    if (g.table && per && grain % per == 0 && sp->ngrains - grain >= per) {
      /* The start of a whole table. */
      if (table_set_has (&done, g.table)) {
        grain += per;
        continue;
      }
      table = g.table;
      table_end = grain + per;
      clean = true;
    }
    if (g.st == VG_COMPRESSED) {
      clean = false;
      if (sp->ops->read_compressed (sp, grain, g.off) == -1)
        goto out;
      sp->zgrain = grain;
    }
    grain += g.run ? g.run : 1;
    if (table && grain >= table_end) {
      if (clean && table_set_add (&done, table) == -1) {
        h2k_seterr ("%s: out of memory", sp->path);
        goto out;
      }
      table = 0;
    }
  }
  ret = 0;
 out:
  free (done.slot);
  return ret;
}

int
vmdk_gd_entry (struct vmdk_sparse *sp, uint64_t gd_off, uint64_t gdi,
               unsigned esize, uint64_t *gde)
{
  uint64_t blk = sp->gd.blksize;
  uint64_t boff = gd_off + gdi * esize / blk * blk;
  const unsigned char *gd = vmdk_tcache_get (&sp->gd, sp->fd, boff, sp->path);
  if (gd == NULL)
    return -1;
  const unsigned char *e = gd + (gd_off + gdi * esize - boff);
  *gde = esize == 8 ? vmdk_le64 (e) : vmdk_le32 (e);
  return 0;
}

const unsigned char *
vmdk_gt_at (struct vmdk_sparse *sp, uint64_t gdi, uint64_t gde,
            uint64_t gt_bytes)
{
  uint64_t gt_off = gde * 512;
  if (gt_off > sp->filesize || gt_bytes > sp->filesize - gt_off) {
    h2k_seterr ("%s: grain directory entry %llu points beyond the end "
                "of the file (sector %llu, file is %llu bytes)",
                sp->path, (unsigned long long) gdi,
                (unsigned long long) gde,
                (unsigned long long) sp->filesize);
    return NULL;
  }
  return vmdk_tcache_get (&sp->gt, sp->fd, gt_off, sp->path);
}
