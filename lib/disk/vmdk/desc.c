/* VMDK descriptor text (formats.md 1): tolerant of CRLF, comments, blank
 * lines and spaces around '=', strict about extent lines. */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/die.h"
#include "vmdk-int.h"

static char *
trim (char *s)
{
  while (*s && isspace ((unsigned char) *s))
    s++;
  char *e = s + strlen (s);
  while (e > s && isspace ((unsigned char) e[-1]))
    *--e = '\0';
  return s;
}

static char *
unquote (char *s)
{
  size_t n = strlen (s);
  if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
    s[n - 1] = '\0';
    return s + 1;
  }
  return s;
}

/* Convert NAME from the descriptor's encoding to UTF-8. */
static char *
to_utf8 (const char *name, const char *encoding)
{
  if (encoding == NULL || strcasecmp (encoding, "UTF-8") == 0
      || strcasecmp (encoding, "UTF8") == 0) {
    char *r = strdup (name);
    if (r == NULL)
      h2k_seterr ("out of memory");
    return r;
  }
  iconv_t cd = iconv_open ("UTF-8", encoding);
  if (cd == (iconv_t) -1) {
    h2k_seterr ("unsupported encoding \"%s\"", encoding);
    return NULL;
  }
  size_t inlen = strlen (name), outcap = inlen * 4 + 1, outlen = outcap;
  char *out = malloc (outcap), *in = (char *) name, *o = out;
  if (out == NULL) {
    iconv_close (cd);
    h2k_seterr ("out of memory");
    return NULL;
  }
  if (iconv (cd, &in, &inlen, &o, &outlen) == (size_t) -1) {
    h2k_seterr ("file name \"%s\" is not valid %s", name, encoding);
    free (out);
    iconv_close (cd);
    return NULL;
  }
  iconv_close (cd);
  *o = '\0';
  return out;
}

