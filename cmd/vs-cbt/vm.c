/* Finding a VM by name and reading what a cycle needs of it. */

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "vs-cbt.h"

bool
snap_is_ours (const struct h2k_vs_snap *s)
{
  return strncmp (s->name, CBT_SNAP_NAME, strlen (CBT_SNAP_NAME)) == 0
    && strncmp (s->description, CBT_SNAP_DESC, strlen (CBT_SNAP_DESC)) == 0;
}

void
vm_free (struct vm *vm)
{
  free (vm->name);
  free (vm->moref);
  free (vm->dc_path);
  free (vm->power_state);
  free (vm->tools);
  h2k_vs_disks_free (&vm->disks);
  h2k_vs_snaps_free (&vm->snaps);
  memset (vm, 0, sizeof *vm);
}

void
vms_free (vm_vector *vms)
{
  for (size_t i = 0; i < vms->len; i++)
    vm_free (&vms->ptr[i]);
  vm_vector_reset (vms);
}

static char *
prop_text (xmlNode *o, const char *name)
{
  xmlNode *v = h2k_vs_prop (o, name);
  return v ? h2k_xml_text (v) : NULL;
}

/* Each VM (name and, with FULL, everything) goes into a vector. */
struct collect {
  const char *glob;             /* fnmatch pattern, or NULL */
  const char *exact;            /* exact name, or NULL */
  vm_vector *out;
};

static int
collect_cb (void *opaque, const char *type, const char *moref, xmlNode *o)
{
  struct collect *c = opaque;
  (void) type;
  char *name = prop_text (o, "name");
  if (!name)
    return 0;
  if ((c->exact && strcmp (name, c->exact) != 0)
      || (c->glob && fnmatch (c->glob, name, 0) != 0)) {
    free (name);
    return 0;
  }
  struct vm vm = { .name = name, .moref = strdup (moref) };
  if (!vm.moref
      || h2k_vs_parse_snapshots (h2k_vs_prop (o, "snapshot"), &vm.snaps) == -1
      || vm_vector_append (c->out, vm) == -1) {
    vm_free (&vm);
    return h2k_seterr_prefix ("VM %s", moref);
  }
  return 0;
}

static int
scan (struct h2k_vs *vs, const char *glob, const char *exact,
      const char *const *paths, vm_vector *out)
{
  static const char *const types[] = { "VirtualMachine", NULL };
  const struct h2k_vs_content *sc = h2k_vs_content (vs);
  char *view = h2k_vs_create_view (vs, "Folder", sc->root_folder, types);
  if (!view)
    return -1;
  struct collect c = { glob, exact, out };
  int r = h2k_vs_retrieve (vs, view, NULL, 0, "VirtualMachine", paths, 100,
                           collect_cb, &c);
  h2k_vs_destroy_view (vs, view);
  free (view);
  return r;
}

struct name_parent {
  char **name, **ptype, **pvalue;
};

static int
name_parent_cb (void *opaque, const char *t, const char *m, xmlNode *o)
{
  struct name_parent *n = opaque;
  (void) t; (void) m;
  *n->name = prop_text (o, "name");
  xmlNode *p = h2k_vs_prop (o, "parent");
  if (p) {
    xmlChar *pt = xmlGetNoNsProp (p, BAD_CAST "type");
    *n->ptype = pt ? strdup ((char *) pt) : NULL;
    xmlFree (pt);
    *n->pvalue = h2k_xml_text (p);
  }
  return 0;
}

/* The name and parent (type and value) of an inventory object. */
static int
name_parent (struct h2k_vs *vs, const char *type, const char *moref,
             char **name, char **ptype, char **pvalue)
{
  static const char *const paths[] = { "name", "parent", NULL };
  struct h2k_moref obj = { type, moref };
  struct name_parent np = { name, ptype, pvalue };
  *name = *ptype = *pvalue = NULL;
  return h2k_vs_retrieve (vs, NULL, &obj, 1, type, paths, 0, name_parent_cb, &np);
}

/* The inventory path of the datacenter holding VM ("DC0", "F0/DC0"), the
 * form /folder URLs take in dcPath; NULL (no error) when the VM hangs off
 * something else (a vApp), so vs-pull falls back to --datacenter. */
