/* Datacenters, names of referenced objects, inventory paths. */

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "vs-ls.h"

bool
glob_match (const char *pattern, const char *name)
{
  /* Not FNM_PATHNAME: a VM name may contain '/'. */
  return fnmatch (pattern, name, 0) == 0;
}

int
emit (struct ls *ls, json_object *rec)
{
  int r = h2k_jsonl_write (ls->out, rec);
  json_object_put (rec);
  if (r == 0)
    ls->printed++;
  return r;
}

static char *
text_or_null (xmlNode *val)
{
  return val ? h2k_xml_text (val) : NULL;
}

/* Name lookups: one RetrievePropertiesEx per object not seen before. */
struct name_result {
  char *name;
  char *parent;
  char *parent_type;
};

static int
name_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct name_result *r = opaque;
  free (r->name);
  r->name = text_or_null (h2k_vs_prop (o, "name"));
  xmlNode *p = h2k_vs_prop (o, "parent");
  if (p) {
    free (r->parent);
    free (r->parent_type);
    r->parent = h2k_xml_text (p);
    xmlChar *t = xmlGetNoNsProp (p, BAD_CAST "type");
    r->parent_type = t ? strdup ((char *) t) : NULL;
    xmlFree (t);
  }
  return 0;
}

static struct name_entry *
cached (struct ls *ls, const char *type, const char *moref)
{
  for (size_t i = 0; i < ls->names.len; i++)
    if (strcmp (ls->names.ptr[i].moref, moref) == 0
        && strcmp (ls->names.ptr[i].type, type) == 0)
      return &ls->names.ptr[i];
  return NULL;
}

static int
remember (struct ls *ls, const char *type, const char *moref, const char *name)
{
  struct name_entry e = { strdup (type), strdup (moref), name ? strdup (name) : NULL };
  if (!e.type || !e.moref || (name && !e.name) || name_vector_append (&ls->names, e) == -1) {
    free (e.type);
    free (e.moref);
    free (e.name);
    return h2k_seterr ("out of memory");
  }
  return 0;
}

static int
batch_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct ls *ls = opaque;
  xmlNode *n = h2k_vs_prop (o, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  int r = cached (ls, type, moref) ? 0 : remember (ls, type, moref, name);
  free (name);
  return r;
}

bool
name_cached (struct ls *ls, const char *type, const char *moref)
{
  return cached (ls, type, moref) != NULL;
}

int
prefetch_names (struct ls *ls, const char *type, const string_vector *morefs)
{
  static const char *const paths[] = { "name", NULL };
  struct h2k_moref *objs = calloc (morefs->len + 1, sizeof *objs);
  size_t n = 0;

  if (!objs)
    return h2k_seterr ("out of memory");
  for (size_t i = 0; i < morefs->len; i++) {
    bool dup = cached (ls, type, morefs->ptr[i]) != NULL;
    for (size_t j = 0; j < n && !dup; j++)
      dup = strcmp (objs[j].value, morefs->ptr[i]) == 0;
    if (!dup)
      objs[n++] = (struct h2k_moref) { type, morefs->ptr[i] };
  }
  /* One call for all of them.  If it fails (an object deleted meanwhile
   * can fail the whole call), name_of asks one by one instead. */
  if (n > 0)
    h2k_vs_retrieve (ls->vs, NULL, objs, n, type, paths, 0, batch_cb, ls);
  free (objs);
  return 0;
}

const char *
name_of (struct ls *ls, const char *type, const char *moref)
{
  struct name_entry *hit = cached (ls, type, moref);
  if (hit)
    return hit->name;

  static const char *const paths[] = { "name", NULL };
  struct h2k_moref obj = { type, moref };
  struct name_result r = { 0 };
  /* An object the server cannot name (deleted meanwhile, no permission)
   * stays unnamed; the record leaves the field out. */
  if (h2k_vs_retrieve (ls->vs, NULL, &obj, 1, type, paths, 0, name_cb, &r) == -1) {
    free (r.name);
    r.name = NULL;
  }
  free (r.parent);
  free (r.parent_type);
  int ok = remember (ls, type, moref, r.name);
  free (r.name);
  return ok == 0 ? ls->names.ptr[ls->names.len - 1].name : NULL;
}

void
free_names (struct ls *ls)
{
  for (size_t i = 0; i < ls->names.len; i++) {
    free (ls->names.ptr[i].type);
    free (ls->names.ptr[i].moref);
    free (ls->names.ptr[i].name);
  }
  name_vector_reset (&ls->names);
}

/* The inventory path of a datacenter: the names of the folders above it,
 * up to (not including) the root folder. */
static char *
inventory_path (struct ls *ls, const char *name, const char *parent,
                const char *parent_type)
{
  char *path = strdup (name);
  char *cur = parent ? strdup (parent) : NULL;
  char *cur_type = parent_type ? strdup (parent_type) : NULL;
  const char *root = h2k_vs_content (ls->vs)->root_folder;

  for (int depth = 0; path && cur && strcmp (cur, root) != 0 && depth < 64; depth++) {
    static const char *const paths[] = { "name", "parent", NULL };
    struct h2k_moref obj = { cur_type ? cur_type : "Folder", cur };
    struct name_result r = { 0 };
    if (h2k_vs_retrieve (ls->vs, NULL, &obj, 1, obj.type, paths, 0, name_cb, &r) == -1
        || !r.name) {
      free (r.name);
      free (r.parent);
      free (r.parent_type);
      free (path);
      path = NULL;
      break;
    }
    char *longer;
    if (asprintf (&longer, "%s/%s", r.name, path) == -1)
      longer = NULL;
    free (path);
    path = longer;
    free (r.name);
    free (cur);
    free (cur_type);
    cur = r.parent;
    cur_type = r.parent_type;
  }
  free (cur);
  free (cur_type);
  return path;
}

