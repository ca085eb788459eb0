#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "die.h"
#include "size.h"

static const char units[] = "KMGTPE";

int
h2k_parse_size (const char *str, uint64_t *out)
{
  const char *p = str;
  char *end;
  unsigned shift = 0;

  while (isspace ((unsigned char) *p))
    p++;
  if (!isdigit ((unsigned char) *p) && *p != '.')
    return h2k_seterr ("'%s': not a size", str);

  /* Integers are parsed exactly; a fraction ("1.5G") goes through double,
   * which is exact enough for the sizes people type. */
  errno = 0;
  unsigned long long whole = strtoull (p, &end, 10);
  if (errno == ERANGE)
    return h2k_seterr ("'%s': size too large", str);
  double frac = 0;
  if (*end == '.') {
    char *fend;
    frac = strtod (end, &fend);
    if (fend == end + 1)
      return h2k_seterr ("'%s': not a size", str);
    end = fend;
  }
  while (isspace ((unsigned char) *end))
    end++;
  if (*end) {
    const char *u = strchr (units, toupper ((unsigned char) *end));
    if (u == NULL || *u == '\0')
      return h2k_seterr ("'%s': unknown size suffix '%s'", str, end);
    shift = 10 * (unsigned) (u - units + 1);
    end++;
    if (strcasecmp (end, "iB") == 0 || strcasecmp (end, "B") == 0)
      end += strlen (end);
  }
  else if (*end == '\0') {
    /* A bare number is bytes. */
  }
  if (*end) {
    if (strcasecmp (end, "B") != 0)
      return h2k_seterr ("'%s': unknown size suffix '%s'", str, end);
  }

  if (shift && whole > (UINT64_MAX >> shift))
    return h2k_seterr ("'%s': size too large", str);
  uint64_t v = (uint64_t) whole << shift;
  if (frac > 0) {
    double extra = frac * ldexp (1.0, (int) shift);
    if (v > UINT64_MAX - (uint64_t) extra)
      return h2k_seterr ("'%s': size too large", str);
    v += (uint64_t) extra;
  }
  *out = v;
  return 0;
}

char *
h2k_format_size (uint64_t size, char *buf, size_t len)
{
  static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  unsigned i = 0;
  double v = (double) size;

  while (v >= 1024 && i < 6) {
    v /= 1024;
    i++;
  }
  if (i == 0)
    snprintf (buf, len, "%llu B", (unsigned long long) size);
  else if (v == floor (v))
    snprintf (buf, len, "%.0f %s", v, names[i]);
  else
    snprintf (buf, len, "%.1f %s", v, names[i]);
  return buf;
}
