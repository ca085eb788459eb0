/* Unit tests of the helpers under the VHD/VHDX readers: CRC-32C, UTF-16
 * names and Windows paths, and the libvhdi structure fragments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "util/h2k.h"
#include "tap.h"
#include "disk/vhd-util.h"

static void
test_crc32c (void)
{
  is_int (h2k_crc32c (0, "123456789", 9), 0xe3069283, "CRC-32C check value");
  uint32_t c = h2k_crc32c (0, "1234", 4);
  is_int (h2k_crc32c (c, "56789", 5), 0xe3069283, "CRC-32C in two pieces");
  is_int (h2k_crc32c (0, "", 0), 0, "CRC-32C of nothing");
}

static void
test_utf16 (void)
{
  static const unsigned char le[] = { '.', 0, '\\', 0, 'p', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0, 0, 'x', 0 };
  char *s = h2k_utf16_to_utf8 (le, sizeof le, false);
  is_str (s, ".\\p\xc3\xa9\xf0\x9f\x98\x80", "UTF-16LE with a surrogate pair, stops at NUL");
  free (s);
  static const unsigned char be[] = { 0, 'a', 0, 'b' };
  s = h2k_utf16_to_utf8 (be, sizeof be, true);
  is_str (s, "ab", "UTF-16BE");
  free (s);
  static const unsigned char bad[] = { 0x00, 0xdc, 'a', 0 };
  ok (h2k_utf16_to_utf8 (bad, sizeof bad, false) == NULL, "unpaired surrogate refused");

  s = h2k_windows_path (".\\dir\\parent.vhd");
  is_str (s, "dir/parent.vhd", "relative Windows path");
  free (s);
  is_str (h2k_windows_basename ("C:\\a\\b\\c.vhdx"), "c.vhdx", "basename of a Windows path");
  is_str (h2k_windows_basename ("C:c.vhdx"), "c.vhdx", "basename after a drive letter");
  ok (h2k_windows_path_is_absolute ("C:\\x"), "drive path is absolute");
  ok (h2k_windows_path_is_absolute ("\\\\srv\\share\\x"), "UNC path is absolute");
  ok (!h2k_windows_path_is_absolute (".\\x"), "relative path is not");
}

/* The CRC-32C of structures Windows wrote (libvhdi's test fragments), when
 * the shared samples are there: the stored checksum must match ours. */
static void
test_fragments (void)
{
  const char *dir = getenv ("H2K_SAMPLES");
  char deflt[4096];
  if (dir == NULL && getenv ("H2K_TOP")) {
    snprintf (deflt, sizeof deflt, "%s/../shared/samples", getenv ("H2K_TOP"));
    dir = deflt;
  }
  static const struct { const char *name; size_t len; } frags[] = {
    { "image_header.1", 4096 },
    { "region_table.1", 65536 },   /* the fragment stops after the entries */
  };
  for (size_t i = 0; i < sizeof frags / sizeof frags[0]; i++) {
    char path[8192];
    snprintf (path, sizeof path, "%s/fragments-libvhdi/%s", dir ? dir : "", frags[i].name);
    FILE *fp = dir ? fopen (path, "rb") : NULL;
    if (fp == NULL) {
      printf ("ok %d # SKIP %s not available\n", ++tap_n, frags[i].name);
      continue;
    }
    unsigned char *buf = calloc (1, frags[i].len);
    size_t n = fread (buf, 1, frags[i].len, fp);
    fclose (fp);
    uint32_t stored = buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t) buf[7] << 24;
    memset (buf + 4, 0, 4);
    is_int (h2k_crc32c (0, buf, frags[i].len), stored,
            "CRC-32C of %s (%zu bytes read)", frags[i].name, n);
    free (buf);
  }
}

int
main (void)
{
  test_crc32c ();
  test_fragments ();
  test_utf16 ();
  return done_testing ();
}
