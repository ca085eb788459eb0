/* Listing VMs without scanning the universe.
 *
 * Unfiltered, one paged RetrievePropertiesEx over a container view of the
 * datacenter's VM folder (or --folder) asks for exactly the record's
 * properties.  Filtered, a first pass asks only for what the filters need
 * (the name, the power state, the host), and a second asks for the full
 * properties of the VMs that passed, by moref.  --host, --cluster and
 * --datastore are resolved to their hosts' and datastores' VM lists first. */

#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "vs-ls.h"

/* A set of morefs (VM or host values), kept sorted for bsearch. */
static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static bool
in_set (const string_vector *set, const char *v)
{
  /* bsearch with a NULL base is undefined even for no element. */
  return set->len > 0
    && bsearch (&v, set->ptr, set->len, sizeof (char *), cmp_str) != NULL;
}

static void
free_set (string_vector *set)
{
  for (size_t i = 0; i < set->len; i++)
    free (set->ptr[i]);
  string_vector_reset (set);
}

/* Add every moref in an ArrayOfManagedObjectReference <val>. */
static int
add_morefs (string_vector *set, xmlNode *val)
{
  for (xmlNode *m = val ? h2k_xml_child (val, NULL) : NULL; m; m = h2k_xml_next (m, NULL)) {
    char *s = h2k_xml_text (m);
    if (!s || string_vector_append (set, s) == -1) {
      free (s);
      return -1;
    }
  }
  return 0;
}

struct collect {
  const char *glob;              /* match the name, or NULL for all */
  const char *prop;              /* the list property to collect */
  string_vector *into;
  size_t matched;
};

static int
collect_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct collect *c = opaque;
  xmlNode *n = h2k_vs_prop (o, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  bool match = !c->glob || (name && glob_match (c->glob, name));
  free (name);
  if (!match)
    return 0;
  c->matched++;
  if (!c->prop) {
    char *m = strdup (moref);
    return m && string_vector_append (c->into, m) == 0 ? 0 : -1;
  }
  return add_morefs (c->into, h2k_vs_prop (o, c->prop));
}

/* Objects of TYPE under FOLDER whose name matches GLOB: their PROP lists
 * (or their own morefs when PROP is NULL) go into INTO. */
static int
collect (struct ls *ls, const char *folder, const char *type, const char *glob,
         const char *prop, string_vector *into, size_t *matched)
{
  const char *types[] = { type, NULL };
  const char *paths[] = { "name", prop, NULL };
  char *view = h2k_vs_create_view (ls->vs, "Folder", folder, types);
  if (!view)
    return -1;
  struct collect c = { glob, prop, into, 0 };
  int r = h2k_vs_retrieve (ls->vs, view, NULL, 0, type, paths,
                           ls->o->page_size, collect_cb, &c);
  destroy_view (ls, view, r);
  if (matched)
    *matched = c.matched;
  return r;
}

/* The objects that wait for the names they refer to: a VM whose host,
 * datastores or port groups are not known yet is copied here, and when
 * WINDOW of them have gathered (or the listing ends) the names of all
 * they refer to are asked for in one call per kind, and their records
 * are made.  Objects that come after one that waits wait too, so the
 * records keep the server's order.  Memory stays bounded by the window,
 * not by the server's page. */
#define WINDOW 32

struct window {
  xmlDoc *doc;                    /* the copies */
  xmlNode *held[WINDOW];
  size_t n;
};

struct pass {
  struct ls *ls;
  const struct dc *dc;
  const string_vector *hosts;     /* allowed runtime.host values, or NULL */
  const string_vector *vms;       /* allowed VMs (datastore filter), or NULL */
  string_vector *matched;         /* first pass: VMs that passed */
  struct window win;
};

/* Whether NAME passes --vm; every --vm it matches is marked seen, so that
 * a plain name no VM has can be reported whatever else matched. */
static bool
name_passes (struct ls *ls, const char *name)
{
  const struct ls_opts *o = ls->o;
  bool pass = o->vm_globs.len == 0;
  for (size_t i = 0; i < o->vm_globs.len; i++)
    if (name && glob_match (o->vm_globs.ptr[i], name)) {
      pass = true;
      if (ls->glob_seen)
        ls->glob_seen[i] = true;
    }
  return pass;
}

