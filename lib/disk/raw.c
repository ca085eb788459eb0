/* Raw disks: the file is the disk.  Allocation comes from SEEK_DATA /
 * SEEK_HOLE, so a sparse file's holes stay holes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev.h"
#include "util/die.h"
#include "util/xio.h"

struct raw {
  int fd;
};

/* Raw accepts any file but these: files that are plainly something else,
 * which a user gives by mistake (an OVF instead of its disk, an OVA to a
 * program that reads disks).  Converting one "as a disk" would succeed
 * and produce a guest that cannot boot, so detection refuses them and
 * the error says what the file is; -f raw still takes them. */
const char *
h2k_raw_not_a_disk (const unsigned char *head, size_t len)
{
  size_t i = 0;
  if (len >= 3 && memcmp (head, "\xef\xbb\xbf", 3) == 0)
    i = 3;                              /* a UTF-8 byte order mark */
  while (i < len && i < 64 && strchr (" \t\r\n", head[i]) && head[i])
    i++;
  static const char *const xml[] = { "<?xml", "<Envelope", "<ovf:Envelope" };
  for (size_t k = 0; k < sizeof xml / sizeof xml[0]; k++)
    if (len - i >= strlen (xml[k]) && memcmp (head + i, xml[k], strlen (xml[k])) == 0)
      return "an XML document (an OVF descriptor?), not a disk image";
  if (len >= 262 && memcmp (head + 257, "ustar", 5) == 0)
    return "a tar archive (an OVA?), not a disk image";
  static const struct { const char *magic; size_t len; const char *what; } packed[] = {
    { "\x1f\x8b", 2, "a gzip-compressed file" },
    { "\xfd" "7zXZ\0", 6, "an xz-compressed file" },
    { "\x28\xb5\x2f\xfd", 4, "a zstd-compressed file" },
    { "BZh", 3, "a bzip2-compressed file" },
    { "PK\x03\x04", 4, "a zip archive" },
  };
  for (size_t k = 0; k < sizeof packed / sizeof packed[0]; k++)
    if (len >= packed[k].len && memcmp (head, packed[k].magic, packed[k].len) == 0)
      return packed[k].what;
  return NULL;
}

static int
raw_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  return h2k_raw_not_a_disk (head, len) ? 0 : 1;
}

static int
raw_open (struct h2k_bdev *bd, int fd, unsigned flags)
{
  struct raw *r = calloc (1, sizeof *r);
  if (r == NULL)
    return h2k_seterr ("%s: out of memory", bd->path);
  r->fd = fd;
  off_t end = lseek (fd, 0, SEEK_END);
  if (end < 0) {
    free (r);
    return h2k_seterr ("%s: %m", bd->path);
  }
  bd->size = end;
  bd->data = r;
  return 0;
}

static int
raw_pread (struct h2k_bdev *bd, void *buf, size_t count, uint64_t offset)
{
  struct raw *r = bd->data;
  return h2k_pread_exact (r->fd, buf, count, offset, bd->path);
}

/* Holes in a raw file read as zeros: they are ZERO, not HOLE, because a
 * raw file has no parent to fall through to. */
static int
raw_extents (struct h2k_bdev *bd, uint64_t offset, uint64_t length,
             struct h2k_extent_vector *out)
{
  struct raw *r = bd->data;
  return h2k_host_extents (r->fd, bd->path, offset, length, offset, out);
}

static void
raw_close (struct h2k_bdev *bd)
{
  struct raw *r = bd->data;
  if (r) {
    close (r->fd);
    free (r);
  }
}

const struct h2k_bdev_ops h2k_raw_ops = {
  .name = "raw",
  .probe = raw_probe,
  .open = raw_open,
  .pread = raw_pread,
  .extents = raw_extents,
  .close = raw_close,
};