static int
parse_u64 (const char *s, uint64_t *out)
{
  char *end;
  if (!isdigit ((unsigned char) *s))
    return -1;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

static int
parse_cid (const char *s, uint32_t *out)
{
  char *end;
  size_t n = strlen (s);
  if (n == 0 || n > 8 || !isxdigit ((unsigned char) *s))
    return -1;
  unsigned long v = strtoul (s, &end, 16);
  if (*end)
    return -1;
  *out = v;
  return 0;
}

static const struct {
  const char *name;
  enum h2k_vmdk_extent_type type;
} extent_types[] = {
  { "FLAT", H2K_VMDK_EXT_FLAT },
  { "VMFS", H2K_VMDK_EXT_FLAT },
  { "VMFSRAW", H2K_VMDK_EXT_FLAT },
  { "SPARSE", H2K_VMDK_EXT_SPARSE },
  { "VMFSSPARSE", H2K_VMDK_EXT_SPARSE },
  { "SESPARSE", H2K_VMDK_EXT_SPARSE },
  { "ZERO", H2K_VMDK_EXT_ZERO },
};

/* ACCESS SECTORS TYPE ["FILENAME" [OFFSET [more fields]]] */
static int
parse_extent (char *line, unsigned lineno, struct h2k_vmdk_desc *d,
              char **rawname)
{
  struct h2k_vmdk_desc_extent e = { 0 };
  char *p = line, *tok;

  *rawname = NULL;
  tok = strsep (&p, " \t");
  e.access = strcmp (tok, "RW") == 0 ? H2K_VMDK_RW
    : strcmp (tok, "RDONLY") == 0 ? H2K_VMDK_RDONLY : H2K_VMDK_NOACCESS;
  while (p && isspace ((unsigned char) *p))
    p++;
  tok = p ? strsep (&p, " \t") : NULL;
  if (tok == NULL || parse_u64 (tok, &e.sectors) == -1)
    return h2k_seterr ("descriptor line %u: extent size is not a number",
                       lineno);
  while (p && isspace ((unsigned char) *p))
    p++;
  tok = p ? strsep (&p, " \t") : NULL;
  if (tok == NULL || *tok == '\0')
    return h2k_seterr ("descriptor line %u: extent line has no type", lineno);
  size_t i;
  for (i = 0; i < sizeof extent_types / sizeof extent_types[0]; i++)
    if (strcmp (tok, extent_types[i].name) == 0)
      break;
  if (i == sizeof extent_types / sizeof extent_types[0]) {
    if (strcmp (tok, "VMFSRDM") == 0 || strcmp (tok, "VMFSRDMP") == 0)
      return h2k_seterr ("descriptor line %u: %s extents (raw device "
                         "mappings) point to a LUN, not to data in a file: "
                         "copy the LUN itself", lineno, tok);
    return h2k_seterr ("descriptor line %u: unknown extent type \"%s\"",
                       lineno, tok);
  }
  e.type = extent_types[i].type;
  e.type_name = extent_types[i].name;

  while (p && isspace ((unsigned char) *p))
    p++;
  if (p && *p == '"') {
    /* A quoted name may hold spaces: it ends at the next quote. */
    char *q = strchr (p + 1, '"');
    if (q == NULL)
      return h2k_seterr ("descriptor line %u: unterminated file name",
                         lineno);
    *q = '\0';
    *rawname = p + 1;
    p = q + 1;
  }
  else if (p && *p)
    *rawname = strsep (&p, " \t");
  if (e.type == H2K_VMDK_EXT_ZERO && *rawname)
    *rawname = NULL;  /* a ZERO extent has no file; tolerate one */
  else if (e.type != H2K_VMDK_EXT_ZERO && (*rawname == NULL || **rawname == '\0'))
    return h2k_seterr ("descriptor line %u: %s extent has no file name",
                       lineno, e.type_name);

  while (p && isspace ((unsigned char) *p))
    p++;
  if (p && *p) {
    tok = strsep (&p, " \t");
    if (parse_u64 (tok, &e.offset) == -1)
      return h2k_seterr ("descriptor line %u: extent offset \"%s\" is not "
                         "a number", lineno, tok);
    if (e.type != H2K_VMDK_EXT_FLAT && e.offset != 0)
      return h2k_seterr ("descriptor line %u: an offset is only valid on "
                         "flat extents", lineno);
    if (e.offset > H2K_VMDK_MAX_CAPACITY / 512)
      return h2k_seterr ("descriptor line %u: extent offset %llu is absurd",
                         lineno, (unsigned long long) e.offset);
  }
  if (e.sectors > H2K_VMDK_MAX_CAPACITY / 512
      || d->total_sectors + e.sectors > H2K_VMDK_MAX_CAPACITY / 512)
    return h2k_seterr ("descriptor line %u: the extents add up to more "
                       "than 64 TiB", lineno);
  if (d->extents.len >= VMDK_MAX_EXTENTS)
    return h2k_seterr ("descriptor line %u: more than %d extents", lineno,
                       VMDK_MAX_EXTENTS);
  d->total_sectors += e.sectors;
  return h2k_vmdk_desc_extent_vector_append (&d->extents, e);
}

int
h2k_vmdk_desc_parse (const char *text, size_t len, struct h2k_vmdk_desc *d)
{
  memset (d, 0, sizeof *d);
  d->parent_cid = 0xffffffff;

  const char *nul = memchr (text, '\0', len);
  if (nul)
    len = nul - text;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = text[i];
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f')
      return h2k_seterr ("descriptor is not text (control byte 0x%02x at "
                         "byte %zu)", c, i);
  }

  char *copy = strndup (text, len);
  if (copy == NULL)
    return h2k_seterr ("out of memory");
  /* File names are converted once the encoding is known, which may be
   * after the extent lines; keep the raw names until the end. */
  struct { char *raw; unsigned lineno; } *names = NULL;
  size_t nnames = 0;
  char *rawhint = NULL;
  int r = -1;

  char *p = copy, *line;
  unsigned lineno = 0;
  while ((line = strsep (&p, "\n")) != NULL) {
    lineno++;
    line = trim (line);
    if (*line == '\0' || *line == '#')
      continue;
    if (strncmp (line, "RW", 2) == 0 && isspace ((unsigned char) line[2]))
      goto extent;
    if (strncmp (line, "RDONLY", 6) == 0 && isspace ((unsigned char) line[6]))
      goto extent;
    if (strncmp (line, "NOACCESS", 8) == 0 && isspace ((unsigned char) line[8]))
      goto extent;

    char *eq = strchr (line, '=');
    if (eq == NULL)
      continue;   /* unknown lines are ignored, as VMware does */
    *eq = '\0';
    char *key = trim (line), *val = unquote (trim (eq + 1));
    if (strcasecmp (key, "version") == 0) {
      uint64_t v;
      if (parse_u64 (val, &v) == -1 || v < 1 || v > 3) {
        h2k_seterr ("descriptor line %u: unsupported version \"%s\"",
                    lineno, val);
        goto out;
      }
      d->version = v;
    }
    else if (strcasecmp (key, "encoding") == 0) {
      free (d->encoding);
      if ((d->encoding = strdup (val)) == NULL)
        goto oom;
    }
    else if (strcasecmp (key, "CID") == 0) {
      if (parse_cid (val, &d->cid) == -1) {
        h2k_seterr ("descriptor line %u: CID \"%s\" is not 8 hex digits",
                    lineno, val);
        goto out;
      }
      d->has_cid = true;
    }
    else if (strcasecmp (key, "parentCID") == 0) {
      if (parse_cid (val, &d->parent_cid) == -1) {
        h2k_seterr ("descriptor line %u: parentCID \"%s\" is not 8 hex "
                    "digits", lineno, val);
        goto out;
      }
      d->has_parent_cid = true;
    }
    else if (strcasecmp (key, "createType") == 0) {
      free (d->create_type);
      if ((d->create_type = strdup (val)) == NULL)
        goto oom;
    }
    else if (strcasecmp (key, "parentFileNameHint") == 0)
      rawhint = val;
    continue;

  extent: {
      char *raw;
      if (parse_extent (line, lineno, d, &raw) == -1)
        goto out;
      void *n = reallocarray (names, nnames + 1, sizeof *names);
      if (n == NULL)
        goto oom;
      names = n;
      names[nnames].raw = raw;
      names[nnames].lineno = lineno;
      nnames++;
    }
  }

  for (size_t i = 0; i < nnames; i++) {
    if (names[i].raw == NULL)
      continue;
    d->extents.ptr[i].filename = to_utf8 (names[i].raw, d->encoding);
    if (d->extents.ptr[i].filename == NULL) {
      h2k_seterr_prefix ("descriptor line %u", names[i].lineno);
      goto out;
    }
  }
  if (rawhint && *rawhint) {
    d->parent_hint = to_utf8 (rawhint, d->encoding);
    if (d->parent_hint == NULL) {
      h2k_seterr_prefix ("descriptor: parentFileNameHint");
      goto out;
    }
  }
  r = 0;
  goto out;

 oom:
  h2k_seterr ("out of memory");
 out:
  free (names);
  free (copy);
  if (r == -1)
    h2k_vmdk_desc_free (d);
  return r;
}

void
h2k_vmdk_desc_free (struct h2k_vmdk_desc *d)
{
  for (size_t i = 0; i < d->extents.len; i++)
    free (d->extents.ptr[i].filename);
  h2k_vmdk_desc_extent_vector_reset (&d->extents);
  free (d->encoding);
  free (d->create_type);
  free (d->parent_hint);
  memset (d, 0, sizeof *d);
}
