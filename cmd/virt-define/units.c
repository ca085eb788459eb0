/* OVF allocation units.
 *
 * DMTF's programmatic units (DSP0004) write a memory size as
 * "byte * 2^20"; VMware's ovftool writes exactly that form.  VirtualBox
 * writes "MegaBytes", and its importer also accepts "MB", "GB" and
 * "GigaBytes", always meaning binary multiples, so they are read that way
 * here.  Anything else is refused with the value in the message rather
 * than guessed, because a wrong guess is off by a factor of 1024. */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/h2k.h"
#include "virt-define.h"

static const struct {
  const char *word;
  unsigned shift;
} words[] = {
  { "byte", 0 }, { "bytes", 0 }, { "b", 0 },
  { "kilobyte", 10 }, { "kilobytes", 10 }, { "kb", 10 }, { "kib", 10 },
  { "megabyte", 20 }, { "megabytes", 20 }, { "mb", 20 }, { "mib", 20 },
  { "gigabyte", 30 }, { "gigabytes", 30 }, { "gb", 30 }, { "gib", 30 },
  { "terabyte", 40 }, { "terabytes", 40 }, { "tb", 40 }, { "tib", 40 },
};

static const char *
skip_space (const char *p)
{
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  return p;
}

/* "byte * 2^20", "byte*10^6", "byte" with any spacing. */
static int
parse_programmatic (const char *s, uint64_t *mult)
{
  const char *p = skip_space (s);
  if (strncasecmp (p, "bytes", 5) == 0)
    p += 5;
  else if (strncasecmp (p, "byte", 4) == 0)
    p += 4;
  else
    return -1;
  p = skip_space (p);
  if (*p == '\0') {
    *mult = 1;
    return 0;
  }
  if (*p++ != '*')
    return -1;
  p = skip_space (p);
  if (!isdigit ((unsigned char) *p))
    return -1;
  char *end;
  unsigned long base = strtoul (p, &end, 10);
  p = skip_space (end);
  if (*p++ != '^')
    return -1;
  p = skip_space (p);
  if (!isdigit ((unsigned char) *p))
    return -1;
  unsigned long exp = strtoul (p, &end, 10);
  if (*skip_space (end) != '\0')
    return -1;

  uint64_t m = 1;
  if (base != 2 && base != 10)
    return -1;
  for (unsigned long i = 0; i < exp; i++) {
    if (m > UINT64_MAX / base)
      return -1;
    m *= base;
  }
  *mult = m;
  return 0;
}

int
vd_parse_units (const char *units, uint64_t *multiplier)
{
  const char *p = skip_space (units);
  size_t len = strlen (p);
  while (len > 0 && isspace ((unsigned char) p[len - 1]))
    len--;

  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strlen (words[i].word) == len && strncasecmp (p, words[i].word, len) == 0) {
      *multiplier = UINT64_C (1) << words[i].shift;
      return 0;
    }
  if (parse_programmatic (units, multiplier) == 0)
    return 0;
  return h2k_seterr ("allocation units \"%s\" not understood (expected a form "
                     "like \"byte * 2^20\", \"MegaBytes\" or \"GB\")", units);
}
