/* OVA manifest parsing (see manifest.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "manifest.h"

const char *
mf_alg_name (enum mf_alg a)
{
  return a == MF_SHA1 ? "SHA1" : "SHA256";
}

static int
hexval (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower (c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* One line, without its newline (and without a trailing CR).  OpenSSL's
 * "SHA256(name)= hex" is the standard form; the BSD form "SHA1 (name) =
 * hex" (shasum --tag, some ovftool versions) is accepted too. */
static int
parse_line (const char *l, size_t n, struct mf_entry *e)
{
  const char *end = l + n, *p;
  if (n > 6 && memcmp (l, "SHA256", 6) == 0) {
    e->alg = MF_SHA256;
    p = l + 6;
  }
  else if (n > 4 && memcmp (l, "SHA1", 4) == 0) {
    e->alg = MF_SHA1;
    p = l + 4;
  }
  else
    return -1;
  while (p < end && *p == ' ')
    p++;
  if (p == end || *p != '(')
    return -1;
  const char *name = ++p;
  /* The name runs to the last ')' before the '=' (names may hold
   * parentheses). */
  const char *eq = NULL;
  for (const char *q = end; q > name; q--)
    if (q[-1] == '=') {
      eq = q - 1;
      break;
    }
  if (eq == NULL)
    return -1;
  const char *close = eq;
  while (close > name && close[-1] == ' ')
    close--;
  if (close == name || close[-1] != ')')
    return -1;
  close--;
  if (close == name)
    return -1;
  const char *hex = eq + 1;
  while (hex < end && *hex == ' ')
    hex++;
  size_t hlen = end - hex, dlen = e->alg == MF_SHA1 ? 20 : 32;
  if (hlen != dlen * 2)
    return -1;
  for (size_t i = 0; i < dlen; i++) {
    int hi = hexval (hex[2 * i]), lo = hexval (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    e->digest[i] = hi << 4 | lo;
  }
  e->name = strndup (name, close - name);
  return e->name ? 0 : -1;
}

int
manifest_parse (const char *text, size_t len, const char *name,
                mf_vector *out)
{
  size_t lineno = 0;
  const char *p = text, *end = text + len;

  while (p < end) {
    const char *nl = memchr (p, '\n', end - p);
    size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
    lineno++;
    if (n > 0 && p[n - 1] == '\r')
      n--;
    bool blank = true;
    for (size_t i = 0; i < n; i++)
      if (!isspace ((unsigned char) p[i]))
        blank = false;
    if (!blank) {
      struct mf_entry e = { 0 };
      if (memchr (p, '\0', n) || parse_line (p, n, &e) == -1)
        return h2k_seterr ("%s: line %zu: not a manifest line of the form SHA256(name)= hex or SHA1(name)= hex",
                           name, lineno);
      if (mf_vector_append (out, e) == -1) {
        free (e.name);
        return -1;
      }
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}

void
manifest_free (mf_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i].name);
  mf_vector_reset (v);
}
