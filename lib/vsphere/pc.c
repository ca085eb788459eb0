/* Inventory through the property collector: container views, paged
 * RetrievePropertiesEx, and waiting for tasks. */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "vsphere-int.h"

/* SearchIndex.FindByInventoryPath: the moref, "" when nothing is there,
 * or NULL with h2k_seterr when the call fails. */
char *
h2k_vs_find_by_path (struct h2k_vs *vs, const char *path)
{
  xmlDoc *doc;
  xmlNode *res;
  const char *si = vs->sc.search_index;
  if (!si) {
    h2k_seterr ("%s: the server has no search index", vs->name);
    return NULL;
  }
  xmlNode *m = h2k_soap_method ("FindByInventoryPath", "SearchIndex", si);
  h2k_soap_add_text (m, "inventoryPath", path);
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return NULL;
  char *moref = h2k_xml_child_text (res, "returnval");
  xmlFreeDoc (doc);
  if (!moref && !(moref = strdup ("")))
    h2k_seterr ("out of memory");
  return moref;
}

char *
h2k_vs_create_view (struct h2k_vs *vs, const char *container_type,
                    const char *container, const char *const *types)
{
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("CreateContainerView", "ViewManager",
                                vs->sc.view_manager);
  h2k_soap_add_moref (m, "container", container_type, container);
  for (const char *const *t = types; *t; t++)
    h2k_soap_add_text (m, "type", *t);
  h2k_soap_add_text (m, "recursive", "true");
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return NULL;
  char *view = h2k_xml_child_text (res, "returnval");
  xmlFreeDoc (doc);
  if (!view || !*view) {
    free (view);
    h2k_seterr ("%s: CreateContainerView: no view in the answer", vs->name);
    return NULL;
  }
  return view;
}

int
h2k_vs_destroy_view (struct h2k_vs *vs, const char *view)
{
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("DestroyView", "ContainerView", view);
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;
  xmlFreeDoc (doc);
  return 0;
}

xmlNode *
h2k_vs_prop (const xmlNode *objects, const char *name)
{
  for (xmlNode *ps = h2k_xml_child (objects, "propSet"); ps;
       ps = h2k_xml_next (ps, "propSet")) {
    xmlNode *n = h2k_xml_child (ps, "name");
    if (!n)
      continue;
    xmlChar *s = xmlNodeGetContent (n);
    bool match = s && strcmp ((char *) s, name) == 0;
    xmlFree (s);
    if (match)
      return h2k_xml_child (ps, "val");
  }
  return NULL;
}

static xmlNode *
retrieve_request (struct h2k_vs *vs, const char *view,
                  const struct h2k_moref *objs, size_t nobjs,
                  const char *type, const char *const *paths, int max_objects)
{
  xmlNode *m = h2k_soap_method ("RetrievePropertiesEx", "PropertyCollector",
                                vs->sc.property_collector);
  xmlNode *spec = h2k_soap_add_text (m, "specSet", NULL);
  xmlNode *ps = h2k_soap_add_text (spec, "propSet", NULL);
  h2k_soap_add_text (ps, "type", type);
  for (const char *const *p = paths; p && *p; p++)
    h2k_soap_add_text (ps, "pathSet", *p);

  if (view) {
    xmlNode *os = h2k_soap_add_text (spec, "objectSet", NULL);
    h2k_soap_add_moref (os, "obj", "ContainerView", view);
    h2k_soap_add_text (os, "skip", "true");
    xmlNode *sel = h2k_soap_add_text (os, "selectSet", NULL);
    h2k_soap_set_type (sel, "TraversalSpec");
    h2k_soap_add_text (sel, "name", "traverseView");
    h2k_soap_add_text (sel, "type", "ContainerView");
    h2k_soap_add_text (sel, "path", "view");
    h2k_soap_add_text (sel, "skip", "false");
  }
  for (size_t i = 0; i < nobjs; i++) {
    xmlNode *os = h2k_soap_add_text (spec, "objectSet", NULL);
    h2k_soap_add_moref (os, "obj", objs[i].type, objs[i].value);
    h2k_soap_add_text (os, "skip", "false");
  }

  xmlNode *opt = h2k_soap_add_text (m, "options", NULL);
  if (max_objects > 0) {
    char n[32];
    snprintf (n, sizeof n, "%d", max_objects);
    h2k_soap_add_text (opt, "maxObjects", n);
  }
  return m;
}

static void
cancel (struct h2k_vs *vs, const char *token)
{
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = h2k_soap_method ("CancelRetrievePropertiesEx", "PropertyCollector",
                                vs->sc.property_collector);
  h2k_soap_add_text (m, "token", token);
  if (h2k_vs_call (vs, m, &doc, &res) == 0)
    xmlFreeDoc (doc);
}

