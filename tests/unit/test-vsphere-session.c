/* The session API (lib/vsphere/vsphere.h) against a live simulator: what vs-pull
 * and vs-cbt build on.  Run by tests/test-vsphere-session.sh, which starts
 * the simulator and exports its settings; run alone, it skips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

#include "util/h2k.h"
#include "vsphere/vsphere.h"
#include "tap.h"

struct count {
  int n;
  int fail_at;                 /* return -1 at this object (0: never) */
  char first[64];
};

static int
count_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct count *c = opaque;
  c->n++;
  if (c->n == 1)
    snprintf (c->first, sizeof c->first, "%s", moref);
  if (c->fail_at && c->n == c->fail_at)
    return h2k_seterr ("stopped at object %d", c->n);
  return strcmp (type, "VirtualMachine") == 0 && h2k_vs_prop (o, "name") ? 0
    : h2k_seterr ("object %s has no name", moref);
}

struct text {
  char *val;
};

static int
text_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct text *t = opaque;
  xmlNode *v = h2k_vs_prop (o, "config.annotation");
  free (t->val);
  t->val = v ? h2k_xml_text (v) : NULL;
  return 0;
}

static size_t
sink (char *data, size_t size, size_t n, void *opaque)
{
  strncat (opaque, data, size * n < 63 ? size * n : 63);
  return size * n;
}

static char *
start_task (struct h2k_vs *vs, xmlNode *m)
{
  xmlDoc *doc;
  xmlNode *res;
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return NULL;
  char *task = h2k_xml_child_text (res, "returnval");
  xmlFreeDoc (doc);
  return task;
}

