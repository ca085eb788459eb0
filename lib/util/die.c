#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "die.h"

/* The program name and the die hook are the only process-wide state of the
 * library: messages need the name wherever they are printed from. */
static const char *program = "h2k";
static void (*die_hook) (void);
static _Thread_local char errbuf[1024];
static _Thread_local int errcode;

void
h2k_set_program (const char *argv0)
{
  const char *slash = strrchr (argv0, '/');
  program = slash ? slash + 1 : argv0;
}

const char *
h2k_program (void)
{
  return program;
}

void
h2k_set_die_hook (void (*hook) (void))
{
  die_hook = hook;
}

static void
vmessage (const char *fmt, va_list ap)
{
  /* Build the line first so that concurrent messages do not interleave. */
  char line[2048];
  int n = snprintf (line, sizeof line, "%s: ", program);
  vsnprintf (line + n, sizeof line - n, fmt, ap);
  /* A message is one line whatever it quotes: a VM, file or server name
   * with a line break or a terminal escape in it is shown escaped, so it
   * can neither forge a second message nor drive the terminal. */
  char out[4 * sizeof line];
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *) line; *p; p++) {
    if (*p >= 0x20 && *p != 0x7f)
      out[o++] = *p;
    else if (*p == '\n')
      o += snprintf (out + o, sizeof out - o, "\\n");
    else if (*p == '\r')
      o += snprintf (out + o, sizeof out - o, "\\r");
    else if (*p == '\t')
      out[o++] = ' ';
    else
      o += snprintf (out + o, sizeof out - o, "\\x%02x", *p);
  }
  out[o] = '\0';
  fprintf (stderr, "%s\n", out);
}

void
h2k_die (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vmessage (fmt, ap);
  va_end (ap);
  if (die_hook)
    die_hook ();
  exit (EXIT_FAILURE);
}

void
h2k_die_status (int status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vmessage (fmt, ap);
  va_end (ap);
  /* Status 2 is a usage error: every program points to its --help. */
  if (status == 2)
    fprintf (stderr, "Try '%s --help' for more information.\n", program);
  if (die_hook)
    die_hook ();
  exit (status);
}

void
h2k_warn (const char *fmt, ...)
{
  int saved = errno;
  va_list ap;
  va_start (ap, fmt);
  vmessage (fmt, ap);
  va_end (ap);
  errno = saved;
}

int
h2k_seterr (const char *fmt, ...)
{
  /* Formatted aside and then copied, so that an argument that is the
   * current message (h2k_errmsg ()) is read before it is overwritten:
   * "h2k_seterr ("%s: %s", x, h2k_errmsg ())" is as safe as
   * h2k_seterr_prefix, not undefined behaviour. */
  char line[sizeof errbuf];
  char *full = NULL;
  va_list ap;
  va_start (ap, fmt);
  int n = vasprintf (&full, fmt, ap);
  va_end (ap);
  if (n < 0) {
    snprintf (line, sizeof line, "out of memory for an error message");
  } else if ((size_t) n < sizeof line) {
    memcpy (line, full, (size_t) n + 1);
  } else {
    /* Too long (a message quoting a 4 KiB name): its start and its end,
     * where the reason is, with "..." between, each cut between two
     * UTF-8 characters. */
    size_t head = 300, tail = sizeof line - head - 4;
    while (head > 0 && ((unsigned char) full[head] & 0xc0) == 0x80)
      head--;
    const char *t = full + n - tail;
    while (*t && ((unsigned char) *t & 0xc0) == 0x80)
      t++;
    snprintf (line, sizeof line, "%.*s...%s", (int) head, full, t);
  }
  free (full);
  memcpy (errbuf, line, sizeof errbuf);
  errcode = 0;
  return -1;
}

int
h2k_seterr_code (int code)
{
  errcode = code;
  return -1;
}

int
h2k_errcode (void)
{
  return errcode;
}

int
h2k_seterr_prefix (const char *fmt, ...)
{
  char prefix[512], old[sizeof errbuf];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, errbuf, sizeof old);
  /* Bounded parts keep the result within the buffer. */
  snprintf (errbuf, sizeof errbuf, "%.400s: %.600s", prefix, old);
  return -1;
}

const char *
h2k_errmsg (void)
{
  return errbuf[0] ? errbuf : "unknown error";
}
