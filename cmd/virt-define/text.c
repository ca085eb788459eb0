/* Checks on the strings that come from untrusted sources and end up in
 * XML (names, annotations, paths) or in file names (--out-dir). */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/h2k.h"
#include "virt-define.h"

/* Decode one UTF-8 character at P.  Returns its length, or 0 when the
 * bytes are not a valid, shortest-form encoding of a Unicode scalar
 * value. */
static size_t
utf8_next (const unsigned char *p, uint32_t *cp)
{
  if (p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  size_t len;
  uint32_t c, min;
  if ((p[0] & 0xe0) == 0xc0) { len = 2; c = p[0] & 0x1f; min = 0x80; }
  else if ((p[0] & 0xf0) == 0xe0) { len = 3; c = p[0] & 0x0f; min = 0x800; }
  else if ((p[0] & 0xf8) == 0xf0) { len = 4; c = p[0] & 0x07; min = 0x10000; }
  else return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    c = (c << 6) | (p[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *cp = c;
  return len;
}

/* The characters XML 1.0 allows (section 2.2), less the line breaks when
 * they are not wanted. */
static bool
xml_char_ok (uint32_t c, bool allow_newlines)
{
  if (c == '\t')
    return true;
  if (c == '\n' || c == '\r')
    return allow_newlines;
  if (c < 0x20)
    return false;
  if (c == 0xfffe || c == 0xffff)
    return false;
  return true;
}

bool
vd_xml_text_ok (const char *s, bool allow_newlines)
{
  const unsigned char *p = (const unsigned char *) s;
  while (*p) {
    uint32_t c;
    size_t n = utf8_next (p, &c);
    if (n == 0 || !xml_char_ok (c, allow_newlines))
      return false;
    p += n;
  }
  return true;
}

char *
vd_xml_text_clean (const char *s)
{
  char *out = malloc (strlen (s) + 1);
  if (out == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  const unsigned char *p = (const unsigned char *) s;
  char *q = out;
  while (*p) {
    uint32_t c;
    size_t n = utf8_next (p, &c);
    if (n == 0) {
      *q++ = '?';
      p++;
    } else if (!xml_char_ok (c, true)) {
      *q++ = '?';
      p += n;
    } else {
      memcpy (q, p, n);
      q += n;
      p += n;
    }
  }
  *q = '\0';
  return out;
}

char *
vd_sanitize_filename (const char *name)
{
  const size_t max = 200;
  char *out = malloc (max + 1);
  if (out == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  const unsigned char *p = (const unsigned char *) name;
  size_t len = 0;
  while (*p) {
    uint32_t c;
    size_t n = utf8_next (p, &c);
    const char *copy;
    size_t copylen;
    if (n == 1 && (isalnum (c) || c == '.' || c == '_' || c == '-' || c == '+')) {
      copy = (const char *) p;
      copylen = 1;
    } else if (n > 1 && c >= 0xa0) {
      /* Letters of other scripts are kept whole: a VM called "Grüße"
       * gets a file called Grüße.xml, not Gr__e.xml. */
      copy = (const char *) p;
      copylen = n;
    } else {
      copy = "_";
      copylen = 1;
      if (n == 0)
        n = 1;
    }
    if (len + copylen > max)
      break;
    memcpy (out + len, copy, copylen);
    len += copylen;
    p += n;
  }
  out[len] = '\0';
  /* No hidden files, and neither "." nor "..". */
  if (out[0] == '.')
    out[0] = '_';
  if (len == 0) {
    free (out);
    return strdup ("vm");
  }
  return out;
}

char *
vd_disk_stem (const char *file)
{
  const char *base = file;
  for (const char *p = file; *p; p++)
    if (*p == '/' || *p == '\\')
      base = p + 1;
  /* The datastore form "[ds1] web01.vmdk" with no directory. */
  if (base == file && base[0] == '[') {
    const char *close = strchr (base, ']');
    if (close) {
      base = close + 1;
      while (*base == ' ')
        base++;
    }
  }

  CLEANUP_FREE char *copy = strdup (base);
  if (copy == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  static const char *exts[] = { ".gz", ".vmdk", ".vhd", ".vhdx", ".qcow2",
                                ".raw", ".img", ".vdi" };
  size_t len = strlen (copy);
  for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
    size_t el = strlen (exts[i]);
    if (len > el && strcasecmp (copy + len - el, exts[i]) == 0) {
      copy[len - el] = '\0';
      len -= el;
      /* ".gz" may hide another extension: "disk1.vmdk.gz". */
      if (i != 0)
        break;
    }
  }
  char *r = copy;
  copy = NULL;
  return r;
}

static int
hexval (int c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *
vd_normalize_uuid (const char *s)
{
  unsigned char b[16];
  size_t n = 0;
  int hi = -1;

  /* VMware writes "42 10 c8 e1 9a 7c 4b 2d-8e 3f 11 22 33 44 55 66" in
   * VMX files, VirtualBox "{...}", vSphere the usual dashed form. */
  for (const char *p = s; *p; p++) {
    if (*p == ' ' || *p == '-' || *p == '{' || *p == '}')
      continue;
    int v = hexval (*p);
    if (v < 0 || n >= 16)
      return NULL;
    if (hi < 0)
      hi = v;
    else {
      b[n++] = (unsigned char) (hi << 4 | v);
      hi = -1;
    }
  }
  if (n != 16 || hi >= 0)
    return NULL;
  char *out;
  if (asprintf (&out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]) == -1)
    return NULL;
  return out;
}

char *
vd_normalize_mac (const char *s)
{
  unsigned char b[6];
  size_t n = 0, len = strlen (s);

  if (len == 12) {
    for (size_t i = 0; i < 6; i++) {
      int h = hexval (s[2 * i]), l = hexval (s[2 * i + 1]);
      if (h < 0 || l < 0)
        return NULL;
      b[i] = (unsigned char) (h << 4 | l);
    }
    n = 6;
  } else if (len == 17) {
    char sep = s[2];
    if (sep != ':' && sep != '-')
      return NULL;
    for (size_t i = 0; i < 6; i++) {
      const char *g = s + 3 * i;
      int h = hexval (g[0]), l = hexval (g[1]);
      if (h < 0 || l < 0 || (i < 5 && g[2] != sep))
        return NULL;
      b[n++] = (unsigned char) (h << 4 | l);
    }
  } else
    return NULL;

  char *out;
  if (asprintf (&out, "%02x:%02x:%02x:%02x:%02x:%02x",
                b[0], b[1], b[2], b[3], b[4], b[5]) == -1)
    return NULL;
  return out;
}
