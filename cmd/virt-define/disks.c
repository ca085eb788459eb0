/* Mapping the source's disks to the converted files on this machine.
 *
 * In order of preference: --disk PATH (one per source disk, in order),
 * --disk-dir DIR (the converted file named after the source disk, as the
 * pipeline in DESIGN.md names it: web01-000001.vmdk becomes
 * DIR/web01-000001.qcow2), then the record's "local".  The format is
 * read from the file itself, never from its name, and a VMware or
 * Hyper-V image is refused: a domain pointed at one would hand the guest
 * the container's bytes as its disk.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/h2k.h"
#include "virt-define.h"

int
vd_soft_error (const struct vd_map *map, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (map->strict)
    return h2k_seterr ("%s", msg);
  h2k_warn ("%s", msg);
  return 0;
}

static bool
exists (const char *path)
{
  struct stat st;
  return stat (path, &st) == 0 && (S_ISREG (st.st_mode) || S_ISBLK (st.st_mode));
}

/* An absolute path, as libvirt requires; symlinks are kept as given
 * except when they resolve a relative path. */
static char *
absolute (const char *path)
{
  char *r;
  if (path[0] == '/')
    return strdup (path);
  char *rp = realpath (path, NULL);
  if (rp)
    return rp;
  CLEANUP_FREE char *cwd = getcwd (NULL, 0);
  if (cwd == NULL || asprintf (&r, "%s/%s", cwd, path) == -1)
    return NULL;
  return r;
}

/* Read the first bytes and name the format.  Returns "qcow2" or "raw",
 * or NULL with h2k_seterr for an image libvirt must not be pointed at as
 * raw. */
static const char *
detect_format (const char *path, int fd)
{
  unsigned char h[64] = { 0 };
  ssize_t n = h2k_pread_full (fd, h, sizeof h, 0);
  if (n < 0) {
    h2k_seterr ("%s: read: %m", path);
    return NULL;
  }
  if (n >= 4 && memcmp (h, "QFI\xfb", 4) == 0)
    return "qcow2";
  const char *what = NULL;
  if (n >= 4 && (memcmp (h, "KDMV", 4) == 0 || memcmp (h, "COWD", 4) == 0))
    what = "a VMDK image";
  else if (n >= 21 && memcmp (h, "# Disk DescriptorFile", 21) == 0)
    what = "a VMDK descriptor";
  else if (n >= 8 && memcmp (h, "vhdxfile", 8) == 0)
    what = "a VHDX image";
  else if (n >= 8 && memcmp (h, "conectix", 8) == 0)
    what = "a dynamic VHD image";
  else if (n >= 4 && memcmp (h, "\xbe\xba\xfe\xca", 4) == 0)
    what = "an seSparse VMDK extent";
  if (what) {
    h2k_seterr ("%s: %s, not qcow2 or raw: convert it first "
                "(img-convert -O qcow2)", path, what);
    return NULL;
  }
  return "raw";
}

/* Fill in d->path, d->format and the flags for an existing or missing
 * file at PATH. */
static int
settle (const char *vm, struct vd_disk *d, const char *path, size_t index,
        const struct vd_map *map)
{
  free (d->path);
  d->path = absolute (path);
  if (d->path == NULL)
    return h2k_seterr ("%s: out of memory", path);
  if (!vd_xml_text_ok (d->path, false))
    return h2k_seterr ("%s: disk %zu: path \"%s\" is not valid UTF-8 text",
                       vm, index + 1, path);

  struct stat st;
  if (stat (d->path, &st) == -1) {
    if (vd_soft_error (map, "%s: disk %zu: %s: %s", vm, index + 1, d->path,
                       strerror (errno)) == -1)
      return -1;
    /* Without the file, the name is all there is to go by. */
    size_t l = strlen (d->path);
    d->format = l > 6 && strcasecmp (d->path + l - 6, ".qcow2") == 0 ? "qcow2" : "raw";
    d->direct_io = true;
    return 0;
  }
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    return h2k_seterr ("%s: disk %zu: %s: not a regular file or a block device",
                       vm, index + 1, d->path);
  d->block = S_ISBLK (st.st_mode);

  int fd = open (d->path, O_RDONLY | O_CLOEXEC);
  if (fd == -1)
    return h2k_seterr ("%s: disk %zu: %s: %m", vm, index + 1, d->path);
  d->format = detect_format (d->path, fd);
  close (fd);
  if (d->format == NULL)
    return h2k_seterr_prefix ("%s: disk %zu", vm, index + 1);

  /* cache='none' opens the image with O_DIRECT, which some file systems
   * (tmpfs) refuse; such a domain would not start. */
  fd = open (d->path, O_RDONLY | O_DIRECT | O_CLOEXEC);
  d->direct_io = fd >= 0 || errno != EINVAL;
  if (fd >= 0)
    close (fd);
  return 0;
}

