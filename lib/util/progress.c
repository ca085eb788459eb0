#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "die.h"
#include "progress.h"
#include "size.h"
#include "xio.h"

int
h2k_progress_init (struct h2k_progress *p, const char *opt,
                   const char *label, uint64_t total)
{
  memset (p, 0, sizeof *p);
  p->fd = -1;
  p->last_percent = -1;
  p->label = label ? label : "";
  p->total = total;
  p->start = h2k_now ();
  if (opt == NULL)
    return 0;
  if (*opt == '\0') {
    p->enabled = isatty (STDERR_FILENO);
    return 0;
  }
  char *end;
  errno = 0;
  long fd = strtol (opt, &end, 10);
  if (errno || *end || fd < 0 || fd > 1024 * 1024)
    return h2k_seterr ("--progress: '%s' is not a file descriptor", opt);
  p->fd = (int) fd;
  return 0;
}

static void
draw (struct h2k_progress *p, double t, bool final)
{
  char done[H2K_SIZE_BUFLEN], total[H2K_SIZE_BUFLEN], rate[H2K_SIZE_BUFLEN];
  double elapsed = t - p->start;
  double bps = elapsed > 0 ? p->done / elapsed : 0;
  int pct = p->total ? (int) (p->done * 100 / p->total) : 0;
  int width = 30, fill = p->total ? pct * width / 100 : 0;
  char bar[64];

  memset (bar, '#', fill);
  memset (bar + fill, ' ', width - fill);
  bar[width] = '\0';
  h2k_format_size (p->done, done, sizeof done);
  h2k_format_size (p->total, total, sizeof total);
  h2k_format_size ((uint64_t) bps, rate, sizeof rate);

  char eta[32] = "";
  if (!final && p->total && bps > 0 && p->done < p->total) {
    long s = (long) ((p->total - p->done) / bps);
    snprintf (eta, sizeof eta, " ETA %ld:%02ld", s / 60, s % 60);
  }
  fprintf (stderr, "\r%.24s [%s] %3d%% %s/%s %s/s%s\033[K%s", p->label, bar,
           pct, done, total, rate, eta, final ? "\n" : "");
  fflush (stderr);
}

void
h2k_progress_update (struct h2k_progress *p, uint64_t done)
{
  p->done = done;
  if (p->fd >= 0 && p->total) {
    int pct = (int) (done * 100 / p->total);
    if (pct > 99)
      pct = 99;   /* 100/100 only from finish, when everything is done. */
    if (pct != p->last_percent) {
      char line[16];
      int n = snprintf (line, sizeof line, "%d/100\n", pct);
      h2k_write_full (p->fd, line, n);
      p->last_percent = pct;
    }
  }
  if (p->enabled) {
    double t = h2k_now ();
    if (t - p->last_draw >= 0.2) {
      p->last_draw = t;
      draw (p, t, false);
    }
  }
}

void
h2k_progress_finish (struct h2k_progress *p)
{
  if (p->total)
    p->done = p->total;
  if (p->fd >= 0)
    h2k_write_full (p->fd, "100/100\n", 8);
  if (p->enabled)
    draw (p, h2k_now (), true);
}
