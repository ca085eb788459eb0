/* The "vmdk" block-device driver: one layer of a VMware disk, whatever its
 * form.  The file given is either a descriptor (text) listing extents, or
 * a single sparse extent (KDMV with an embedded descriptor, or a bare COWD
 * or seSparse file).  Extents are concatenated; each is flat (plain bytes
 * in a file at an offset), zero, or sparse (vmdk-sparse.c).  The form is
 * decided by the content, never by the file name. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/bdev.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "vmdk-int.h"
#include "util/xio.h"

enum vx_kind { VX_FLAT, VX_ZERO, VX_SPARSE };

struct vx {
  enum vx_kind kind;
  uint64_t start, len;      /* bytes of the virtual disk */
  int fd;                   /* flat */
  char *path;               /* flat */
  uint64_t foff;            /* flat: bytes into the file */
  struct vmdk_sparse *sp;   /* sparse */
};

struct vmdk {
  struct vx *ext;
  size_t n;
  bool has_desc;            /* CID known */
  uint32_t cid, parent_cid;
  bool has_parent;
};

extern const struct h2k_bdev_ops h2k_vmdk_ops;

static bool
looks_like_descriptor (const unsigned char *head, size_t len)
{
  size_t i = 0;
  /* Skip a UTF-8 byte order mark and leading blank space. */
  if (len >= 3 && memcmp (head, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  while (i < len && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r'
                     || head[i] == '\n'))
    i++;
  if (len - i >= 21 && memcmp (head + i, "# Disk DescriptorFile", 21) == 0)
    return true;
  /* Without the usual first line, a text file that sets createType. */
  if (memchr (head, '\0', len))
    return false;
  return memmem (head, len, "createType", 10) != NULL
    && memmem (head, len, "version", 7) != NULL;
}

static int
vmdk_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  if (vmdk_sparse_magic (head, len))
    return 100;
  if (looks_like_descriptor (head, len))
    return 90;
  return 0;
}

static void
vmdk_free (struct vmdk *v)
{
  if (v == NULL)
    return;
  for (size_t i = 0; i < v->n; i++) {
    struct vx *x = &v->ext[i];
    if (x->kind == VX_FLAT && x->fd >= 0)
      close (x->fd);
    free (x->path);
    vmdk_sparse_free (x->sp);
  }
  free (v->ext);
  free (v);
}

/* Take the CID, parentCID and parent hint of a descriptor. */
static int
take_links (struct h2k_bdev *bd, struct vmdk *v, const struct h2k_vmdk_desc *d)
{
  v->has_desc = d->has_cid;
  v->cid = d->cid;
  v->parent_cid = d->parent_cid;
  if (d->parent_hint == NULL) {
    if (d->has_parent_cid && d->parent_cid != 0xffffffff)
      return h2k_seterr ("%s: descriptor has parentCID=%08x but no "
                         "parentFileNameHint: cannot find the parent",
                         bd->path, d->parent_cid);
    return 0;
  }
  v->has_parent = true;
  /* The hint is relative to the child, and may be a path on the ESXi host
   * (/vmfs/volumes/...): the same directory is the second place to look. */
  CLEANUP_FREE char *copy = strdup (d->parent_hint);
  if (copy == NULL)
    return h2k_seterr ("out of memory");
  bd->parent_path = h2k_path_relative_to (bd->path, d->parent_hint);
  bd->parent_alt = h2k_path_relative_to (bd->path, basename (copy));
  if (bd->parent_path == NULL || bd->parent_alt == NULL)
    return -1;
  return 0;
}

static int
open_flat (struct vx *x, const char *path, const struct h2k_vmdk_desc_extent *e)
{
  struct stat st;

  x->fd = open (path, O_RDONLY | O_CLOEXEC);
  if (x->fd == -1)
    return h2k_seterr ("%s: %m", path);
  if (fstat (x->fd, &st) == -1)
    return h2k_seterr ("%s: %m", path);
  uint64_t size = st.st_size;
  if (S_ISBLK (st.st_mode)) {
    off_t end = lseek (x->fd, 0, SEEK_END);
    size = end > 0 ? (uint64_t) end : 0;
  }
  else if (!S_ISREG (st.st_mode))
    return h2k_seterr ("%s: extent is not a regular file or block device",
                       path);
  x->foff = e->offset * 512;
  if (x->foff > size || x->len > size - x->foff)
    return h2k_seterr ("%s: flat extent is %llu bytes, the descriptor needs "
                       "%llu (truncated?)", path, (unsigned long long) size,
                       (unsigned long long) (x->foff + x->len));
  return 0;
}