int
main (void)
{
  const char *ds_dir = getenv ("VCSIM_DS_0_DIR");
  if (!getenv ("GOVC_URL") || !ds_dir) {
    printf ("1..0 # SKIP needs the simulator (run by tests/test-vsphere-session.sh)\n");
    return 0;
  }
  curl_global_init (CURL_GLOBAL_DEFAULT);

  /* Pinned by SHA-256, as a user would from the vSphere client. */
  struct h2k_conn_opts o;
  h2k_connopts_init (&o);
  unsetenv ("GOVC_INSECURE");
  h2k_connopts_option (&o, H2K_CONNOPTS_THUMBPRINT, getenv ("VCSIM_THUMBPRINT256"));
  ok (h2k_connopts_finish (&o) == 0, "connection options from GOVC_URL");
  struct h2k_vs *vs = h2k_vs_connect (&o);
  if (!ok (vs != NULL, "connect and log in"))
    printf ("# %s\n", h2k_errmsg ());
  if (!vs)
    return done_testing ();

  const struct h2k_vs_content *sc = h2k_vs_content (vs);
  is_str (sc->api_type, "VirtualCenter", "service content: api type");
  is_str (sc->root_folder, "group-d1", "service content: root folder");
  ok (h2k_vs_is_vcenter (vs), "is vCenter");
  is_int (h2k_vs_generation (vs), 1, "one login");
  is_int (h2k_vs_round_trips (vs), 2, "RetrieveServiceContent and Login");

  /* A view, paged retrieval, and stopping half way. */
  static const char *const types[] = { "VirtualMachine", NULL };
  static const char *const paths[] = { "name", NULL };
  char *view = h2k_vs_create_view (vs, "Folder", sc->root_folder, types);
  ok (view && strncmp (view, "session[", 8) == 0, "a container view: %s", view ? view : "");
  struct count c = { 0 };
  ok (h2k_vs_retrieve (vs, view, NULL, 0, "VirtualMachine", paths, 1, count_cb, &c) == 0,
      "retrieve, one object per page");
  is_int (c.n, 4, "every VM, across pages");
  unsigned long before = h2k_vs_round_trips (vs);
  struct count stop = { .fail_at = 2 };
  ok (h2k_vs_retrieve (vs, view, NULL, 0, "VirtualMachine", paths, 1, count_cb, &stop) == -1,
      "a callback stops the retrieval");
  is_str (h2k_errmsg (), "stopped at object 2", "... with its own message");
  is_int (h2k_vs_round_trips (vs) - before, 3, "... after Retrieve, Continue and Cancel");
  ok (h2k_vs_destroy_view (vs, view) == 0, "destroy the view");
  free (view);

  /* A task that succeeds and changes what it says. */
  char *vm = strdup (c.first);
  xmlNode *m = h2k_soap_method ("ReconfigVM_Task", "VirtualMachine", vm);
  xmlNode *spec = h2k_soap_add_text (m, "spec", NULL);
  h2k_soap_add_text (spec, "annotation", "set by h2k & <test>");
  char *task = start_task (vs, m);
  ok (task != NULL, "ReconfigVM_Task started: %s", task ? task : h2k_errmsg ());
  xmlDoc *rdoc = NULL;
  xmlNode *result = NULL;
  ok (task && h2k_vs_wait_task (vs, task, NULL, &rdoc, &result) == 0, "the task succeeds");
  xmlFreeDoc (rdoc);
  free (task);
  static const char *const apaths[] = { "config.annotation", NULL };
  struct h2k_moref obj = { "VirtualMachine", vm };
  struct text t = { 0 };
  ok (h2k_vs_retrieve (vs, NULL, &obj, 1, "VirtualMachine", apaths, 0, text_cb, &t) == 0,
      "retrieve one object by moref");
  is_str (t.val, "set by h2k & <test>", "the change is there, escaped both ways");
  free (t.val);

  /* A task that fails: destroying a powered-on VM. */
  task = start_task (vs, h2k_soap_method ("Destroy_Task", "VirtualMachine", vm));
  ok (task && h2k_vs_wait_task (vs, task, NULL, NULL, NULL) == -1, "a failing task");
  is_str (h2k_vs_last_fault (vs), "InvalidPowerState", "... its fault type");
  ok (strstr (h2k_errmsg (), "InvalidPowerState") != NULL, "... in the message: %s", h2k_errmsg ());
  free (task);

  /* A SOAP fault straight from a call. */
  m = h2k_soap_method ("ReconfigVM_Task", "VirtualMachine", "vm-does-not-exist");
  h2k_soap_add_text (m, "spec", NULL);
  ok (start_task (vs, m) == NULL, "a call on a missing object fails");
  is_str (h2k_vs_last_fault (vs), "ManagedObjectNotFound", "... ManagedObjectNotFound");

  /* The data plane: a ranged GET of a datastore file through /folder with
   * the session's TLS pin and cookie. */
  char path[4096];
  snprintf (path, sizeof path, "%s/h2k probe.bin", ds_dir);
  FILE *fp = fopen (path, "w");
  fputs ("hello h2k world", fp);
  fclose (fp);
  char *url = h2k_vs_folder_url (vs, "[LocalDS_0] h2k probe.bin", "DC0");
  ok (url && strstr (url, "/folder/h2k%20probe.bin?dcPath=DC0&dsName=LocalDS_0"),
      "a /folder URL: %s", url ? url : "");
  CURL *h = curl_easy_init ();
  char got[64] = "";
  long status = 0;
  ok (h2k_vs_curl_setup (vs, h) == 0, "set up a data-plane handle");
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_RANGE, "6-8");
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, got);
  ok (curl_easy_perform (h) == CURLE_OK, "the GET works with the pin");
  curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  is_int (status, 206, "a partial answer");
  is_str (got, "h2k", "the bytes asked for");
  curl_easy_cleanup (h);
  free (url);
  remove (path);
  char *cookie = h2k_vs_cookie (vs);
  ok (cookie && strncmp (cookie, "vmware_soap_session=", 20) == 0, "the session cookie");

  /* Keep-alive: nothing to do right after a call; a call when asked to. */
  is_int (h2k_vs_keepalive (vs, 600), 0, "keepalive: the session is fresh");
  is_int (h2k_vs_keepalive (vs, 0), 1, "keepalive: CurrentTime when idle");

  /* Log in again: a new cookie, and calls go on. */
  ok (h2k_vs_relogin (vs) == 0, "re-login");
  is_int (h2k_vs_generation (vs), 2, "two logins");
  char *cookie2 = h2k_vs_cookie (vs);
  ok (cookie && cookie2 && strcmp (cookie, cookie2) != 0, "a new cookie");
  free (cookie);
  free (cookie2);
  struct count c2 = { 0 };
  view = h2k_vs_create_view (vs, "Folder", sc->root_folder, types);
  ok (view && h2k_vs_retrieve (vs, view, NULL, 0, "VirtualMachine", paths, 0, count_cb, &c2) == 0
      && c2.n == 4, "the new session works");
  h2k_vs_destroy_view (vs, view);
  free (view);

  free (vm);
  h2k_vs_close (vs);
  h2k_connopts_free (&o);
  curl_global_cleanup ();
  xmlCleanupParser ();
  return done_testing ();
}
