/* --direct: which host serves a datastore file, and the URL to ask it.
 *
 * Through vCenter, /folder bytes pass through vCenter's reverse proxy on
 * their way from the host, which is slow for large streams (VMware KB
 * 2112692).  With --direct each file is fetched from a host that mounts
 * its datastore (the datastore's "host" property: mounted, accessible, the
 * host connected and not in maintenance mode), at
 * https://HOST/folder/<path>?dsName=<datastore>, with a generic service
 * ticket per request (ticket.c).
 *
 * HOST is the host's inventory name (HostSystem.name), the name vCenter
 * itself reaches the host by.  govmomi prefers a management IP address
 * (config.virtualNicManagerInfo), but that is only meaningful for the
 * selected management vmknic and is often an address only the management
 * network reaches; a name resolves wherever vCenter's does, and
 * --connect-to maps it where it does not (NAT, split DNS, tests).
 */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "direct.h"
#include "pull.h"
#include "vsphere/vsphere.h"

static struct direct *
state (struct pull *p)
{
  if (p->dt == NULL && (p->dt = calloc (1, sizeof *p->dt)) == NULL)
    h2k_seterr ("out of memory");
  return p->dt;
}

DEFINE_VECTOR_TYPE (moref_vector, char *);

static void
morefs_free (moref_vector *v)
{
  for (size_t i = 0; i < v->len; i++)
    free (v->ptr[i]);
  moref_vector_reset (v);
}

/* The morefs inside a property value (ArrayOfManagedObjectReference). */
static int
collect_morefs (void *opaque, const char *type, const char *moref,
                xmlNode *objects)
{
  moref_vector *out = opaque;
  (void) type, (void) moref;
  xmlNode *val = h2k_vs_prop (objects, "datastore");
  for (xmlNode *c = val ? val->children : NULL; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE)
      continue;
    char *s = h2k_xml_text (c);
    if (s == NULL || moref_vector_append (out, s) == -1) {
      free (s);
      return h2k_seterr ("out of memory");
    }
  }
  return 0;
}

/* Looking for the datastore NAME: the hosts that mount it. */
struct ds_search {
  const char *name;
  unsigned found;
  moref_vector hosts;           /* mounted and accessible, in order */
};

static int
match_datastore (void *opaque, const char *type, const char *moref,
                 xmlNode *objects)
{
  struct ds_search *s = opaque;
  (void) type, (void) moref;
  CLEANUP_FREE char *name = NULL;
  xmlNode *n = h2k_vs_prop (objects, "name");
  if (n == NULL || (name = h2k_xml_text (n)) == NULL || strcmp (name, s->name) != 0)
    return 0;
  if (s->found++ > 0)
    return 0;                   /* counted: an ambiguous name is an error */
  xmlNode *val = h2k_vs_prop (objects, "host");
  for (xmlNode *m = h2k_xml_child (val, "DatastoreHostMount"); m;
       m = h2k_xml_next (m, "DatastoreHostMount")) {
    xmlNode *info = h2k_xml_child (m, "mountInfo");
    bool mounted = true, accessible = true;
    h2k_xml_child_bool (info, "mounted", &mounted);
    h2k_xml_child_bool (info, "accessible", &accessible);
    if (!mounted || !accessible)
      continue;
    char *key = h2k_xml_child_text (m, "key");
    if (key == NULL || moref_vector_append (&s->hosts, key) == -1) {
      free (key);
      return h2k_seterr ("out of memory");
    }
  }
  return 0;
}

/* Looking for a usable host among the candidates: the first one, in the
 * datastore's order, that is connected and not in maintenance mode. */
struct host_search {
  const moref_vector *order;
  size_t best;                  /* index into order, or SIZE_MAX */
  char *name;
};

