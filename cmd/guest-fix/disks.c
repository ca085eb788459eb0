/* The disk files given on the command line: their format, and whether a
 * running machine holds them. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/h2k.h"
#include "guest-fix.h"

/* libguestfs wants the format stated (probing a raw image is unsafe: a
 * guest could write a qcow2 header into it).  img-convert writes qcow2 or
 * raw, so those are told apart by qcow2's magic; other formats need
 * --format. */
const char *
disk_format (const char *path)
{
  CLEANUP_CLOSE int fd = open (path, O_RDONLY | O_CLOEXEC);
  unsigned char magic[4];

  if (fd == -1)
    return NULL;
  if (h2k_pread_full (fd, magic, sizeof magic, 0) == (ssize_t) sizeof magic
      && memcmp (magic, "QFI\xfb", 4) == 0)
    return "qcow2";
  return "raw";
}

/* qemu takes open file description locks on the images it uses (and
 * libvirt's virtlockd whole-file locks), so any lock that would conflict
 * with a write lock on the file means a machine is using it.  Returns 0
 * when the disk is free, -1 with h2k_seterr otherwise. */
int
disk_check_not_in_use (const char *path)
{
  CLEANUP_CLOSE int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

  if (fd == -1)
    return h2k_seterr ("%s: %m", path);
  if (fcntl (fd, F_OFD_GETLK, &fl) == -1)
    return h2k_seterr ("%s: cannot test locks: %m", path);
  if (fl.l_type != F_UNLCK)
    return h2k_seterr ("%s: in use by a running machine (the image is locked)",
                       path);
  return 0;
}
