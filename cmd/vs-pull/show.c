/* Progress, fault reports, digests and manifests. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/h2k.h"
#include "pull.h"

static void
bar_line (char *line, size_t len, const char *label, uint64_t done,
          uint64_t total, double rate)
{
  char d[H2K_SIZE_BUFLEN], t[H2K_SIZE_BUFLEN], r[H2K_SIZE_BUFLEN], bar[32];
  int pct = total ? (int) (done * 100 / total) : 100;
  int fill = pct * 20 / 100;
  memset (bar, '#', fill);
  memset (bar + fill, ' ', 20 - fill);
  bar[20] = '\0';
  char eta[32] = "";
  if (rate > 0 && done < total) {
    long s = (long) ((total - done) / rate);
    snprintf (eta, sizeof eta, " ETA %ld:%02ld", s / 60, s % 60);
  }
  /* The label's tail is the part that tells files apart. */
  size_t ll = strlen (label);
  const char *lab = ll > 32 ? label + ll - 32 : label;
  snprintf (line, len, "%-32.32s [%s] %3d%% %s/%s %s/s%s", lab, bar, pct,
            h2k_format_size (done, d, sizeof d),
            h2k_format_size (total, t, sizeof t),
            h2k_format_size ((uint64_t) rate, r, sizeof r), eta);
}

void
show_progress (void *opaque, struct h2k_http_job **jobs, size_t njobs,
               bool final)
{
  struct pull *p = opaque;
  uint64_t done = 0, total = 0, base = 0;

  for (size_t i = 0; i < njobs; i++) {
    done += jobs[i]->done;
    total += jobs[i]->total;
    base += jobs[i]->resumed_bytes;
  }
  if (p->prog_start == 0)
    p->prog_start = h2k_now ();
  double el = h2k_now () - p->prog_start;
  double rate = el > 0 && done > base ? (done - base) / el : 0;

  if (p->prog_fd >= 0 && total) {
    int pct = final ? 100 : (int) (done * 100 / total);
    if (pct > 99 && !final)
      pct = 99;
    if (pct != p->prog_last) {
      char line[16];
      int n = snprintf (line, sizeof line, "%d/100\n", pct);
      h2k_write_full (p->prog_fd, line, n);
      p->prog_last = pct;
    }
  }
  if (!p->prog_tty)
    return;

  /* Redraw in place: move up over the lines drawn last time. */
  char buf[8192], line[256];
  size_t off = 0;
  if (p->prog_lines > 0)
    off += snprintf (buf + off, sizeof buf - off, "\r\033[%dA", p->prog_lines);
  int lines = 0;
  for (size_t i = 0; i < njobs && off < sizeof buf - 300; i++) {
    struct h2k_http_job *j = jobs[i];
    /* Files not started and files long finished take no line, except at
     * the end; at most 8 lines of files. */
    if (!final && (j->done == j->total || (j->done == j->resumed_bytes && j->fetched == 0)))
      continue;
    if (lines >= 8)
      break;
    double jel = j->started > 0 ? h2k_now () - j->started : 0;
    double jr = jel > 0 ? (j->done - j->resumed_bytes) / jel : 0;
    bar_line (line, sizeof line, j->name, j->done, j->total, jr);
    off += snprintf (buf + off, sizeof buf - off, "\r%s\033[K\n", line);
    lines++;
  }
  if (njobs > 1 || lines == 0) {
    bar_line (line, sizeof line, "total", done, total, rate);
    off += snprintf (buf + off, sizeof buf - off, "\r%s\033[K\n", line);
    lines++;
  }
  /* Clear what is left of a taller previous drawing. */
  for (int k = lines; k < p->prog_lines; k++)
    off += snprintf (buf + off, sizeof buf - off, "\033[K\n");
  if (p->prog_lines > lines)
    off += snprintf (buf + off, sizeof buf - off, "\033[%dA",
                     p->prog_lines - lines);
  p->prog_lines = final ? 0 : lines;
  h2k_write_full (STDERR_FILENO, buf, off);
  if (final)
    p->prog_start = 0;
}