static int
match_host (void *opaque, const char *type, const char *moref,
            xmlNode *objects)
{
  struct host_search *s = opaque;
  (void) type;
  size_t idx = SIZE_MAX;
  for (size_t i = 0; i < s->order->len; i++)
    if (strcmp (s->order->ptr[i], moref) == 0)
      idx = i;
  if (idx == SIZE_MAX || idx >= s->best)
    return 0;
  xmlNode *cs = h2k_vs_prop (objects, "runtime.connectionState");
  CLEANUP_FREE char *state = cs ? h2k_xml_text (cs) : NULL;
  if (state && strcmp (state, "connected") != 0)
    return 0;
  xmlNode *mm = h2k_vs_prop (objects, "runtime.inMaintenanceMode");
  CLEANUP_FREE char *maint = mm ? h2k_xml_text (mm) : NULL;
  if (maint && strcmp (maint, "true") == 0)
    return 0;
  xmlNode *n = h2k_vs_prop (objects, "name");
  char *name = n ? h2k_xml_text (n) : NULL;
  if (name == NULL || *name == '\0') {
    free (name);
    return 0;
  }
  free (s->name);
  s->name = name;
  s->best = idx;
  return 0;
}

/* The name of a host that serves datastore DS (in datacenter DC, or any). */
static char *
choose_host (struct pull *p, const char *dc, const char *ds)
{
  struct h2k_vs *vs = p->vs;
  struct ds_search s = { .name = ds };
  moref_vector stores = { 0 };
  char *view = NULL, *host = NULL;
  static const char *const ds_paths[] = { "name", "host", NULL };
  int r;

  if (dc && *dc) {
    /* Only the datacenter's datastores: names are unique only there. */
    CLEANUP_FREE char *dcref = h2k_vs_find_by_path (vs, dc);
    if (dcref == NULL)
      goto out;
    if (*dcref == '\0') {
      h2k_seterr ("--direct: no datacenter at inventory path '%s'", dc);
      goto out;
    }
    static const char *const dc_paths[] = { "datastore", NULL };
    struct h2k_moref obj = { "Datacenter", dcref };
    if (h2k_vs_retrieve (vs, NULL, &obj, 1, "Datacenter", dc_paths, 0,
                         collect_morefs, &stores) == -1)
      goto out;
    struct h2k_moref *objs = calloc (stores.len ? stores.len : 1, sizeof *objs);
    if (objs == NULL) {
      h2k_seterr ("out of memory");
      goto out;
    }
    for (size_t i = 0; i < stores.len; i++)
      objs[i] = (struct h2k_moref) { "Datastore", stores.ptr[i] };
    r = h2k_vs_retrieve (vs, NULL, objs, stores.len, "Datastore", ds_paths, 0,
                         match_datastore, &s);
    free (objs);
  }
  else {
    static const char *const types[] = { "Datastore", NULL };
    const struct h2k_vs_content *sc = h2k_vs_content (vs);
    view = h2k_vs_create_view (vs, "Folder", sc->root_folder, types);
    if (view == NULL)
      goto out;
    r = h2k_vs_retrieve (vs, view, NULL, 0, "Datastore", ds_paths, 0,
                         match_datastore, &s);
    h2k_vs_destroy_view (vs, view);
  }
  if (r == -1)
    goto out;
  if (s.found == 0) {
    h2k_seterr ("--direct: no datastore named '%s'%s%s", ds,
                dc && *dc ? " in datacenter " : "", dc && *dc ? dc : "");
    goto out;
  }
  if (s.found > 1) {
    h2k_seterr ("--direct: %u datastores are named '%s': say which datacenter "
                "with --datacenter", s.found, ds);
    goto out;
  }

  struct host_search hs = { .order = &s.hosts, .best = SIZE_MAX };
  if (s.hosts.len > 0) {
    struct h2k_moref *objs = calloc (s.hosts.len, sizeof *objs);
    if (objs == NULL) {
      h2k_seterr ("out of memory");
      goto out;
    }
    for (size_t i = 0; i < s.hosts.len; i++)
      objs[i] = (struct h2k_moref) { "HostSystem", s.hosts.ptr[i] };
    static const char *const host_paths[] = {
      "name", "runtime.connectionState", "runtime.inMaintenanceMode", NULL
    };
    r = h2k_vs_retrieve (vs, NULL, objs, s.hosts.len, "HostSystem", host_paths,
                         0, match_host, &hs);
    free (objs);
    if (r == -1) {
      free (hs.name);
      goto out;
    }
  }
  if (hs.name == NULL) {
    h2k_seterr ("--direct: datastore '%s': no connected host mounts it (run "
                "without --direct to download through %s)", ds,
                h2k_vs_name (vs));
    goto out;
  }
  host = hs.name;

 out:
  free (view);
  morefs_free (&stores);
  morefs_free (&s.hosts);
  return host;
}

