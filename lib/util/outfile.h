/* Output files written as NAME.part and renamed into place when complete,
 * so that a failure or an interruption never leaves a file that looks
 * finished.  Writing "-" means standard output (no .part, no rename).
 *
 *   struct h2k_outfile out;
 *   if (h2k_outfile_open (&out, path, 0) == -1) die (...);
 *   ... h2k_pwrite_full (out.fd, ...) / h2k_outfile_set_size (&out, size)
 *   if (h2k_outfile_commit (&out) == -1) die (...);
 * On any error path call h2k_outfile_abort (&out), which removes the .part.
 */
#ifndef H2K_OUTFILE_H
#define H2K_OUTFILE_H

#include <stdbool.h>
#include <stdint.h>

struct h2k_outfile {
  int fd;
  bool is_stdout;       /* a stream: "-" or a FIFO; write sequentially */
  bool is_blockdev;     /* a device (block or character, /dev/null):
                           written in place, no .part, no truncate */
  char *path;           /* final name */
  char *part;           /* NAME.part, or NULL */
};

int h2k_outfile_open (struct h2k_outfile *out, const char *path);
/* Make the file SIZE bytes long (sparse: no blocks are written). */
int h2k_outfile_set_size (struct h2k_outfile *out, uint64_t size);
/* fsync, close and rename NAME.part to NAME. */
int h2k_outfile_commit (struct h2k_outfile *out);
/* Close and remove NAME.part; safe to call twice or after commit. */
void h2k_outfile_abort (struct h2k_outfile *out);

#endif
