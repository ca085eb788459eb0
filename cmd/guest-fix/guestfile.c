/* Reading and writing the guest's files through libguestfs. */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

bool
gfile_exists (struct gf *gf, const char *path)
{
  return guestfs_is_file_opts (gf->g, path,
                               GUESTFS_IS_FILE_OPTS_FOLLOWSYMLINKS, 1,
                               -1) > 0;
}

bool
gdir_exists (struct gf *gf, const char *path)
{
  return guestfs_is_dir_opts (gf->g, path,
                              GUESTFS_IS_DIR_OPTS_FOLLOWSYMLINKS, 1, -1) > 0;
}

const char *
gfirst_file (struct gf *gf, const char *const *paths)
{
  for (size_t i = 0; paths[i]; i++)
    if (gfile_exists (gf, paths[i]))
      return paths[i];
  return NULL;
}

char *
gfile_read (struct gf *gf, const char *path, size_t *size)
{
  size_t n;
  char *buf = guestfs_read_file (gf->g, path, &n);
  if (!buf)
    return NULL;
  /* read_file returns a buffer that is not NUL-terminated for us to rely
   * on; copy it into one that is. */
  char *s = malloc (n + 1);
  if (!s)
    h2k_die ("out of memory");
  memcpy (s, buf, n);
  s[n] = '\0';
  free (buf);
  if (size)
    *size = n;
  return s;
}

int
gfile_write (struct gf *gf, struct fixrun *fx, const char *path,
             const char *content, size_t size, const char *action,
             const char *detail)
{
  if (!gf->dry_run && guestfs_write (gf->g, path, content, size) == -1) {
    fx_fail (fx, "%s: %s", path, gerr (gf));
    return -1;
  }
  fx_change (fx, path, action, detail ? "%s" : NULL, detail);
  return 0;
}

void
strv_free (char **v)
{
  if (!v)
    return;
  for (size_t i = 0; v[i]; i++)
    free (v[i]);
  free (v);
}

size_t
strv_len (char *const *v)
{
  size_t n = 0;
  while (v && v[n])
    n++;
  return n;
}

char **
gglob (struct gf *gf, const char *pattern)
{
  char **v = guestfs_glob_expand (gf->g, pattern);
  if (!v) {
    v = calloc (1, sizeof *v);
    if (!v)
      h2k_die ("out of memory");
  }
  return v;
}

int
gfile_edit_lines (struct gf *gf, struct fixrun *fx, const char *path,
                  line_fn fn, void *data)
{
  size_t size;
  CLEANUP_FREE char *text = gfile_read (gf, path, &size);
  if (!text) {
    fx_fail (fx, "%s: %s", path, gerr (gf));
    return -1;
  }
  if (strlen (text) != size) {
    gf_warn (gf, "%s: holds NUL bytes, left alone", path);
    return 0;
  }

  CLEANUP_FREE char *out = NULL;
  size_t outlen = 0;
  FILE *fp = open_memstream (&out, &outlen);
  if (!fp)
    h2k_die ("open_memstream: %m");

  int changed = 0;
  json_object *lines = json_object_new_array ();
  char *p = text;
  /* strtok_r would merge empty lines; walk the newlines by hand. */
  while (*p) {
    char *nl = strchr (p, '\n');
    if (nl)
      *nl = '\0';
    char *repl = fn (gf, p, data);
    if (repl) {
      json_object *c = json_object_new_object ();
      json_object_object_add (c, "from", json_object_new_string (p));
      json_object_object_add (c, "to", json_object_new_string (repl));
      json_object_array_add (lines, c);
      fputs (repl, fp);
      free (repl);
      changed++;
    }
    else
      fputs (p, fp);
    if (nl) {
      fputc ('\n', fp);
      p = nl + 1;
    }
    else
      break;
  }
  if (fclose (fp) != 0)
    h2k_die ("open_memstream: %m");

  if (changed == 0) {
    json_object_put (lines);
    return 0;
  }
  if (!gf->dry_run && guestfs_write (gf->g, path, out, outlen) == -1) {
    json_object_put (lines);
    fx_fail (fx, "%s: %s", path, gerr (gf));
    return -1;
  }
  json_object *c = json_object_new_object ();
  json_object_object_add (c, "file", json_object_new_string (path));
  json_object_object_add (c, "action", json_object_new_string ("edit"));
  json_object_object_add (c, "lines", lines);
  json_object_array_add (fx->changes, c);
  return changed;
}

char *
grun (struct gf *gf, const char *const *argv)
{
  return guestfs_command (gf->g, (char *const *) argv);
}
