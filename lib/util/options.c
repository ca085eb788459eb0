#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"
#include "options.h"
#include "size.h"
#include "version.h"
#include "xio.h"

void
h2k_exit_closing_stdout (void)
{
  exit (h2k_close_stdout () == 0 ? 0 : 1);
}

static void
print_long_options (const struct option *long_options)
{
  for (const struct option *o = long_options; o->name; o++)
    if (o->val != H2K_OPT_LONG_OPTIONS && o->val != H2K_OPT_SHORT_OPTIONS)
      printf ("--%s\n", o->name);
}

static void
print_short_options (const char *short_options)
{
  for (const char *p = short_options; *p; p++)
    if (*p != ':' && *p != '+' && *p != '-')
      printf ("-%c\n", *p);
}

void
h2k_option_common (int c, const char *short_options,
                   const struct option *long_options,
                   void (*usage) (FILE *fp))
{
  switch (c) {
  case H2K_OPT_HELP:
    usage (stdout);
    h2k_exit_closing_stdout ();
  case 'V':
    h2k_print_version (h2k_program ());
    h2k_exit_closing_stdout ();
  case H2K_OPT_LONG_OPTIONS:
    print_long_options (long_options);
    h2k_exit_closing_stdout ();
  case H2K_OPT_SHORT_OPTIONS:
    print_short_options (short_options);
    h2k_exit_closing_stdout ();
  default:
    /* getopt_long has already said what was wrong, in one line. */
    fprintf (stderr, "Try '%s --help' for more information.\n",
             h2k_program ());
    exit (2);
  }
}

void
h2k_usage_error (const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  h2k_die_status (2, "%s", msg);
}

uint64_t
h2k_option_uint (const char *opt, const char *arg, uint64_t min, uint64_t max)
{
  char *end;
  const char *p = arg;
  while (isspace ((unsigned char) *p))
    p++;
  if (!isdigit ((unsigned char) *p))
    h2k_usage_error ("%s: '%s' is not a number", opt, arg);
  errno = 0;
  unsigned long long v = strtoull (p, &end, 10);
  if (*end != '\0')
    h2k_usage_error ("%s: '%s' is not a number", opt, arg);
  if (errno == ERANGE || v < min || v > max)
    h2k_usage_error ("%s: '%s' is out of range (%" PRIu64 " to %" PRIu64 ")",
                     opt, arg, min, max);
  return v;
}

uint64_t
h2k_option_size (const char *opt, const char *arg)
{
  uint64_t v;
  if (h2k_parse_size (arg, &v) == -1)
    h2k_usage_error ("%s: %s", opt, h2k_errmsg ());
  return v;
}
