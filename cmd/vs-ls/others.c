/* Records for datastores, hosts, networks and datacenters. */

#include <stdlib.h>
#include <string.h>

#include "vs-ls.h"

struct other {
  struct ls *ls;
  const struct dc *dc;
  const char *glob;              /* on the name */
  const char *kind;
  /* Property -> field, and how to read it. */
  const char *const (*fields)[3];
  string_vector seen;            /* morefs printed, when types overlap */
};

static void
add_field (json_object *rec, xmlNode *v, const char *key, const char *how)
{
  char *s = h2k_xml_text (v);
  if (!s)
    return;
  if (strcmp (how, "int") == 0) {
    char *end;
    long long n = strtoll (s, &end, 10);
    if (*s && !*end)
      json_object_object_add (rec, key, json_object_new_int64 (n));
  }
  else if (strcmp (how, "bool") == 0) {
    if (strcmp (s, "true") == 0 || strcmp (s, "false") == 0)
      json_object_object_add (rec, key, json_object_new_boolean (s[0] == 't'));
  }
  else
    json_object_object_add (rec, key, json_object_new_string (s));
  free (s);
}

static int
other_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct other *x = opaque;
  xmlNode *n = h2k_vs_prop (o, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  bool match = !x->glob || (name && glob_match (x->glob, name));
  free (name);
  if (!match)
    return 0;

  /* The property collector matches subtypes: asking for Network also
   * returns the distributed port groups.  Print each object once. */
  for (size_t i = 0; i < x->seen.len; i++)
    if (strcmp (x->seen.ptr[i], moref) == 0)
      return 0;
  char *copy = strdup (moref);
  if (!copy || string_vector_append (&x->seen, copy) == -1) {
    free (copy);
    return h2k_seterr ("out of memory");
  }

  json_object *rec = json_object_new_object ();
  json_object_object_add (rec, "kind", json_object_new_string (x->kind));
  add_field (rec, n, "name", "str");
  json_object_object_add (rec, "moref", json_object_new_string (moref));
  json_object_object_add (rec, "datacenter", json_object_new_string (x->dc->name));
  json_object_object_add (rec, "dc_path", json_object_new_string (x->dc->path));
  if (strcmp (x->kind, "network") == 0)
    json_object_object_add (rec, "type", json_object_new_string (type));

  for (size_t i = 0; x->fields && x->fields[i][0]; i++) {
    xmlNode *v = h2k_vs_prop (o, x->fields[i][0]);
    if (!v)
      continue;
    if (strcmp (x->fields[i][2], "cluster") == 0) {
      /* A host's parent: a cluster, or a standalone host's own
       * ComputeResource (which is no cluster). */
      xmlChar *pt = xmlGetNoNsProp (v, BAD_CAST "type");
      if (pt && strcmp ((char *) pt, "ClusterComputeResource") == 0) {
        char *pm = h2k_xml_text (v);
        const char *cn = pm ? name_of (x->ls, "ClusterComputeResource", pm) : NULL;
        if (cn)
          json_object_object_add (rec, "cluster", json_object_new_string (cn));
        free (pm);
      }
      xmlFree (pt);
      continue;
    }
    add_field (rec, v, x->fields[i][1], x->fields[i][2]);
  }
  return emit (x->ls, rec);
}

static int
list_other (struct ls *ls, const struct dc *dc, const char *folder,
            const char *const *types, const char *glob, const char *kind,
            const char *const (*fields)[3])
{
  const char *paths[16] = { "name" };
  size_t np = 1;
  for (size_t i = 0; fields && fields[i][0] && np < 15; i++)
    paths[np++] = fields[i][0];
  paths[np] = NULL;

  char *view = h2k_vs_create_view (ls->vs, "Folder", folder, types);
  if (!view)
    return -1;
  struct other x = { ls, dc, glob, kind, fields, { 0 } };
  int r = 0;
  for (const char *const *t = types; *t && r == 0; t++)
    r = h2k_vs_retrieve (ls->vs, view, NULL, 0, *t, paths, ls->o->page_size,
                         other_cb, &x);
  destroy_view (ls, view, r);
  for (size_t i = 0; i < x.seen.len; i++)
    free (x.seen.ptr[i]);
  string_vector_reset (&x.seen);
  return r;
}

int
list_datastores (struct ls *ls, const struct dc *dc)
{
  static const char *const types[] = { "Datastore", NULL };
  static const char *const fields[][3] = {
    { "summary.type", "type", "str" },
    { "summary.capacity", "capacity", "int" },
    { "summary.freeSpace", "free", "int" },
    { "summary.url", "url", "str" },
    { "summary.accessible", "accessible", "bool" },
    { NULL, NULL, NULL }
  };
  return list_other (ls, dc, dc->datastore_folder, types, ls->o->datastore,
                     "datastore", fields);
}

