#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "die.h"
#include "xio.h"

/* Read until COUNT bytes, the end of the file or an error: with pread at
 * OFFSET when SEEKABLE, else with read from the current position. */
static ssize_t
read_until (int fd, void *buf, size_t count, bool seekable, uint64_t offset)
{
  size_t done = 0;
  while (done < count) {
    ssize_t r = seekable
      ? pread (fd, (char *) buf + done, count - done, offset + done)
      : read (fd, (char *) buf + done, count - done);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (r == 0)
      break;
    done += r;
  }
  return done;
}

ssize_t
h2k_pread_full (int fd, void *buf, size_t count, uint64_t offset)
{
  return read_until (fd, buf, count, true, offset);
}

int
h2k_pread_exact (int fd, void *buf, size_t count, uint64_t offset,
                 const char *what)
{
  ssize_t r = h2k_pread_full (fd, buf, count, offset);
  if (r < 0)
    return h2k_seterr ("%s: read at offset %llu: %m", what,
                       (unsigned long long) offset);
  if ((size_t) r < count)
    return h2k_seterr ("%s: truncated: %zu bytes wanted at offset %llu, file ends after %zd",
                       what, count, (unsigned long long) offset, r);
  return 0;
}

ssize_t
h2k_read_full (int fd, void *buf, size_t count)
{
  return read_until (fd, buf, count, false, 0);
}

int
h2k_write_full (int fd, const void *buf, size_t count)
{
  while (count > 0) {
    ssize_t r = write (fd, buf, count);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    buf = (const char *) buf + r;
    count -= r;
  }
  return 0;
}

int
h2k_pwrite_full (int fd, const void *buf, size_t count, uint64_t offset)
{
  while (count > 0) {
    ssize_t r = pwrite (fd, buf, count, offset);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    buf = (const char *) buf + r;
    count -= r;
    offset += r;
  }
  return 0;
}

bool
h2k_is_zero (const void *buf, size_t len)
{
  const unsigned char *p = buf;

  /* Check the first 16 bytes, then compare the buffer with itself shifted
   * by 16: memcmp is vectorised, a byte loop is not. */
  size_t head = len < 16 ? len : 16;
  for (size_t i = 0; i < head; i++)
    if (p[i])
      return false;
  return len <= 16 || memcmp (p, p + 16, len - 16) == 0;
}

int
h2k_close_stdout (void)
{
  int failed = ferror (stdout);
  if (fclose (stdout) != 0)
    failed = 1;
  if (failed) {
    /* EPIPE and ENOSPC are the usual reasons; errno tells which. */
    h2k_warn ("standard output: write error: %m");
    return -1;
  }
  return 0;
}