/* The name of the directory FILE is in ("web01" for "[ds1] web01/a.vmdk"
 * or "work/web01/a.vmdk"), or NULL when there is none worth using. */
static char *
parent_dir (const char *file)
{
  if (*file == '[') {
    const char *close = strchr (file, ']');
    if (close) {
      file = close + 1;
      while (*file == ' ')
        file++;
    }
  }
  const char *end = strrchr (file, '/');
  if (end == NULL)
    return NULL;
  const char *start = end;
  while (start > file && start[-1] != '/')
    start--;
  char *p = strndup (start, (size_t) (end - start));
  if (p && (*p == '\0' || strcmp (p, ".") == 0 || strcmp (p, "..") == 0
            || !vd_xml_text_ok (p, false))) {
    free (p);
    p = NULL;
  }
  return p;
}

static int
from_disk_dir (const char *vm, struct vd_disk *d, size_t index,
               const struct vd_map *map)
{
  const char *name = d->local ? d->local : d->file;
  if (name == NULL)
    return h2k_seterr ("%s: disk %zu (%s): the source names no file to find "
                       "the converted disk by: use --disk", vm, index + 1,
                       d->label ? d->label : "no label");
  CLEANUP_FREE char *stem = vd_disk_stem (name);
  CLEANUP_FREE char *safe = stem ? vd_sanitize_filename (stem) : NULL;
  if (stem == NULL || safe == NULL)
    return -1;
  /* The name as the source has it ("My VM-0"), as a shell pipeline with
   * basename would have made it, unless it is not a usable file name;
   * then the sanitized one ("My_VM-0"). */
  const char *stems[2] = { stem, safe };
  bool usable = *stem && strcmp (stem, ".") != 0 && strcmp (stem, "..") != 0
    && vd_xml_text_ok (stem, false);
  /* Then the same under the directory the source file was in, for a
   * DIR that mirrors vs-pull's DIR/VM/FILE layout. */
  CLEANUP_FREE char *parent = parent_dir (name);
  static const char *exts[] = { ".qcow2", ".raw", ".img", "" };
  for (size_t sub = 0; sub < (parent ? 2 : 1); sub++)
    for (size_t s = usable ? 0 : 1; s < 2; s++)
      for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        CLEANUP_FREE char *p = NULL;
        if (asprintf (&p, "%s/%s%s%s%s", map->disk_dir, sub ? parent : "",
                      sub ? "/" : "", stems[s], exts[i]) == -1)
          return h2k_seterr ("out of memory");
        if (exists (p))
          return settle (vm, d, p, index, map);
      }
  CLEANUP_FREE char *p = NULL;
  if (asprintf (&p, "%s/%s.qcow2", map->disk_dir, usable ? stem : safe) == -1)
    return h2k_seterr ("out of memory");
  return settle (vm, d, p, index, map);
}

int
vd_map_disks (struct vd_source *src, const struct vd_map *map)
{
  size_t nsrc = src->disks.len;
  const char *vm = map->name ? map->name : src->name ? src->name : "(no name)";

  for (size_t i = 0; i < nsrc; i++) {
    struct vd_disk *d = &src->disks.ptr[i];
    int r;
    if (i < map->ndisks)
      r = settle (vm, d, map->disks[i], i, map);
    else if (map->disk_dir)
      r = from_disk_dir (vm, d, i, map);
    else if (d->local)
      r = settle (vm, d, d->local, i, map);
    else
      r = h2k_seterr ("%s: disk %zu (%s): no path for the converted disk: "
                      "give --disk PATH or --disk-dir DIR", vm, i + 1,
                      d->label ? d->label : "no label");
    if (r == -1)
      return -1;
  }
  /* More --disk than the source has: the extra ones are added after the
   * source's disks, for sources that list none (a template OVF). */
  for (size_t i = nsrc; i < map->ndisks; i++) {
    struct vd_disk *d = vd_source_add_disk (src);
    if (d == NULL || settle (vm, d, map->disks[i], i, map) == -1)
      return -1;
  }
  return 0;
}
