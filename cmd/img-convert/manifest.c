/* OVA manifest parsing (see manifest.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"
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

/* One line, without its newline (and without a trailing CR). */
static int
parse_line (const char *l, size_t n, struct mf_entry *e)
{
  size_t alen;
  if (n > 5 && memcmp (l, "SHA1(", 5) == 0) {
    e->alg = MF_SHA1;
    alen = 5;
  }
  else if (n > 7 && memcmp (l, "SHA256(", 7) == 0) {
    e->alg = MF_SHA256;
    alen = 7;
  }
  else
    return -1;
  /* The name runs to the last ")= " (names may hold parentheses). */
  const char *sep = NULL;
  for (const char *p = l + alen; p + 3 <= l + n; p++)
    if (memcmp (p, ")= ", 3) == 0)
      sep = p;
  if (sep == NULL || sep == l + alen)
    return -1;
  const char *hex = sep + 3;
  size_t hlen = l + n - hex, dlen = e->alg == MF_SHA1 ? 20 : 32;
  if (hlen != dlen * 2)
    return -1;
  for (size_t i = 0; i < dlen; i++) {
    int hi = hexval (hex[2 * i]), lo = hexval (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    e->digest[i] = hi << 4 | lo;
  }
  e->name = strndup (l + alen, sep - (l + alen));
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
        return h2k_seterr ("%s: line %zu: not a manifest line of the form SHA1(name)= hex or SHA256(name)= hex",
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