/* The VM folder PARENT as --folder takes it: the folder names from the
 * datacenter's vm folder down ("prod/web"), "" for the vm folder itself;
 * NULL when a folder cannot be read or PARENT is not under DC's vm folder
 * (a vApp). */
char *
vm_folder_path (struct ls *ls, const struct dc *dc, const char *parent)
{
  char *path = strdup ("");
  char *cur = strdup (parent);

  for (int depth = 0; path && cur && strcmp (cur, dc->vm_folder) != 0; depth++) {
    static const char *const paths[] = { "name", "parent", NULL };
    struct h2k_moref obj = { "Folder", cur };
    struct name_result r = { 0 };
    char *longer = NULL;
    if (depth < 64
        && h2k_vs_retrieve (ls->vs, NULL, &obj, 1, obj.type, paths, 0, name_cb, &r) == 0
        && r.name && r.parent && (r.parent_type == NULL || strcmp (r.parent_type, "Folder") == 0)
        && asprintf (&longer, "%s%s%s", r.name, *path ? "/" : "", path) == -1)
      longer = NULL;
    free (path);
    path = longer;
    free (r.name);
    free (r.parent_type);
    free (cur);
    cur = r.parent;
  }
  free (cur);
  return path;
}

static void
free_dc (struct dc *d)
{
  free (d->moref);
  free (d->name);
  free (d->path);
  free (d->vm_folder);
  free (d->host_folder);
  free (d->datastore_folder);
  free (d->network_folder);
}

void
destroy_view (struct ls *ls, char *view, int status)
{
  /* Keep the error of what went before, whatever DestroyView says. */
  char *msg = status == -1 ? strdup (h2k_errmsg ()) : NULL;
  h2k_vs_destroy_view (ls->vs, view);
  if (msg)
    h2k_seterr ("%s", msg);
  free (msg);
  free (view);
}

struct dc_list {
  struct ls *ls;
  dc_vector *dcs;
};

static int
dc_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct dc_list *l = opaque;
  struct dc d = { 0 };
  d.moref = strdup (moref);
  d.name = text_or_null (h2k_vs_prop (o, "name"));
  d.vm_folder = text_or_null (h2k_vs_prop (o, "vmFolder"));
  d.host_folder = text_or_null (h2k_vs_prop (o, "hostFolder"));
  d.datastore_folder = text_or_null (h2k_vs_prop (o, "datastoreFolder"));
  d.network_folder = text_or_null (h2k_vs_prop (o, "networkFolder"));

  /* The parent is kept in path until inventory_path replaces it. */
  xmlNode *p = h2k_vs_prop (o, "parent");
  char *parent = text_or_null (p);
  xmlChar *pt = p ? xmlGetNoNsProp (p, BAD_CAST "type") : NULL;
  d.path = (char *) (pt ? strdup ((char *) pt) : NULL);
  xmlFree (pt);
  if (parent) {
    char *both;
    if (asprintf (&both, "%s\n%s", d.path ? d.path : "Folder", parent) == -1)
      both = NULL;
    free (d.path);
    d.path = both;
  }
  free (parent);

  if (!d.moref || !d.name || !d.vm_folder || !d.host_folder
      || !d.datastore_folder || !d.network_folder) {
    free_dc (&d);
    return h2k_seterr ("%s: datacenter %s: the server left out its name or "
                       "folders", h2k_vs_name (l->ls->vs), moref);
  }
  if (dc_vector_append (l->dcs, d) == -1)
    return -1;
  return 0;
}

int
list_datacenters (struct ls *ls, dc_vector *dcs)
{
  static const char *const types[] = { "Datacenter", NULL };
  static const char *const paths[] = {
    "name", "parent", "vmFolder", "hostFolder", "datastoreFolder",
    "networkFolder", NULL
  };
  const struct h2k_vs_content *sc = h2k_vs_content (ls->vs);
  char *view = h2k_vs_create_view (ls->vs, "Folder", sc->root_folder, types);
  if (!view)
    return -1;
  struct dc_list l = { ls, dcs };
  int r = h2k_vs_retrieve (ls->vs, view, NULL, 0, "Datacenter", paths,
                           ls->o->page_size, dc_cb, &l);
  destroy_view (ls, view, r);
  if (r == -1)
    return -1;

  /* Turn each "type\nparent" into the inventory path, and keep the
   * datacenters --datacenter asks for (by name or by path). */
  const char *want = h2k_vs_opts (ls->vs)->datacenter;
  size_t keep = 0;
  for (size_t i = 0; i < dcs->len; i++) {
    struct dc *d = &dcs->ptr[i];
    char *nl = d->path ? strchr (d->path, '\n') : NULL;
    char *parent_type = d->path, *parent = nl ? nl + 1 : NULL;
    if (nl)
      *nl = '\0';
    char *path = inventory_path (ls, d->name, parent, parent_type);
    free (d->path);
    d->path = path;
    if (!path)
      return h2k_seterr ("%s: cannot find the inventory path of datacenter %s",
                         h2k_vs_name (ls->vs), d->name);
    const char *w = want && want[0] == '/' ? want + 1 : want;
    if (!w || strcmp (w, d->name) == 0 || strcmp (w, path) == 0)
      dcs->ptr[keep++] = *d;
    else
      free_dc (d);
  }
  dcs->len = keep;
  if (want && keep == 0)
    return h2k_seterr ("%s: no datacenter named '%s'", h2k_vs_name (ls->vs), want);
  return 0;
}

void
free_datacenters (dc_vector *dcs)
{
  for (size_t i = 0; i < dcs->len; i++)
    free_dc (&dcs->ptr[i]);
  dc_vector_reset (dcs);
}
