/* The chain layer and the generic parts of the block-device interface. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev.h"
#include "util/cleanup.h"
#include "util/die.h"
#include "util/xio.h"

#define PROBE_BYTES 65536

const struct h2k_bdev_ops *
h2k_bdev_find_driver (const char *name)
{
  for (size_t i = 0; h2k_bdev_drivers[i]; i++)
    if (strcmp (h2k_bdev_drivers[i]->name, name) == 0)
      return h2k_bdev_drivers[i];
  return NULL;
}

int
h2k_bdev_open (const char *path, const char *format, unsigned flags,
               struct h2k_bdev **out)
{
  const struct h2k_bdev_ops *ops = NULL;
  struct stat st;
  int fd;

  if (format) {
    ops = h2k_bdev_find_driver (format);
    if (ops == NULL)
      return h2k_seterr ("%s: unknown format '%s'", path, format);
  }

  fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return h2k_seterr ("%s: %m", path);
  if (fstat (fd, &st) == -1) {
    h2k_seterr ("%s: %m", path);
    close (fd);
    return -1;
  }
  if (S_ISDIR (st.st_mode)) {
    close (fd);
    return h2k_seterr ("%s: is a directory", path);
  }
  uint64_t filesize = st.st_size;
  if (S_ISBLK (st.st_mode)) {
    off_t end = lseek (fd, 0, SEEK_END);
    filesize = end > 0 ? (uint64_t) end : 0;
  }

  if (ops == NULL) {
    CLEANUP_FREE unsigned char *head = malloc (PROBE_BYTES);
    if (head == NULL) {
      close (fd);
      return h2k_seterr ("%s: out of memory", path);
    }
    ssize_t n = h2k_pread_full (fd, head, PROBE_BYTES, 0);
    if (n < 0) {
      h2k_seterr ("%s: %m", path);
      close (fd);
      return -1;
    }
    int best = 0;
    for (size_t i = 0; h2k_bdev_drivers[i]; i++) {
      int score = h2k_bdev_drivers[i]->probe (head, n, fd, filesize);
      if (score > best) {
        best = score;
        ops = h2k_bdev_drivers[i];
      }
    }
    if (ops == NULL) {
      close (fd);
      const char *what = h2k_raw_not_a_disk (head, n);
      if (what)
        return h2k_seterr ("%s: %s (to read it as a raw disk all the same, "
                           "give its format: raw)", path, what);
      return h2k_seterr ("%s: unrecognised disk format", path);
    }
  }

  struct h2k_bdev *bd = calloc (1, sizeof *bd);
  if (bd == NULL || (bd->path = strdup (path)) == NULL) {
    free (bd);
    close (fd);
    return h2k_seterr ("%s: out of memory", path);
  }
  bd->ops = ops;
  /* On success the driver owns FD and closes it in its close hook; on
   * failure it is still ours. */
  if (ops->open (bd, fd, flags) == -1) {
    close (fd);
    /* Drivers report the subject themselves when it is another file (an
     * extent, a parent); otherwise name this file. */
    if (strstr (h2k_errmsg (), path) == NULL)
      h2k_seterr_prefix ("%s", path);
    free (bd->parent_path);
    free (bd->parent_alt);
    free (bd->path);
    free (bd);
    return -1;
  }
  *out = bd;
  return 0;
}

void
h2k_bdev_close (struct h2k_bdev *bd)
{
  while (bd) {
    struct h2k_bdev *parent = bd->parent;
    bd->ops->close (bd);
    free (bd->parent_path);
    free (bd->parent_alt);
    free (bd->path);
    free (bd);
    bd = parent;
  }
}

