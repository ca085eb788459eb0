/* Snapshots, disks and CBT switches of a virtual machine: the control
 * plane of a warm-migration cycle (vs-cbt), shareable by any program that
 * needs a frozen view of a VM's disks.
 *
 *   char *task = h2k_vs_create_snapshot (vs, "vm-42", "h2k-cbt ...", desc,
 *                                        false, true);
 *   char *snap = h2k_vs_task_moref (vs, task, progress);   the snapshot
 *   h2k_vs_disks disks = { 0 };
 *   h2k_vs_snapshot_disks (vs, snap, &disks);              as it froze them
 *   ...
 *   h2k_vs_remove_snapshot (vs, snap, progress);
 *
 * Every function returns 0 / a malloc'd string on success, -1 / NULL with
 * h2k_seterr (the server's own fault text) on failure.
 */
#ifndef H2K_VSPHERE_SNAPSHOT_H
#define H2K_VSPHERE_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <libxml/tree.h>

#include "vsphere.h"

/* One VirtualDisk of a config.hardware.device list. */
struct h2k_vs_disk {
  int64_t key;
  char *label;                 /* deviceInfo.label, or NULL */
  char *file;                  /* backing.fileName ("[ds] dir/x.vmdk") */
  char *backing;               /* the backing's type, without "VirtualDisk" */
  char *mode;                  /* backing.diskMode, or NULL */
  char *change_id;             /* backing.changeId, or NULL (CBT inactive) */
  uint64_t capacity;           /* bytes */
  bool has_parent;             /* backing.parent: a delta on a chain */
};
DEFINE_VECTOR_TYPE (h2k_vs_disks, struct h2k_vs_disk);

/* The VirtualDisks in a config.hardware.device <val> (ArrayOfVirtualDevice)
 * appended to OUT in the server's order. */
int h2k_vs_parse_disks (const xmlNode *devices, h2k_vs_disks *out);
void h2k_vs_disks_free (h2k_vs_disks *disks);
/* config.hardware.device of SNAPSHOT (a VirtualMachineSnapshot moref):
 * the disks as the snapshot froze them, with their frozen changeIds. */
int h2k_vs_snapshot_disks (struct h2k_vs *vs, const char *snapshot,
                           h2k_vs_disks *out);

/* One snapshot of a VM's snapshot tree. */
struct h2k_vs_snap {
  char *moref;
  char *name;
  char *description;           /* "" when it has none */
  char *created;               /* createTime as the server wrote it */
};
DEFINE_VECTOR_TYPE (h2k_vs_snaps, struct h2k_vs_snap);

/* Every snapshot of a VM's "snapshot" property <val>
 * (VirtualMachineSnapshotInfo), the whole tree flattened parent first.
 * A NULL VAL (no snapshot) gives none. */
int h2k_vs_parse_snapshots (const xmlNode *val, h2k_vs_snaps *out);
void h2k_vs_snaps_free (h2k_vs_snaps *snaps);

/* CreateSnapshot_Task on VM; the task's moref. */
char *h2k_vs_create_snapshot (struct h2k_vs *vs, const char *vm,
                              const char *name, const char *description,
                              bool memory, bool quiesce);
/* Wait for TASK (reporting to PROGRESS if not NULL) and give the moref its
 * info.result holds (the new snapshot of CreateSnapshot_Task). */
char *h2k_vs_task_moref (struct h2k_vs *vs, const char *task,
                         struct h2k_progress *progress);
/* RemoveSnapshot_Task (removeChildren false, consolidate true), waited
 * for. */
int h2k_vs_remove_snapshot (struct h2k_vs *vs, const char *snapshot,
                            struct h2k_progress *progress);
/* ReconfigVM_Task with changeTrackingEnabled ON, waited for. */
int h2k_vs_set_change_tracking (struct h2k_vs *vs, const char *vm, bool on,
                                struct h2k_progress *progress);

#endif