char *
direct_url (struct pull *p, const char *file, const char *dc_path)
{
  struct direct *d = state (p);
  if (d == NULL)
    return NULL;

  /* A standalone host is the host: its own /folder is already direct,
   * and a host gives no tickets for itself. */
  if (!h2k_vs_is_vcenter (p->vs)) {
    if (!d->warned_host)
      h2k_warn ("--direct: %s is a host, not vCenter: files come from it as "
                "they are, without tickets", h2k_vs_name (p->vs));
    d->warned_host = true;
    return h2k_vs_folder_url (p->vs, file, dc_path);
  }
  d->vcenter = true;

  CLEANUP_FREE char *ds = NULL, *path = NULL;
  if (h2k_vs_parse_dspath (file, &ds, &path) == -1)
    return NULL;
  const char *dc = dc_path ? dc_path : "";

  const char *host = NULL;
  for (size_t i = 0; i < d->choices.len; i++)
    if (strcmp (d->choices.ptr[i].dc, dc) == 0
        && strcmp (d->choices.ptr[i].ds, ds) == 0)
      host = d->choices.ptr[i].host;
  if (host == NULL) {
    struct ds_choice c = { strdup (dc), strdup (ds), choose_host (p, dc, ds) };
    if (c.host == NULL || c.dc == NULL || c.ds == NULL
        || ds_choices_append (&d->choices, c) == -1) {
      if (c.host && (!c.dc || !c.ds))
        h2k_seterr ("out of memory");
      free (c.dc), free (c.ds), free (c.host);
      return NULL;
    }
    host = c.host;
    if (p->verbose)
      h2k_warn ("--direct: datastore '%s' from host %s", ds, host);
  }

  /* An IPv6 address as a host name goes in brackets. */
  CLEANUP_FREE char *base = NULL;
  bool v6 = strchr (host, ':') != NULL;
  if (asprintf (&base, "https://%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "") == -1) {
    base = NULL;
    h2k_seterr ("out of memory");
    return NULL;
  }
  if (direct_host (p, base + 8, host) == NULL)
    return NULL;
  return h2k_folder_url (base, file, NULL);
}

void
direct_free (struct pull *p)
{
  struct direct *d = p->dt;
  if (d == NULL)
    return;
  for (size_t i = 0; i < d->choices.len; i++) {
    free (d->choices.ptr[i].dc);
    free (d->choices.ptr[i].ds);
    free (d->choices.ptr[i].host);
  }
  ds_choices_reset (&d->choices);
  for (size_t i = 0; i < d->hosts.len; i++) {
    struct host_tls *t = d->hosts.ptr[i];
    free (t->authority);
    free (t->name);
    free (t->user_pin);
    free (t->user_pin_source);
    free (t->ticket_pin);
    free (t);
  }
  host_tls_vector_reset (&d->hosts);
  for (char **f = d->ca_files; f && *f; f++)
    free (*f);
  free (d->ca_files);
  free (d->default_cainfo);
  free (d);
  p->dt = NULL;
}
