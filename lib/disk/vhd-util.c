/* UTF-16 and Windows path helpers for the VHD and VHDX parent locators. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <unistd.h>

#include "bdev.h"
#include "util/die.h"
#include "vhd-util.h"

static size_t
put_utf8 (char *out, uint32_t c)
{
  if (c < 0x80) {
    out[0] = c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = 0xc0 | (c >> 6);
    out[1] = 0x80 | (c & 0x3f);
    return 2;
  }
  if (c < 0x10000) {
    out[0] = 0xe0 | (c >> 12);
    out[1] = 0x80 | ((c >> 6) & 0x3f);
    out[2] = 0x80 | (c & 0x3f);
    return 3;
  }
  out[0] = 0xf0 | (c >> 18);
  out[1] = 0x80 | ((c >> 12) & 0x3f);
  out[2] = 0x80 | ((c >> 6) & 0x3f);
  out[3] = 0x80 | (c & 0x3f);
  return 4;
}

char *
h2k_utf16_to_utf8 (const unsigned char *s, size_t len, bool big_endian)
{
  size_t n = len / 2;
  /* At most 3 bytes of UTF-8 per UTF-16 unit (a surrogate pair is 4 bytes
   * for 2 units). */
  char *out = malloc (n * 3 + 1), *p = out;
  if (out == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    uint32_t c = big_endian ? (s[2 * i] << 8) | s[2 * i + 1]
                            : s[2 * i] | (s[2 * i + 1] << 8);
    if (c == 0)
      break;
    if (c >= 0xd800 && c < 0xdc00) {
      uint32_t d = 0;
      if (i + 1 < n)
        d = big_endian ? (s[2 * i + 2] << 8) | s[2 * i + 3]
                       : s[2 * i + 2] | (s[2 * i + 3] << 8);
      if (d < 0xdc00 || d >= 0xe000) {
        free (out);
        h2k_seterr ("invalid UTF-16 name (unpaired surrogate)");
        return NULL;
      }
      c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
      i++;
    }
    else if (c >= 0xdc00 && c < 0xe000) {
      free (out);
      h2k_seterr ("invalid UTF-16 name (unpaired surrogate)");
      return NULL;
    }
    p += put_utf8 (p, c);
  }
  *p = '\0';
  return out;
}

char *
h2k_windows_path (const char *winpath)
{
  while (winpath[0] == '.' && (winpath[1] == '\\' || winpath[1] == '/'))
    winpath += 2;
  char *r = strdup (winpath);
  if (r == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  for (char *p = r; *p; p++)
    if (*p == '\\')
      *p = '/';
  return r;
}

const char *
h2k_windows_basename (const char *path)
{
  const char *b = path;
  for (const char *p = path; *p; p++)
    if (*p == '\\' || *p == '/' || (*p == ':' && p == path + 1))
      b = p + 1;
  return b;
}

bool
h2k_windows_path_is_absolute (const char *winpath)
{
  if (winpath[0] && winpath[1] == ':')
    return true;
  return winpath[0] == '\\' && winpath[1] == '\\';
}

static int
cmp_range (const void *a, const void *b)
{
  const struct h2k_file_range *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

long
h2k_find_overlap (struct h2k_file_range *ranges, size_t n)
{
  if (n > 1)
    qsort (ranges, n, sizeof *ranges, cmp_range);
  for (size_t i = 1; i < n; i++)
    if (ranges[i].start < ranges[i - 1].end)
      return (long) i;
  return -1;
}

int
h2k_check_no_overlap (const char *path, struct h2k_file_range *ranges,
                      size_t n, const char *const *what)
{
  long i = h2k_find_overlap (ranges, n);
  if (i < 0)
    return 0;
  char names[2][64];
  int64_t ids[2] = { ranges[i - 1].id, ranges[i].id };
  for (int k = 0; k < 2; k++) {
    if (ids[k] >= 0)
      snprintf (names[k], sizeof names[k], "block %" PRId64, ids[k]);
    else
      snprintf (names[k], sizeof names[k], "%s", what[-ids[k]]);
  }
  return h2k_seterr ("%s: %s and %s overlap in the file", path, names[0],
                     names[1]);
}