static int
filter_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct pass *p = opaque;
  const struct ls_opts *opt = p->ls->o;

  xmlNode *n = h2k_vs_prop (o, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  bool pass = name_passes (p->ls, name);
  free (name);
  if (pass && p->vms && !in_set (p->vms, moref))
    return 0;
  if (pass && opt->power_state) {
    xmlNode *ps = h2k_vs_prop (o, "runtime.powerState");
    char *s = ps ? h2k_xml_text (ps) : NULL;
    pass = s && strcmp (s, opt->power_state) == 0;
    free (s);
  }
  if (pass && p->hosts) {
    xmlNode *h = h2k_vs_prop (o, "runtime.host");
    char *s = h ? h2k_xml_text (h) : NULL;
    pass = s && in_set (p->hosts, s);
    free (s);
  }
  if (!pass)
    return 0;
  char *m = strdup (moref);
  return m && string_vector_append (p->matched, m) == 0 ? 0 : -1;
}

static int
record_one (struct pass *p, const char *moref, xmlNode *o)
{
  json_object *rec = vm_record (p->ls, p->dc, moref, o);
  if (!rec)
    return h2k_seterr ("out of memory");
  return emit (p->ls, rec);
}

static void
window_free (struct window *w)
{
  xmlFreeDoc (w->doc);
  w->doc = NULL;
  w->n = 0;
}

/* The records of the objects in the window, their names asked for first. */
static int
flush (struct pass *p)
{
  struct window *w = &p->win;
  int r = w->n ? prefetch_objects (p->ls, w->held, w->n) : 0;
  for (size_t i = 0; i < w->n && r == 0; i++) {
    char *moref = h2k_xml_child_text (w->held[i], "obj");
    r = moref ? record_one (p, moref, w->held[i]) : h2k_seterr ("out of memory");
    free (moref);
  }
  window_free (w);
  return r;
}

/* A full record: at once when everything it refers to has a known name,
 * else through the window. */
static int
record_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct pass *p = opaque;
  struct window *w = &p->win;
  if (w->n == 0 && names_known (p->ls, o))
    return record_one (p, moref, o);

  if (!w->doc) {
    w->doc = xmlNewDoc (BAD_CAST "1.0");
    xmlNode *root = w->doc ? xmlNewNode (NULL, BAD_CAST "held") : NULL;
    if (!root)
      return h2k_seterr ("out of memory");
    xmlDocSetRootElement (w->doc, root);
  }
  xmlNode *copy = xmlDocCopyNode (o, w->doc, 1);
  if (!copy || !xmlAddChild (xmlDocGetRootElement (w->doc), copy)) {
    xmlFreeNode (copy);
    return h2k_seterr ("out of memory");
  }
  w->held[w->n++] = copy;
  return w->n == WINDOW ? flush (p) : 0;
}

/* Full records of the VMs in VIEW, or of the N VMs OBJS. */
static int
records (struct pass *p, const char *view, const struct h2k_moref *objs, size_t n,
         const char *const *paths)
{
  int r = h2k_vs_retrieve (p->ls->vs, view, objs, n, "VirtualMachine", paths,
                           p->ls->o->page_size, record_cb, p);
  if (r == 0)
    r = flush (p);
  window_free (&p->win);
  return r;
}

/* The container to list: the datacenter's VM folder, or --folder in it. */
static char *
container (struct ls *ls, const struct dc *dc)
{
  const char *f = ls->o->folder;
  if (!f)
    return strdup (dc->vm_folder);

  char *path;
  if (f[0] == '/') {
    /* An absolute inventory path must lie in this datacenter. */
    size_t n = strlen (dc->path);
    if (strncmp (f + 1, dc->path, n) != 0 || (f[1 + n] != '/' && f[1 + n] != '\0'))
      return strdup ("");
    path = strdup (f + 1);
  }
  else if (asprintf (&path, "%s/vm/%s", dc->path, f) == -1)
    path = NULL;
  if (!path) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  char *moref = h2k_vs_find_by_path (ls->vs, path);
  free (path);
  return moref;
}