static int
same_file (const char *a, const char *b)
{
  struct stat sa, sb;
  return stat (a, &sa) == 0 && stat (b, &sb) == 0
    && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The chain from PATH down.  On failure, with KEEP the layers that did
 * open are left in *OUT (top first) for the caller to list and close;
 * without it they are closed. */
static int
chain_open (const char *path, const char *format, unsigned flags,
            bool keep, struct h2k_bdev **out)
{
  struct h2k_bdev *top, *cur;

  *out = NULL;
  if (h2k_bdev_open (path, format, flags, &top) == -1)
    return -1;
  if (flags & H2K_OPEN_NO_PARENT) {
    *out = top;
    return 0;
  }

  for (cur = top; cur->parent_path; cur = cur->parent) {
    const char *ppath = cur->parent_path;
    struct stat st;

    if (cur->depth + 1 > H2K_CHAIN_MAX_DEPTH) {
      h2k_seterr ("%s: parent chain deeper than %d layers (a loop?)",
                  path, H2K_CHAIN_MAX_DEPTH);
      goto fail;
    }
    if (stat (ppath, &st) == -1 && cur->parent_alt
        && stat (cur->parent_alt, &st) == 0)
      ppath = cur->parent_alt;
    if (stat (ppath, &st) == -1) {
      if (cur->parent_alt && strcmp (cur->parent_alt, cur->parent_path) != 0)
        h2k_seterr ("%s: parent not found: %s (also tried %s)", cur->path,
                    cur->parent_path, cur->parent_alt);
      else
        h2k_seterr ("%s: parent not found: %s: %m", cur->path, cur->parent_path);
      goto fail;
    }
    /* A layer that names itself or one of its children loops. */
    for (struct h2k_bdev *b = top; b; b = b->parent)
      if (same_file (b->path, ppath)) {
        h2k_seterr ("%s: parent chain loops: %s is already in the chain",
                    cur->path, ppath);
        goto fail;
      }

    struct h2k_bdev *parent;
    /* Parents are detected from their content: the child's format does not
     * decide the parent's (a VMDK delta may sit on a flat base). */
    if (h2k_bdev_open (ppath, NULL, flags, &parent) == -1)
      goto fail;
    parent->depth = cur->depth + 1;
    cur->parent = parent;
    if (cur->ops->check_parent
        && cur->ops->check_parent (cur, parent, flags) == -1)
      goto fail;
  }
  *out = top;
  return 0;

 fail:
  if (keep)
    *out = top;
  else
    h2k_bdev_close (top);
  return -1;
}

int
h2k_chain_open (const char *path, const char *format, unsigned flags,
                struct h2k_bdev **out)
{
  return chain_open (path, format, flags, false, out);
}

int
h2k_chain_open_partial (const char *path, const char *format, unsigned flags,
                        struct h2k_bdev **out)
{
  return chain_open (path, format, flags, true, out);
}

const char *
h2k_bdev_file (struct h2k_bdev *bd, size_t i)
{
  if (i == 0)
    return bd->path;
  return bd->ops->file ? bd->ops->file (bd, i - 1) : NULL;
}

int
h2k_bdev_add_extent (struct h2k_extent_vector *out, uint64_t offset,
                     uint64_t length, enum h2k_extent_type type)
{
  if (length == 0)
    return 0;
  if (out->len > 0) {
    struct h2k_extent *last = &out->ptr[out->len - 1];
    if (last->type == type && last->offset + last->length == offset) {
      last->length += length;
      return 0;
    }
  }
  struct h2k_extent e = { .offset = offset, .length = length, .type = type };
  return h2k_extent_vector_append (out, e);
}

static int
check_range (struct h2k_bdev *bd, uint64_t offset, uint64_t count)
{
  if (offset > bd->size || count > bd->size - offset)
    return h2k_seterr ("%s: access beyond the end of the disk (offset %llu, length %llu, size %llu)",
                       bd->path, (unsigned long long) offset,
                       (unsigned long long) count,
                       (unsigned long long) bd->size);
  return 0;
}

/* The layer's own extents for [offset, offset+length), clipped to it. */
static int
layer_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
               struct h2k_extent_vector *v)
{
  uint64_t end = offset + length;

  v->len = 0;
  if (bd->ops->extents (bd, offset, length, v) == -1)
    return -1;
  /* Clip, and check that the driver covered the range without gaps. */
  uint64_t pos = offset;
  size_t w = 0;
  for (size_t i = 0; i < v->len; i++) {
    struct h2k_extent e = v->ptr[i];
    uint64_t s = e.offset, t = e.offset + e.length;
    if (t <= pos || s >= end)
      continue;
    if (s > pos)
      return h2k_seterr ("%s: internal error: driver %s left a gap at %llu",
                         bd->path, bd->ops->name, (unsigned long long) pos);
    if (s < pos)
      s = pos;
    if (t > end)
      t = end;
    v->ptr[w++] = (struct h2k_extent) { s, t - s, e.type };
    pos = t;
  }
  v->len = w;
  if (pos < end)
    return h2k_seterr ("%s: internal error: driver %s did not cover %llu-%llu",
                       bd->path, bd->ops->name, (unsigned long long) pos,
                       (unsigned long long) end);
  return 0;
}