int
h2k_vs_retrieve (struct h2k_vs *vs, const char *view,
                 const struct h2k_moref *objs, size_t nobjs,
                 const char *type, const char *const *paths,
                 int max_objects, h2k_vs_object_fn fn, void *opaque)
{
  unsigned gen = vs->generation;
  char *token = NULL;
  int r = 0;

  if (!view && nobjs == 0)
    return 0;

  /* Each reply is read as a stream, an object at a time, whatever its
   * size: a server may ignore max_objects (upstream's simulator answers
   * every object in one reply). */
  xmlNode *m = retrieve_request (vs, view, objs, nobjs, type, paths, max_objects);
  for (;;) {
    r = h2k_vs_call_objects (vs, m, fn, opaque, &token);
    if (r == -1 || !token || !*token)
      break;
    m = h2k_soap_method ("ContinueRetrievePropertiesEx", "PropertyCollector",
                         vs->sc.property_collector);
    h2k_soap_add_text (m, "token", token);
    free (token);
    token = NULL;
  }
  if (r == -1 && token && *token) {
    /* Stopped with more to come (by FN, or a reply that broke off): the
     * server may let go of the rest. */
    CLEANUP_FREE char *msg = strdup (h2k_errmsg ());
    cancel (vs, token);
    h2k_seterr ("%s", msg ? msg : "out of memory");
  }
  free (token);
  /* A view and a paging token belong to the session that made them: after
   * a re-login the server has forgotten both, and says so in its own
   * words (ManagedObjectNotFound, InvalidArgument ...). */
  if (r == -1 && vs->generation != gen)
    h2k_seterr_prefix ("the session expired during the listing and the "
                       "server dropped its state");
  return r;
}

/* Hand every <objects> of a (small, whole) reply to the per-object
 * function: task polls. */
struct each {
  h2k_vs_object_fn fn;
  void *opaque;
};

static int
each_object (void *opaque, xmlNode *rv)
{
  struct each *e = opaque;
  for (xmlNode *o = h2k_xml_child (rv, "objects"); o; o = h2k_xml_next (o, "objects")) {
    xmlNode *obj = h2k_xml_child (o, "obj");
    xmlChar *type = obj ? xmlGetNoNsProp (obj, BAD_CAST "type") : NULL;
    CLEANUP_FREE char *value = obj ? h2k_xml_text (obj) : NULL;
    int r = e->fn (e->opaque, type ? (char *) type : "", value ? value : "", o);
    xmlFree (type);
    if (r == -1)
      return -1;
  }
  return 0;
}

struct task_state {
  char *state;
  int64_t progress;
  xmlDoc *doc;
  xmlNode *error;
  xmlNode *result;
};

static int
task_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct task_state *ts = opaque;
  xmlNode *v = h2k_vs_prop (o, "info.state");
  free (ts->state);
  ts->state = v ? h2k_xml_text (v) : NULL;
  v = h2k_vs_prop (o, "info.progress");
  if (v) {
    CLEANUP_FREE char *p = h2k_xml_text (v);
    ts->progress = p ? atoll (p) : 0;
  }
  ts->error = h2k_vs_prop (o, "info.error");
  ts->result = h2k_vs_prop (o, "info.result");
  return 0;
}

/* The task property collector callback keeps pointers into the reply, so
 * this variant of h2k_vs_retrieve hands back the document. */
static int
task_poll (struct h2k_vs *vs, const char *task, struct task_state *ts)
{
  static const char *const paths[] = {
    "info.state", "info.progress", "info.error", "info.result", NULL
  };
  struct h2k_moref obj = { "Task", task };
  xmlDoc *doc;
  xmlNode *res;
  xmlNode *m = retrieve_request (vs, NULL, &obj, 1, "Task", paths, 0);
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;
  struct each e = { task_cb, ts };
  ts->error = ts->result = NULL;
  xmlNode *rv = h2k_xml_child (res, "returnval");
  if (rv)
    each_object (&e, rv);
  xmlFreeDoc (ts->doc);
  ts->doc = doc;
  return 0;
}

int
h2k_vs_wait_task (struct h2k_vs *vs, const char *task,
                  struct h2k_progress *progress,
                  xmlDoc **result_doc, xmlNode **result)
{
  struct task_state ts = { 0 };
  long delay_ms = 50;
  int r = -1;

  for (;;) {
    if (task_poll (vs, task, &ts) == -1)
      goto out;
    if (!ts.state) {
      h2k_seterr ("%s: task %s: the server did not say its state", vs->name, task);
      goto out;
    }
    if (progress && ts.progress > 0 && ts.progress <= 100)
      h2k_progress_update (progress, (uint64_t) ts.progress * progress->total / 100);
    if (strcmp (ts.state, "success") == 0)
      break;
    if (strcmp (ts.state, "error") == 0) {
      xmlNode *fault = h2k_xml_child (ts.error, "fault");
      CLEANUP_FREE char *type = h2k_xml_type (fault);
      CLEANUP_FREE char *msg = h2k_xml_child_text (ts.error, "localizedMessage");
      free (vs->last_fault);
      vs->last_fault = type ? strdup (type) : NULL;
      h2k_seterr ("%s: task %s: %s: %s", vs->name, task,
                  type ? type : "error", msg && *msg ? msg : "(no message)");
      goto out;
    }
    struct timespec ts_sleep = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };
    nanosleep (&ts_sleep, NULL);
    if (delay_ms < 1000)
      delay_ms *= 2;
  }
  if (result_doc) {
    *result_doc = ts.doc;
    *result = ts.result;
    ts.doc = NULL;
  }
  r = 0;

 out:
  xmlFreeDoc (ts.doc);
  free (ts.state);
  return r;
}
