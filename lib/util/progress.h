/* Progress for long transfers.
 *
 * Two forms, as in nbdcopy:
 *  - a bar on stderr, only when stderr is a terminal ("--progress");
 *  - "N/100" lines on a file descriptor for scripts ("--progress=FD").
 *
 *   struct h2k_progress p;
 *   if (h2k_progress_init (&p, optarg_or_NULL, "disk.vmdk", total) == -1) ...
 *   h2k_progress_update (&p, bytes_done);      as often as you like
 *   h2k_progress_finish (&p);                  prints 100/100, ends the bar
 *
 * Updates are rate-limited, so calling once per block is cheap.  Not
 * thread-safe: update from one thread.
 */
#ifndef H2K_PROGRESS_H
#define H2K_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct h2k_progress {
  bool enabled;         /* a bar on stderr */
  int fd;               /* -1, or the --progress=FD descriptor */
  const char *label;
  uint64_t total;       /* 0 if unknown */
  uint64_t done;
  int last_percent;
  double start;         /* monotonic seconds */
  double last_draw;
};

/* OPT is NULL (no progress), "" (bar if stderr is a tty) or a decimal file
 * descriptor.  Returns -1 with h2k_seterr if OPT is not one of those. */
int h2k_progress_init (struct h2k_progress *p, const char *opt,
                       const char *label, uint64_t total);
void h2k_progress_update (struct h2k_progress *p, uint64_t done);
void h2k_progress_finish (struct h2k_progress *p);

#endif