static int
open_descriptor (struct h2k_bdev *bd, struct vmdk *v, int fd)
{
  struct stat st;

  if (fstat (fd, &st) == -1)
    return h2k_seterr ("%s: %m", bd->path);
  if (st.st_size > VMDK_MAX_DESC_FILE)
    return h2k_seterr ("%s: not a VMDK (no sparse magic, and too large for "
                       "a descriptor file)", bd->path);
  CLEANUP_FREE char *text = malloc (st.st_size + 1);
  if (text == NULL)
    return h2k_seterr ("out of memory");
  ssize_t n = h2k_pread_full (fd, text, st.st_size, 0);
  if (n < 0)
    return h2k_seterr ("%s: %m", bd->path);
  text[n] = '\0';
  if (!looks_like_descriptor ((unsigned char *) text, n))
    return h2k_seterr ("%s: not a VMDK (no sparse extent magic, and not a "
                       "descriptor)", bd->path);
  /* NUL padding at the end is tolerated; NULs inside are binary data. */
  size_t len = strlen (text);
  for (size_t i = len; i < (size_t) n; i++)
    if (text[i] != '\0')
      return h2k_seterr ("%s: descriptor is not text (NUL byte at byte %zu)",
                         bd->path, len);

  struct h2k_vmdk_desc d;
  if (h2k_vmdk_desc_parse (text, len, &d) == -1)
    return h2k_seterr_prefix ("%s", bd->path);
  int r = -1;
  if (d.extents.len == 0) {
    h2k_seterr ("%s: descriptor has no extent lines", bd->path);
    goto out;
  }
  if (take_links (bd, v, &d) == -1)
    goto out;
  v->ext = calloc (d.extents.len, sizeof *v->ext);
  if (v->ext == NULL) {
    h2k_seterr ("out of memory");
    goto out;
  }
  uint64_t pos = 0;
  for (size_t i = 0; i < d.extents.len; i++) {
    struct h2k_vmdk_desc_extent *e = &d.extents.ptr[i];
    struct vx *x = &v->ext[v->n++];
    x->fd = -1;
    x->start = pos;
    x->len = e->sectors * 512;
    pos += x->len;
    /* NOACCESS extents have no readable data: they read as zeros. */
    if (e->type == H2K_VMDK_EXT_ZERO || e->access == H2K_VMDK_NOACCESS) {
      x->kind = VX_ZERO;
      continue;
    }
    x->path = h2k_path_relative_to (bd->path, e->filename);
    if (x->path == NULL)
      goto out;
    if (e->type == H2K_VMDK_EXT_FLAT) {
      x->kind = VX_FLAT;
      if (open_flat (x, x->path, e) == -1)
        goto out;
      continue;
    }
    x->kind = VX_SPARSE;
    int efd = open (x->path, O_RDONLY | O_CLOEXEC);
    if (efd == -1) {
      h2k_seterr ("%s: %m", x->path);
      goto out;
    }
    if (vmdk_sparse_open (x->path, efd, &x->sp) == -1) {
      close (efd);
      goto out;
    }
  }
  bd->size = pos;
  r = 0;
 out:
  h2k_vmdk_desc_free (&d);
  return r;
}

static int
open_sparse (struct h2k_bdev *bd, struct vmdk *v, int fd)
{
  v->ext = calloc (1, sizeof *v->ext);
  if (v->ext == NULL)
    return h2k_seterr ("out of memory");
  /* The sparse extent takes FD only on success; bdev.c closes it on
   * failure. */
  struct vx *x = &v->ext[0];
  x->kind = VX_SPARSE;
  x->fd = -1;
  if (vmdk_sparse_open (bd->path, fd, &x->sp) == -1)
    return -1;
  v->n = 1;
  x->len = x->sp->capacity;
  bd->size = x->len;

  /* The embedded descriptor gives the CIDs and the parent; its extent
   * lines name the file as it was first called, so they are ignored. */
  if (x->sp->desc_text) {
    struct h2k_vmdk_desc d;
    if (h2k_vmdk_desc_parse (x->sp->desc_text, x->sp->desc_len, &d) == -1)
      return h2k_seterr_prefix ("%s: embedded descriptor", bd->path);
    int r = take_links (bd, v, &d);
    h2k_vmdk_desc_free (&d);
    if (r == -1)
      return -1;
  }
  return 0;
}

static int
vmdk_open (struct h2k_bdev *bd, int fd, unsigned flags)
{
  unsigned char head[16];
  struct vmdk *v = calloc (1, sizeof *v);
  if (v == NULL)
    return h2k_seterr ("out of memory");

  ssize_t n = h2k_pread_full (fd, head, sizeof head, 0);
  if (n < 0) {
    free (v);
    return h2k_seterr ("%s: %m", bd->path);
  }
  int r;
  if (vmdk_sparse_magic (head, n)) {
    r = open_sparse (bd, v, fd);
    if (r == -1 && v->n == 0) {
      /* FD is still ours to give back. */
      vmdk_free (v);
      return -1;
    }
  }
  else {
    r = open_descriptor (bd, v, fd);
    if (r == 0)
      close (fd);
  }
  if (r == -1) {
    /* The sparse extent owns FD now: take it back for bdev.c. */
    if (v->n == 1 && v->ext[0].sp && v->ext[0].sp->fd == fd)
      v->ext[0].sp->fd = -1;
    vmdk_free (v);
    return -1;
  }
  bd->data = v;
  return 0;
}

