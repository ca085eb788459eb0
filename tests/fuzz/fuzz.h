/* Shared pieces of the libFuzzer targets (tests/fuzz/fuzz-*.c).
 *
 * Each target feeds one input to one parser through the entry point the
 * programs use.  Inputs that are files to the programs are handed over as
 * a memfd, opened by its /proc/self/fd path, so that nothing is written to
 * the disk and every run starts from a clean file. */
#ifndef H2K_FUZZ_H
#define H2K_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memfd holding DATA; its path in PATH.  -1 if it cannot be made. */
static inline int
fuzz_memfd (const uint8_t *data, size_t size, char *path, size_t pathlen)
{
  int fd = memfd_create ("fuzz-input", MFD_CLOEXEC);
  if (fd == -1)
    return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);
    if (n <= 0) {
      close (fd);
      return -1;
    }
    done += n;
  }
  snprintf (path, pathlen, "/proc/self/fd/%d", fd);
  return fd;
}

/* A small deterministic generator seeded from the input, for choosing
 * read offsets: the same input always takes the same path. */
static inline uint64_t
fuzz_seed (const uint8_t *data, size_t size)
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < size; i++)
    h = (h ^ data[i]) * 1099511628211ULL;
  return h;
}

static inline uint64_t
fuzz_next (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

#endif
