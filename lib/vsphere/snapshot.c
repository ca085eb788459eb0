/* Snapshots, disks and the CBT switch of a virtual machine (snapshot.h).
 *
 * The disks of a snapshot are read from the snapshot object's own
 * config.hardware.device: that is the disk as it was frozen, with the
 * changeId of that moment (docs/vsphere.md section 2, step 5).  The VM's
 * own devices already point at the delta the snapshot started and carry
 * the next changeId.
 */
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/die.h"
#include "snapshot.h"

static char *
dup_or_null (char *s)
{
  if (s && !*s) {
    free (s);
    return NULL;
  }
  return s;
}

static void
disk_free (struct h2k_vs_disk *d)
{
  free (d->label);
  free (d->file);
  free (d->backing);
  free (d->mode);
  free (d->change_id);
}

void
h2k_vs_disks_free (h2k_vs_disks *disks)
{
  for (size_t i = 0; i < disks->len; i++)
    disk_free (&disks->ptr[i]);
  h2k_vs_disks_reset (disks);
}

int
h2k_vs_parse_disks (const xmlNode *devices, h2k_vs_disks *out)
{
  for (xmlNode *dev = devices ? h2k_xml_child (devices, NULL) : NULL; dev;
       dev = h2k_xml_next (dev, NULL)) {
    CLEANUP_FREE char *type = h2k_xml_type (dev);
    if (!type || strcmp (type, "VirtualDisk") != 0)
      continue;
    struct h2k_vs_disk d = { .key = -1 };
    xmlNode *backing = h2k_xml_child (dev, "backing");
    int64_t n;
    if (!h2k_xml_child_int64 (dev, "key", &d.key))
      return h2k_seterr ("a VirtualDisk without a key");
    if (h2k_xml_child_int64 (dev, "capacityInBytes", &n) && n > 0)
      d.capacity = (uint64_t) n;
    else if (h2k_xml_child_int64 (dev, "capacityInKB", &n) && n > 0)
      d.capacity = (uint64_t) n * 1024;
    d.label = dup_or_null (h2k_xml_child_text (h2k_xml_child (dev, "deviceInfo"),
                                               "label"));
    d.file = dup_or_null (h2k_xml_child_text (backing, "fileName"));
    char *bt = h2k_xml_type (backing);
    if (bt && strncmp (bt, "VirtualDisk", 11) == 0)
      memmove (bt, bt + 11, strlen (bt + 11) + 1);
    d.backing = dup_or_null (bt);
    d.mode = dup_or_null (h2k_xml_child_text (backing, "diskMode"));
    d.change_id = dup_or_null (h2k_xml_child_text (backing, "changeId"));
    d.has_parent = backing && h2k_xml_child (backing, "parent") != NULL;
    if (h2k_vs_disks_append (out, d) == -1) {
      disk_free (&d);
      return -1;
    }
  }
  return 0;
}

struct disks_cb {
  h2k_vs_disks *out;
  bool seen;
};

static int
snapshot_disks_cb (void *opaque, const char *type, const char *moref,
                   xmlNode *objects)
{
  struct disks_cb *c = opaque;
  (void) type; (void) moref;
  c->seen = true;
  return h2k_vs_parse_disks (h2k_vs_prop (objects, "config.hardware.device"),
                             c->out);
}

int
h2k_vs_snapshot_disks (struct h2k_vs *vs, const char *snapshot,
                       h2k_vs_disks *out)
{
  static const char *const paths[] = { "config.hardware.device", NULL };
  struct h2k_moref obj = { "VirtualMachineSnapshot", snapshot };
  struct disks_cb c = { out, false };
  if (h2k_vs_retrieve (vs, NULL, &obj, 1, "VirtualMachineSnapshot", paths, 0,
                       snapshot_disks_cb, &c) == -1)
    return h2k_seterr_prefix ("snapshot %s", snapshot);
  if (!c.seen)
    return h2k_seterr ("%s: snapshot %s: the server did not return it",
                       h2k_vs_name (vs), snapshot);
  return 0;
}

static void
snap_free (struct h2k_vs_snap *s)
{
  free (s->moref);
  free (s->name);
  free (s->description);
  free (s->created);
}

void
h2k_vs_snaps_free (h2k_vs_snaps *snaps)
{
  for (size_t i = 0; i < snaps->len; i++)
    snap_free (&snaps->ptr[i]);
  h2k_vs_snaps_reset (snaps);
}

