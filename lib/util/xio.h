/* I/O that does not stop short: reads and writes retried on EINTR and on
 * short counts, stdout closed with its errors checked. */
#ifndef H2K_XIO_H
#define H2K_XIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read up to COUNT bytes at OFFSET; returns the number read (less than
 * COUNT only at end of file) or -1 with errno set. */
ssize_t h2k_pread_full (int fd, void *buf, size_t count, uint64_t offset);
/* Read exactly COUNT bytes at OFFSET, or fail with h2k_seterr naming WHAT
 * ("truncated" at end of file). */
int h2k_pread_exact (int fd, void *buf, size_t count, uint64_t offset,
                     const char *what);
/* Read up to COUNT bytes from a stream (pipe); returns bytes read, 0 at end. */
ssize_t h2k_read_full (int fd, void *buf, size_t count);
int h2k_write_full (int fd, const void *buf, size_t count);
int h2k_pwrite_full (int fd, const void *buf, size_t count, uint64_t offset);

/* True when every byte of BUF is zero. */
bool h2k_is_zero (const void *buf, size_t len);

/* Flush and close stdout; on a write error (full disk, closed pipe) print
 * the reason and return -1, so programs can end with
 * "return h2k_close_stdout () == 0 ? 0 : 1;". */
int h2k_close_stdout (void);

#endif