int
h2k_bdev_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  if (check_range (bd, offset, count) == -1)
    return -1;
  if (count == 0)
    return 0;
  /* Without a parent, the driver's pread already gives zeros for holes. */
  if (bd->parent == NULL)
    return bd->ops->pread (bd, buf, count, offset);

  struct h2k_extent_vector v = { 0 };
  int r = -1;
  if (layer_extents (bd, offset, count, &v) == -1)
    goto out;
  for (size_t i = 0; i < v.len; i++) {
    struct h2k_extent *e = &v.ptr[i];
    char *p = (char *) buf + (e->offset - offset);
    switch (e->type) {
    case H2K_EXTENT_DATA:
      if (bd->ops->pread (bd, p, e->length, e->offset) == -1)
        goto out;
      break;
    case H2K_EXTENT_ZERO:
      memset (p, 0, e->length);
      break;
    case H2K_EXTENT_HOLE: {
      /* A parent smaller than the child reads as zeros past its end. */
      uint64_t psize = bd->parent->size, n = 0;
      if (e->offset < psize) {
        n = psize - e->offset < e->length ? psize - e->offset : e->length;
        if (h2k_bdev_pread (bd->parent, p, n, e->offset) == -1)
          goto out;
      }
      memset (p + n, 0, e->length - n);
      break;
    }
    }
  }
  r = 0;
 out:
  h2k_extent_vector_reset (&v);
  return r;
}

static int
chain_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
               struct h2k_extent_vector *out)
{
  struct h2k_extent_vector v = { 0 };
  int r = -1;

  if (layer_extents (bd, offset, length, &v) == -1)
    goto done;
  for (size_t i = 0; i < v.len; i++) {
    struct h2k_extent e = v.ptr[i];
    if (e.type != H2K_EXTENT_HOLE || bd->parent == NULL
        || e.offset >= bd->parent->size) {
      if (h2k_bdev_add_extent (out, e.offset, e.length, e.type) == -1)
        goto done;
      continue;
    }
    uint64_t psize = bd->parent->size;
    uint64_t n = psize - e.offset < e.length ? psize - e.offset : e.length;
    if (chain_extents (bd->parent, e.offset, n, out) == -1)
      goto done;
    if (h2k_bdev_add_extent (out, e.offset + n, e.length - n,
                             H2K_EXTENT_HOLE) == -1)
      goto done;
  }
  r = 0;
 done:
  h2k_extent_vector_reset (&v);
  return r;
}

int
h2k_bdev_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
                  struct h2k_extent_vector *out)
{
  out->len = 0;
  if (check_range (bd, offset, length) == -1)
    return -1;
  if (length == 0)
    return 0;
  return chain_extents (bd, offset, length, out);
}

int
h2k_bdev_check (struct h2k_bdev *bd)
{
  for (; bd; bd = bd->parent)
    if (bd->ops->check && bd->ops->check (bd) == -1)
      return -1;
  return 0;
}

int
h2k_host_extents (int fd, const char *path, uint64_t hoff, uint64_t len,
                  uint64_t goff, struct h2k_extent_vector *out)
{
  uint64_t end = hoff + len;

  while (hoff < end) {
    off_t data = lseek (fd, hoff, SEEK_DATA);
    if (data == -1 && errno != ENXIO) {
      if (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP)
        return h2k_bdev_add_extent (out, goff, end - hoff, H2K_EXTENT_DATA);
      return h2k_seterr ("%s: SEEK_DATA: %m", path);
    }
    /* ENXIO: no data from here to the end of the file. */
    uint64_t d = data == -1 || (uint64_t) data > end ? end : (uint64_t) data;
    if (d > hoff && h2k_bdev_add_extent (out, goff, d - hoff, H2K_EXTENT_ZERO) == -1)
      return -1;
    goff += d - hoff;
    hoff = d;
    if (hoff >= end)
      break;
    off_t hole = lseek (fd, hoff, SEEK_HOLE);
    if (hole == -1)
      return h2k_seterr ("%s: SEEK_HOLE: %m", path);
    uint64_t h = (uint64_t) hole > end ? end : (uint64_t) hole;
    if (h2k_bdev_add_extent (out, goff, h - hoff, H2K_EXTENT_DATA) == -1)
      return -1;
    goff += h - hoff;
    hoff = h;
  }
  return 0;
}

char *
h2k_path_relative_to (const char *base, const char *name)
{
  char *r;

  if (name[0] == '/' || strchr (base, '/') == NULL)
    r = strdup (name);
  else {
    int dirlen = (int) (strrchr (base, '/') - base);
    if (asprintf (&r, "%.*s/%s", dirlen, base, name) == -1)
      r = NULL;
  }
  if (r == NULL)
    h2k_seterr ("out of memory");
  return r;
}

int
h2k_parent_same_format (const struct h2k_bdev *child,
                        const struct h2k_bdev *parent,
                        const struct h2k_bdev_ops *ops, const char *what)
{
  if (parent->ops == ops)
    return 0;
  return h2k_seterr ("%s: parent %s is not a %s (it reads as %s)",
                     child->path, parent->path, what, parent->ops->name);
}