static int
dc_path_of (struct h2k_vs *vs, const char *vm, char **out)
{
  CLEANUP_FREE char *type = strdup ("VirtualMachine");
  CLEANUP_FREE char *value = strdup (vm);
  char *path = NULL;
  bool in_dc = false;

  *out = NULL;
  for (int depth = 0; type && value && depth < 64; depth++) {
    char *name, *ptype, *pvalue;
    if (name_parent (vs, type, value, &name, &ptype, &pvalue) == -1) {
      free (path);
      return -1;
    }
    if (strcmp (type, "Datacenter") == 0) {
      in_dc = true;
      path = name;
      name = NULL;
    }
    else if (in_dc && pvalue && name) {
      /* A folder above the datacenter (not the root folder, which has
       * no parent). */
      char *p;
      if (asprintf (&p, "%s/%s", name, path) == -1)
        p = NULL;
      free (path);
      path = p;
    }
    free (name);
    free (type);
    free (value);
    type = ptype;
    value = pvalue;
    if (!type || !value)
      break;
  }
  *out = in_dc ? path : NULL;
  if (!in_dc)
    free (path);
  return 0;
}

static int
load_full_cb (void *opaque, const char *t, const char *m, xmlNode *o)
{
  struct vm *v = opaque;
  (void) t; (void) m;
  CLEANUP_FREE char *cbt = prop_text (o, "config.changeTrackingEnabled");
  v->cbt = cbt && strcmp (cbt, "true") == 0;
  free (v->power_state);
  free (v->tools);
  v->power_state = prop_text (o, "runtime.powerState");
  v->tools = prop_text (o, "guest.toolsRunningStatus");
  h2k_vs_snaps_free (&v->snaps);
  h2k_vs_disks_free (&v->disks);
  if (h2k_vs_parse_disks (h2k_vs_prop (o, "config.hardware.device"),
                          &v->disks) == -1
      || h2k_vs_parse_snapshots (h2k_vs_prop (o, "snapshot"), &v->snaps) == -1)
    return -1;
  return 0;
}

static int
load_full (struct h2k_vs *vs, struct vm *vm)
{
  static const char *const paths[] = {
    "name", "config.changeTrackingEnabled", "config.hardware.device",
    "snapshot", "runtime.powerState", "guest.toolsRunningStatus", NULL
  };
  struct h2k_moref obj = { "VirtualMachine", vm->moref };
  if (h2k_vs_retrieve (vs, NULL, &obj, 1, "VirtualMachine", paths, 0,
                       load_full_cb, vm) == -1)
    return h2k_seterr_prefix ("VM %s", vm->name);
  return 0;
}

static int
reload_cb (void *opaque, const char *t, const char *m, xmlNode *o)
{
  struct vm *v = opaque;
  (void) t; (void) m;
  h2k_vs_snaps_free (&v->snaps);
  return h2k_vs_parse_snapshots (h2k_vs_prop (o, "snapshot"), &v->snaps);
}

int
reload_snapshots (struct h2k_vs *vs, struct vm *vm)
{
  static const char *const paths[] = { "snapshot", NULL };
  struct h2k_moref obj = { "VirtualMachine", vm->moref };
  if (h2k_vs_retrieve (vs, NULL, &obj, 1, "VirtualMachine", paths, 0,
                       reload_cb, vm) == -1)
    return h2k_seterr_prefix ("VM %s", vm->name);
  return 0;
}

int
find_vm (struct h2k_vs *vs, const char *name, struct vm *out)
{
  static const char *const paths[] = { "name", NULL };
  vm_vector found = { 0 };
  const char *want = h2k_vs_opts (vs)->datacenter;

  if (scan (vs, NULL, name, paths, &found) == -1)
    goto err;
  size_t keep = 0;
  for (size_t i = 0; i < found.len; i++) {
    struct vm *v = &found.ptr[i];
    if (dc_path_of (vs, v->moref, &v->dc_path) == -1)
      goto err;
    const char *w = want && want[0] == '/' ? want + 1 : want;
    const char *base = v->dc_path ? strrchr (v->dc_path, '/') : NULL;
    base = base ? base + 1 : v->dc_path;
    if (!w || (v->dc_path && (strcmp (w, v->dc_path) == 0 || strcmp (w, base) == 0)))
      found.ptr[keep++] = *v;
    else
      vm_free (v);
  }
  found.len = keep;
  if (found.len == 0) {
    h2k_seterr ("%s: no VM named '%s'%s", h2k_vs_name (vs), name,
                want ? " in that datacenter" : "");
    goto err;
  }
  if (found.len > 1) {
    h2k_seterr ("%s: %zu VMs are named '%s' (%s, %s%s): choose one with "
                "--datacenter", h2k_vs_name (vs), found.len, name,
                found.ptr[0].moref, found.ptr[1].moref,
                found.len > 2 ? ", ..." : "");
    goto err;
  }
  *out = found.ptr[0];
  vm_vector_reset (&found);
  if (load_full (vs, out) == -1) {
    vm_free (out);
    return -1;
  }
  return 0;
 err:
  vms_free (&found);
  return -1;
}

int
list_vms (struct h2k_vs *vs, const char *glob, vm_vector *out)
{
  static const char *const paths[] = { "name", "snapshot", NULL };
  return scan (vs, glob, NULL, paths, out);
}