void
show_faults (struct pull *p)
{
  const struct h2k_http_faults *f = h2k_http_faults (p->http);
  char got[H2K_SIZE_BUFLEN];
  h2k_warn ("fetched %s (%llu bytes); faults survived: connection=%lu "
            "timeout=%lu truncated=%lu http_5xx=%lu http_429=%lu "
            "full_reply=%lu bad_reply=%lu renewals=%lu",
            h2k_format_size (h2k_http_fetched (p->http), got, sizeof got),
            (unsigned long long) h2k_http_fetched (p->http),
            f->connection, f->timeout, f->truncated, f->http_5xx, f->http_429,
            f->full_reply, f->bad_reply, f->renewals);
}

void
hex_digest (const unsigned char *d, char out[65])
{
  for (int i = 0; i < 32; i++)
    sprintf (out + 2 * i, "%02x", d[i]);
  out[64] = '\0';
}

static bool
is_hex64 (const char *s, size_t n)
{
  if (n != 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isxdigit ((unsigned char) s[i]))
      return false;
  return true;
}

/* Lines of sha256sum ("HEX  NAME", "HEX *NAME"), its --tag form
 * ("SHA256 (NAME) = HEX") or an OVF manifest ("SHA256(NAME)= HEX"). */
int
manifest_load (manifest *m, const char *path)
{
  CLEANUP_FCLOSE FILE *fp = fopen (path, "r");
  if (fp == NULL)
    return h2k_seterr ("%s: %m", path);
  CLEANUP_FREE char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  unsigned long lineno = 0;
  while ((n = getline (&line, &cap, fp)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    if (n == 0 || line[0] == '#')
      continue;
    char *name = NULL, *hex = NULL;
    if (strncasecmp (line, "SHA256", 6) == 0) {
      char *open = strchr (line, '('), *close = strrchr (line, ')');
      char *eq = close ? strchr (close, '=') : NULL;
      if (open && close && eq && close > open) {
        *close = '\0';
        name = open + 1;
        hex = eq + 1;
        while (*hex == ' ')
          hex++;
      }
    }
    else if (n > 66 && is_hex64 (line, 64) && line[64] == ' '
             && (line[65] == ' ' || line[65] == '*')) {
      line[64] = '\0';
      hex = line;
      name = line + 66;
    }
    if (name == NULL || hex == NULL || !is_hex64 (hex, strlen (hex)))
      return h2k_seterr ("%s: line %lu: not a SHA-256 checksum line", path,
                         lineno);
    struct manifest_entry ent = { strdup (name), strdup (hex) };
    if (ent.name == NULL || ent.sha256 == NULL
        || manifest_append (m, ent) == -1)
      return h2k_seterr ("out of memory");
    for (char *c = ent.sha256; *c; c++)
      *c = tolower ((unsigned char) *c);
  }
  return 0;
}

static const char *
base_of (const char *s)
{
  const char *slash = strrchr (s, '/');
  if (slash)
    return slash + 1;
  const char *br = strrchr (s, ']');
  if (br) {
    br++;
    while (*br == ' ')
      br++;
    return br;
  }
  return s;
}

const char *
manifest_find (const manifest *m, const char *const *names)
{
  for (const char *const *n = names; *n; n++)
    for (size_t i = 0; i < m->len; i++)
      if (strcmp (m->ptr[i].name, *n) == 0)
        return m->ptr[i].sha256;
  for (const char *const *n = names; *n; n++)
    for (size_t i = 0; i < m->len; i++)
      if (strcmp (base_of (m->ptr[i].name), base_of (*n)) == 0)
        return m->ptr[i].sha256;
  return NULL;
}

int
check_digest (struct h2k_http_job *job, const char *expected)
{
  if (expected == NULL)
    return 0;
  char got[65];
  hex_digest (job->sha256, got);
  if (strcasecmp (got, expected) != 0)
    return h2k_seterr ("%s: SHA-256 mismatch: expected %s, got %s", job->name,
                       expected, got);
  return 0;
}