/* --cluster for hosts: keep those whose parent cluster matches. */
struct cluster_filter {
  struct ls *ls;
  string_vector *hosts;
};

static int
cluster_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct cluster_filter *c = opaque;
  xmlNode *n = h2k_vs_prop (o, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  bool match = name && glob_match (c->ls->o->cluster, name);
  free (name);
  if (!match)
    return 0;
  xmlNode *hosts = h2k_vs_prop (o, "host");
  for (xmlNode *m = hosts ? h2k_xml_child (hosts, NULL) : NULL; m; m = h2k_xml_next (m, NULL)) {
    char *s = h2k_xml_text (m);
    if (!s || string_vector_append (c->hosts, s) == -1) {
      free (s);
      return h2k_seterr ("out of memory");
    }
  }
  return 0;
}

struct host_pass {
  struct other x;
  string_vector *allowed;
};

static int
host_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct host_pass *h = opaque;
  if (h->allowed) {
    bool in = false;
    for (size_t i = 0; i < h->allowed->len && !in; i++)
      in = strcmp (h->allowed->ptr[i], moref) == 0;
    if (!in)
      return 0;
  }
  return other_cb (&h->x, type, moref, o);
}

int
list_hosts (struct ls *ls, const struct dc *dc)
{
  static const char *const types[] = { "HostSystem", NULL };
  static const char *const fields[][3] = {
    { "parent", "cluster", "cluster" },
    { "runtime.connectionState", "connection_state", "str" },
    { "runtime.powerState", "power_state", "str" },
    { "runtime.inMaintenanceMode", "maintenance", "bool" },
    { "summary.config.product.fullName", "product", "str" },
    { "summary.config.product.version", "version", "str" },
    { "summary.hardware.numCpuCores", "cpu_cores", "int" },
    { "summary.hardware.memorySize", "memory", "int" },
    { NULL, NULL, NULL }
  };
  const char *paths[16] = { "name" };
  size_t np = 1;
  for (size_t i = 0; fields[i][0]; i++)
    paths[np++] = fields[i][0];
  paths[np] = NULL;

  string_vector allowed = { 0 };
  int r = -1;
  char *view = NULL;
  if (ls->o->cluster) {
    static const char *const ctypes[] = { "ClusterComputeResource", NULL };
    static const char *const cpaths[] = { "name", "host", NULL };
    char *cview = h2k_vs_create_view (ls->vs, "Folder", dc->host_folder, ctypes);
    if (!cview)
      return -1;
    struct cluster_filter c = { ls, &allowed };
    r = h2k_vs_retrieve (ls->vs, cview, NULL, 0, "ClusterComputeResource",
                         cpaths, ls->o->page_size, cluster_cb, &c);
    destroy_view (ls, cview, r);
    if (r == -1)
      goto out;
  }

  view = h2k_vs_create_view (ls->vs, "Folder", dc->host_folder, types);
  if (!view)
    goto out;
  struct host_pass h = { { ls, dc, ls->o->host, "host", fields, { 0 } },
                         ls->o->cluster ? &allowed : NULL };
  r = h2k_vs_retrieve (ls->vs, view, NULL, 0, "HostSystem", paths,
                       ls->o->page_size, host_cb, &h);
  destroy_view (ls, view, r);
  for (size_t i = 0; i < h.x.seen.len; i++)
    free (h.x.seen.ptr[i]);
  string_vector_reset (&h.x.seen);

 out:
  for (size_t i = 0; i < allowed.len; i++)
    free (allowed.ptr[i]);
  string_vector_reset (&allowed);
  return r;
}

int
list_networks (struct ls *ls, const struct dc *dc)
{
  /* Distributed port groups and NSX networks are Networks too, but the
   * property collector is asked per concrete type. */
  static const char *const types[] = {
    "Network", "DistributedVirtualPortgroup", "OpaqueNetwork", NULL
  };
  return list_other (ls, dc, dc->network_folder, types, NULL, "network", NULL);
}

int
print_datacenter (struct ls *ls, const struct dc *dc)
{
  json_object *rec = json_object_new_object ();
  json_object_object_add (rec, "kind", json_object_new_string ("datacenter"));
  json_object_object_add (rec, "name", json_object_new_string (dc->name));
  json_object_object_add (rec, "moref", json_object_new_string (dc->moref));
  json_object_object_add (rec, "dc_path", json_object_new_string (dc->path));
  return emit (ls, rec);
}