int
list_vms (struct ls *ls, const struct dc *dc)
{
  const struct ls_opts *o = ls->o;
  const char *paths[40];
  vm_paths (ls, paths);
  string_vector hosts = { 0 }, ds_vms = { 0 }, matched = { 0 };
  char *folder = container (ls, dc);
  char *view = NULL;
  int r = -1;

  if (!folder)
    return -1;
  if (!*folder) {
    /* --folder names nothing in this datacenter. */
    free (folder);
    return 0;
  }
  ls->folder_found = true;

  bool filtered = o->vm_globs.len || o->power_state || o->host || o->cluster
    || o->datastore;

  /* Hosts allowed by --cluster and --host. */
  if (o->cluster || o->host) {
    string_vector cluster_hosts = { 0 };
    size_t n;
    if (o->cluster) {
      if (collect (ls, dc->host_folder, "ClusterComputeResource", o->cluster,
                   "host", &cluster_hosts, &n) == -1)
        goto out;
      if (cluster_hosts.len > 1)
        qsort (cluster_hosts.ptr, cluster_hosts.len, sizeof (char *), cmp_str);
    }
    if (o->host) {
      string_vector named = { 0 };
      if (collect (ls, dc->host_folder, "HostSystem", o->host, NULL, &named, &n) == -1) {
        free_set (&cluster_hosts);
        goto out;
      }
      for (size_t i = 0; i < named.len; i++) {
        if (!o->cluster || in_set (&cluster_hosts, named.ptr[i])) {
          string_vector_append (&hosts, named.ptr[i]);
          named.ptr[i] = NULL;
        }
        free (named.ptr[i]);
      }
      string_vector_reset (&named);
      free_set (&cluster_hosts);
    }
    else
      hosts = cluster_hosts;
    if (hosts.len > 1)
      qsort (hosts.ptr, hosts.len, sizeof (char *), cmp_str);
  }

  /* VMs allowed by --datastore: the datastores' own VM lists. */
  if (o->datastore) {
    if (collect (ls, dc->datastore_folder, "Datastore", o->datastore, "vm",
                 &ds_vms, NULL) == -1)
      goto out;
    if (ds_vms.len > 1)
      qsort (ds_vms.ptr, ds_vms.len, sizeof (char *), cmp_str);
  }

  static const char *const types[] = { "VirtualMachine", NULL };
  view = h2k_vs_create_view (ls->vs, "Folder", folder, types);
  if (!view)
    goto out;

  struct pass p = { ls, dc, (o->cluster || o->host) ? &hosts : NULL,
                    o->datastore ? &ds_vms : NULL, &matched, { 0 } };
  if (!filtered) {
    r = records (&p, view, NULL, 0, paths);
    goto out;
  }

  const char *filter_paths[4] = { "name" };
  size_t np = 1;
  if (o->power_state)
    filter_paths[np++] = "runtime.powerState";
  if (o->cluster || o->host)
    filter_paths[np++] = "runtime.host";
  filter_paths[np] = NULL;
  /* The first pass's objects are a name and a word or two: pages ten
   * times larger cost the server little and save round trips. */
  if (h2k_vs_retrieve (ls->vs, view, NULL, 0, "VirtualMachine", filter_paths,
                       o->page_size * 10, filter_cb, &p) == -1)
    goto out;

  /* Second pass: the full record of the VMs that passed, a page at a time. */
  for (size_t i = 0; i < matched.len; i += o->page_size) {
    size_t n = matched.len - i < (size_t) o->page_size ? matched.len - i : (size_t) o->page_size;
    struct h2k_moref *objs = calloc (n, sizeof *objs);
    if (!objs) {
      h2k_seterr ("out of memory");
      goto out;
    }
    for (size_t j = 0; j < n; j++)
      objs[j] = (struct h2k_moref) { "VirtualMachine", matched.ptr[i + j] };
    int rr = records (&p, NULL, objs, n, paths);
    free (objs);
    if (rr == -1)
      goto out;
  }
  r = 0;

 out:
  if (view)
    destroy_view (ls, view, r);
  free (folder);
  free_set (&hosts);
  free_set (&ds_vms);
  free_set (&matched);
  return r;
}
