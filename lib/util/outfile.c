#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "die.h"
#include "outfile.h"

int
h2k_outfile_open (struct h2k_outfile *out, const char *path)
{
  struct stat st;

  memset (out, 0, sizeof *out);
  out->fd = -1;
  if (strcmp (path, "-") == 0) {
    out->is_stdout = true;
    out->fd = STDOUT_FILENO;
    return 0;
  }
  out->path = strdup (path);
  if (out->path == NULL)
    return h2k_seterr ("%s: out of memory", path);

  /* A device (a block device, or a character device such as /dev/null) is
   * written in place: renaming NAME.part over it would replace the device
   * node with a regular file, and it must not be truncated.  A FIFO is
   * written as a stream, like standard output. */
  if (stat (path, &st) == 0 && !S_ISREG (st.st_mode)) {
    if (S_ISDIR (st.st_mode)) {
      free (out->path);
      return h2k_seterr ("%s: is a directory", path);
    }
    if (S_ISFIFO (st.st_mode))
      out->is_stdout = true;
    else
      out->is_blockdev = true;
    out->fd = open (path, O_WRONLY | O_CLOEXEC);
    if (out->fd == -1) {
      h2k_seterr ("%s: %m", path);
      free (out->path);
      return -1;
    }
    return 0;
  }

  if (asprintf (&out->part, "%s.part", path) == -1) {
    free (out->path);
    return h2k_seterr ("%s: out of memory", path);
  }
  out->fd = open (out->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out->fd == -1) {
    h2k_seterr ("%s: %m", out->part);
    free (out->part);
    free (out->path);
    out->part = out->path = NULL;
    return -1;
  }
  return 0;
}

int
h2k_outfile_set_size (struct h2k_outfile *out, uint64_t size)
{
  if (out->is_stdout || out->is_blockdev)
    return 0;
  if (ftruncate (out->fd, (off_t) size) == -1)
    return h2k_seterr ("%s: cannot set size to %llu: %m", out->part,
                       (unsigned long long) size);
  return 0;
}

int
h2k_outfile_commit (struct h2k_outfile *out)
{
  if (out->is_stdout) {
    if (out->fd != STDOUT_FILENO && out->fd >= 0 && close (out->fd) == -1) {
      out->fd = -1;
      return h2k_seterr ("%s: close: %m", out->path);
    }
    out->fd = -1;
    free (out->path);
    out->path = NULL;
    return 0;
  }
  const char *name = out->part ? out->part : out->path;
  if (fsync (out->fd) == -1 && errno != EINVAL) {
    h2k_seterr ("%s: fsync: %m", name);
    h2k_outfile_abort (out);
    return -1;
  }
  if (close (out->fd) == -1) {
    out->fd = -1;
    h2k_seterr ("%s: close: %m", name);
    h2k_outfile_abort (out);
    return -1;
  }
  out->fd = -1;
  if (out->part && rename (out->part, out->path) == -1) {
    h2k_seterr ("rename %s to %s: %m", out->part, out->path);
    h2k_outfile_abort (out);
    return -1;
  }
  free (out->part);
  free (out->path);
  out->part = out->path = NULL;
  return 0;
}

void
h2k_outfile_abort (struct h2k_outfile *out)
{
  if (out->is_stdout) {
    if (out->fd != STDOUT_FILENO && out->fd >= 0)
      close (out->fd);
    out->fd = -1;
    free (out->path);
    out->path = NULL;
    return;
  }
  if (out->fd >= 0)
    close (out->fd);
  out->fd = -1;
  if (out->part)
    unlink (out->part);
  free (out->part);
  free (out->path);
  out->part = out->path = NULL;
}
