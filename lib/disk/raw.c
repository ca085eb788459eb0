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

static int
raw_probe (const unsigned char *head, size_t len, int fd, uint64_t filesize)
{
  return 1;
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
