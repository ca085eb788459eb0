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

/* A memfd holding DATA; its path in PATH.  -1 if it cannot be made.
 * One memfd serves every input of the process: it is overwritten and cut
 * to the new size rather than made again, so that its pages are not
 * allocated and cleared by the kernel for each input (a 1 MiB input cost
 * 256 page faults a run).  The caller must not close it. */
static inline int
fuzz_memfd (const uint8_t *data, size_t size, char *path, size_t pathlen)
{
  static int fd = -1;
  if (fd == -1 && (fd = memfd_create ("fuzz-input", MFD_CLOEXEC)) == -1)
    return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite (fd, data + done, size - done, (off_t) done);
    if (n <= 0)
      return -1;
    done += n;
  }
  if (ftruncate (fd, (off_t) size) == -1)
    return -1;
  snprintf (path, pathlen, "/proc/self/fd/%d", fd);
  return fd;
}

/* A small deterministic generator seeded from the input, for choosing
 * read offsets: the same input always takes the same path.  The hash
 * reads the input a word at a time and is not instrumented: with
 * coverage and ASan, a byte loop over a 1 MiB input was half the time of
 * a disk target's run (its loop compare alone went through
 * __sanitizer_cov_trace_cmp8 a million times). */
__attribute__ ((no_sanitize ("coverage", "address", "undefined")))
static inline uint64_t
fuzz_seed (const uint8_t *data, size_t size)
{
  uint64_t h = 1469598103934665603ULL ^ size;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    memcpy (&w, data + i, 8);
    h = (h ^ w) * 1099511628211ULL;
    h ^= h >> 29;
  }
  for (; i < size; i++)
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