static int
add_tree (const xmlNode *first, h2k_vs_snaps *out)
{
  for (const xmlNode *t = first; t; t = h2k_xml_next (t, (const char *) first->name)) {
    struct h2k_vs_snap s = {
      .moref = h2k_xml_child_text (t, "snapshot"),
      .name = h2k_xml_child_text (t, "name"),
      .description = h2k_xml_child_text (t, "description"),
      .created = h2k_xml_child_text (t, "createTime"),
    };
    if (!s.description)
      s.description = strdup ("");
    if (!s.moref || !s.name || !s.description
        || h2k_vs_snaps_append (out, s) == -1) {
      snap_free (&s);
      return h2k_seterr ("a snapshot without a moref or a name (or out of memory)");
    }
    xmlNode *children = h2k_xml_child (t, "childSnapshotList");
    if (children && add_tree (children, out) == -1)
      return -1;
  }
  return 0;
}

int
h2k_vs_parse_snapshots (const xmlNode *val, h2k_vs_snaps *out)
{
  if (!val)
    return 0;
  xmlNode *root = h2k_xml_child (val, "rootSnapshotList");
  return root ? add_tree (root, out) : 0;
}

/* Call METHOD (taken) and return the task moref of its <returnval>. */
static char *
call_task (struct h2k_vs *vs, xmlNode *m)
{
  xmlDoc *doc;
  xmlNode *res;
  if (m == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  CLEANUP_FREE char *method = strdup ((const char *) m->name);
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return NULL;
  char *task = h2k_xml_child_text (res, "returnval");
  xmlFreeDoc (doc);
  if (!task || !*task) {
    free (task);
    h2k_seterr ("%s: %s: no task in the answer", h2k_vs_name (vs),
                method ? method : "a task method");
    return NULL;
  }
  return task;
}

char *
h2k_vs_create_snapshot (struct h2k_vs *vs, const char *vm, const char *name,
                        const char *description, bool memory, bool quiesce)
{
  xmlNode *m = h2k_soap_method ("CreateSnapshot_Task", "VirtualMachine", vm);
  if (m && (!h2k_soap_add_text (m, "name", name)
            || (description && !h2k_soap_add_text (m, "description", description))
            || !h2k_soap_add_text (m, "memory", memory ? "true" : "false")
            || !h2k_soap_add_text (m, "quiesce", quiesce ? "true" : "false"))) {
    xmlFreeNode (m);
    m = NULL;
  }
  return call_task (vs, m);
}

char *
h2k_vs_task_moref (struct h2k_vs *vs, const char *task,
                   struct h2k_progress *progress)
{
  xmlDoc *doc = NULL;
  xmlNode *result = NULL;
  if (h2k_vs_wait_task (vs, task, progress, &doc, &result) == -1)
    return NULL;
  char *moref = result ? h2k_xml_text (result) : NULL;
  xmlFreeDoc (doc);
  if (!moref || !*moref) {
    free (moref);
    h2k_seterr ("%s: task %s succeeded without a result", h2k_vs_name (vs), task);
    return NULL;
  }
  return moref;
}

int
h2k_vs_remove_snapshot (struct h2k_vs *vs, const char *snapshot,
                        struct h2k_progress *progress)
{
  xmlNode *m = h2k_soap_method ("RemoveSnapshot_Task", "VirtualMachineSnapshot",
                                snapshot);
  if (m && (!h2k_soap_add_text (m, "removeChildren", "false")
            || !h2k_soap_add_text (m, "consolidate", "true"))) {
    xmlFreeNode (m);
    m = NULL;
  }
  CLEANUP_FREE char *task = call_task (vs, m);
  if (!task || h2k_vs_wait_task (vs, task, progress, NULL, NULL) == -1)
    return h2k_seterr_prefix ("RemoveSnapshot_Task %s", snapshot);
  return 0;
}

int
h2k_vs_set_change_tracking (struct h2k_vs *vs, const char *vm, bool on,
                            struct h2k_progress *progress)
{
  xmlNode *m = h2k_soap_method ("ReconfigVM_Task", "VirtualMachine", vm);
  xmlNode *spec = m ? h2k_soap_add_text (m, "spec", NULL) : NULL;
  if (spec)
    h2k_soap_set_type (spec, "VirtualMachineConfigSpec");
  if (!spec || !h2k_soap_add_text (spec, "changeTrackingEnabled",
                                   on ? "true" : "false")) {
    xmlFreeNode (m);
    m = NULL;
  }
  CLEANUP_FREE char *task = call_task (vs, m);
  if (!task || h2k_vs_wait_task (vs, task, progress, NULL, NULL) == -1)
    return h2k_seterr_prefix ("ReconfigVM_Task on %s", vm);
  return 0;
}
