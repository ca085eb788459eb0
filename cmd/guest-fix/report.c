/* The fix objects of the JSON report. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/h2k.h"
#include "guest-fix.h"

static char *
vfmt (const char *fmt, va_list ap)
{
  char *s;
  if (vasprintf (&s, fmt, ap) == -1)
    h2k_die ("out of memory");
  return s;
}

void
fx_change (struct fixrun *fx, const char *file, const char *action,
           const char *fmt, ...)
{
  json_object *c = json_object_new_object ();
  if (file)
    json_object_object_add (c, "file", json_object_new_string (file));
  json_object_object_add (c, "action", json_object_new_string (action));
  if (fmt) {
    va_list ap;
    va_start (ap, fmt);
    char *s = vfmt (fmt, ap);
    va_end (ap);
    json_object_object_add (c, "detail", json_object_new_string (s));
    free (s);
  }
  json_object_array_add (fx->changes, c);
}

static void
set_reason (struct fixrun *fx, const char *fmt, va_list ap)
{
  char *s = vfmt (fmt, ap);
  json_object_object_add (fx->obj, "reason", json_object_new_string (s));
  free (s);
}

void
fx_skip (struct fixrun *fx, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  set_reason (fx, fmt, ap);
  va_end (ap);
  fx->skipped = true;
}

void
fx_fail (struct fixrun *fx, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  set_reason (fx, fmt, ap);
  va_end (ap);
  fx->failed = true;
}

void
fx_note (struct fixrun *fx, const char *key, json_object *val)
{
  json_object_object_add (fx->obj, key, val);
}

void
gf_warn (struct gf *gf, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = vfmt (fmt, ap);
  va_end (ap);
  h2k_warn ("%s", s);
  json_object_array_add (gf->warnings, json_object_new_string (s));
  free (s);
}

const char *
gerr (struct gf *gf)
{
  const char *e = guestfs_last_error (gf->g);
  return e ? e : "unknown libguestfs error";
}
