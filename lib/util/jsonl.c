#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"
#include "jsonl.h"

void
h2k_jsonl_reader_init (struct h2k_jsonl_reader *r, FILE *fp, const char *name)
{
  memset (r, 0, sizeof *r);
  r->fp = fp;
  r->name = name;
}

void
h2k_jsonl_reader_free (struct h2k_jsonl_reader *r)
{
  free (r->line);
  r->line = NULL;
}

int
h2k_jsonl_read (struct h2k_jsonl_reader *r, json_object **obj)
{
  for (;;) {
    errno = 0;
    ssize_t n = getline (&r->line, &r->linecap, r->fp);
    if (n < 0) {
      if (ferror (r->fp))
        return h2k_seterr ("%s: read error: %m", r->name);
      return 0;
    }
    r->lineno++;
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
      r->line[--n] = '\0';
    const char *p = r->line;
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      continue;

    json_tokener *tok = json_tokener_new ();
    if (tok == NULL)
      return h2k_seterr ("%s: out of memory", r->name);
    json_object *o = json_tokener_parse_ex (tok, p, (int) strlen (p));
    enum json_tokener_error jerr = json_tokener_get_error (tok);
    size_t used = json_tokener_get_parse_end (tok);
    json_tokener_free (tok);
    if (o == NULL || jerr != json_tokener_success) {
      json_object_put (o);
      return h2k_seterr ("%s: line %lu: not valid JSON: %s", r->name,
                         r->lineno,
                         jerr == json_tokener_continue ? "unexpected end of line"
                         : json_tokener_error_desc (jerr));
    }
    /* Anything but white space after the object is a second value on the
     * line, which JSON lines does not allow. */
    for (const char *q = p + used; *q; q++)
      if (*q != ' ' && *q != '\t') {
        json_object_put (o);
        return h2k_seterr ("%s: line %lu: trailing characters after the JSON value",
                           r->name, r->lineno);
      }
    if (!json_object_is_type (o, json_type_object)) {
      json_object_put (o);
      return h2k_seterr ("%s: line %lu: not a JSON object", r->name, r->lineno);
    }
    *obj = o;
    return 1;
  }
}

int
h2k_jsonl_write (FILE *fp, json_object *obj)
{
  const char *s = json_object_to_json_string_ext
    (obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
  if (s == NULL)
    return h2k_seterr ("out of memory");
  if (fputs (s, fp) == EOF || putc ('\n', fp) == EOF)
    return h2k_seterr ("write error: %m");
  return 0;
}

bool
h2k_json_get_string (json_object *obj, const char *key, const char **out)
{
  json_object *v;
  if (!json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_string))
    return false;
  *out = json_object_get_string (v);
  return true;
}

bool
h2k_json_get_int64 (json_object *obj, const char *key, int64_t *out)
{
  json_object *v;
  if (!json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_int))
    return false;
  errno = 0;
  *out = json_object_get_int64 (v);
  return errno == 0;
}

bool
h2k_json_get_bool (json_object *obj, const char *key, bool *out)
{
  json_object *v;
  if (!json_object_object_get_ex (obj, key, &v)
      || !json_object_is_type (v, json_type_boolean))
    return false;
  *out = json_object_get_boolean (v);
  return true;
}

static int
set (json_object *obj, const char *key, json_object *v)
{
  if (v == NULL || json_object_object_add (obj, key, v) != 0) {
    json_object_put (v);
    return h2k_seterr ("out of memory");
  }
  return 0;
}

int
h2k_json_set_string (json_object *obj, const char *key, const char *val)
{
  return set (obj, key, json_object_new_string (val));
}

int
h2k_json_set_int64 (json_object *obj, const char *key, int64_t val)
{
  return set (obj, key, json_object_new_int64 (val));
}

int
h2k_json_set_bool (json_object *obj, const char *key, bool val)
{
  return set (obj, key, json_object_new_boolean (val));
}