/* The extent that holds byte OFF (the last one if OFF is at the end). */
static size_t
find_extent (struct vmdk *v, uint64_t off)
{
  size_t lo = 0, hi = v->n;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (v->ext[mid].start <= off)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

static int
vmdk_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct vmdk *v = bd->data;
  unsigned char *p = buf;

  for (size_t i = find_extent (v, offset); count > 0 && i < v->n; i++) {
    struct vx *x = &v->ext[i];
    if (offset >= x->start + x->len)
      continue;
    uint64_t rel = offset - x->start;
    uint64_t n = x->len - rel < count ? x->len - rel : count;
    switch (x->kind) {
    case VX_ZERO:
      memset (p, 0, n);
      break;
    case VX_FLAT:
      if (h2k_pread_exact (x->fd, p, n, x->foff + rel, x->path) == -1)
        return -1;
      break;
    case VX_SPARSE:
      if (vmdk_sparse_pread (x->sp, p, n, rel) == -1)
        return -1;
      break;
    }
    p += n;
    offset += n;
    count -= n;
  }
  if (count > 0)
    memset (p, 0, count);
  return 0;
}

/* Holes of a sparse flat file read as zeros: ZERO, not HOLE. */
static int
flat_extents (struct vx *x, uint64_t rel, uint64_t len,
              struct h2k_extent_vector *out)
{
  return h2k_host_extents (x->fd, x->path, x->foff + rel, len, x->start + rel,
                           out);
}

static int
vmdk_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
              struct h2k_extent_vector *out)
{
  struct vmdk *v = bd->data;
  uint64_t end = offset + length;

  for (size_t i = find_extent (v, offset); offset < end && i < v->n; i++) {
    struct vx *x = &v->ext[i];
    if (offset >= x->start + x->len)
      continue;
    uint64_t rel = offset - x->start;
    uint64_t n = x->len - rel < end - offset ? x->len - rel : end - offset;
    int r = 0;
    switch (x->kind) {
    case VX_ZERO:
      r = h2k_bdev_add_extent (out, offset, n, H2K_EXTENT_ZERO);
      break;
    case VX_FLAT:
      r = flat_extents (x, rel, n, out);
      break;
    case VX_SPARSE:
      r = vmdk_sparse_extents (x->sp, rel, n, x->start, out);
      break;
    }
    if (r == -1)
      return -1;
    offset += n;
  }
  if (offset < end)
    return h2k_bdev_add_extent (out, offset, end - offset, H2K_EXTENT_ZERO);
  return 0;
}

static int
vmdk_check_parent (struct h2k_bdev *child, struct h2k_bdev *parent,
                   unsigned flags)
{
  struct vmdk *c = child->data;

  if (h2k_parent_same_format (child, parent, &h2k_vmdk_ops, "VMDK") == -1)
    return -1;
  struct vmdk *p = parent->data;
  if ((flags & H2K_OPEN_IGNORE_PARENT_ID) || !c->has_desc || !p->has_desc)
    return 0;
  if (c->parent_cid != p->cid) {
    h2k_seterr ("%s: parentCID %08x does not match the CID %08x of "
                "parent %s: the parent was modified after this "
                "snapshot was taken", child->path, c->parent_cid, p->cid,
                parent->path);
    return h2k_seterr_code (H2K_ERR_PARENT_ID);
  }
  return 0;
}

static int
vmdk_check (struct h2k_bdev *bd)
{
  struct vmdk *v = bd->data;

  for (size_t i = 0; i < v->n; i++)
    if (v->ext[i].kind == VX_SPARSE && vmdk_sparse_check (v->ext[i].sp) == -1)
      return -1;
  if (bd->parent && bd->parent->size != bd->size)
    return h2k_seterr ("%s: size %llu differs from the size %llu of its "
                       "parent %s", bd->path, (unsigned long long) bd->size,
                       (unsigned long long) bd->parent->size,
                       bd->parent->path);
  return 0;
}

/* The extent files of a descriptor (a sparse file's one extent is the
 * file itself, which has no path of its own here). */
static const char *
vmdk_file (struct h2k_bdev *bd, size_t i)
{
  struct vmdk *v = bd->data;

  for (size_t k = 0; k < v->n; k++) {
    const char *p = v->ext[k].path;
    bool seen = p == NULL || strcmp (p, bd->path) == 0;
    for (size_t j = 0; !seen && j < k; j++)
      seen = v->ext[j].path && strcmp (v->ext[j].path, p) == 0;
    if (!seen && i-- == 0)
      return p;
  }
  return NULL;
}

static void
vmdk_close (struct h2k_bdev *bd)
{
  vmdk_free (bd->data);
}

const struct h2k_bdev_ops h2k_vmdk_ops = {
  .name = "vmdk",
  .probe = vmdk_probe,
  .open = vmdk_open,
  .pread = vmdk_pread,
  .extents = vmdk_extents,
  .check_parent = vmdk_check_parent,
  .check = vmdk_check,
  .file = vmdk_file,
  .close = vmdk_close,
};
