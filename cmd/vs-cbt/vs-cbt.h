/* vs-cbt: the control plane of one Changed Block Tracking cycle. */
#ifndef VS_CBT_H
#define VS_CBT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "util/die.h"
#include "util/jsonl.h"
#include "util/vector.h"
#include "vsphere/snapshot.h"
#include "vsphere/vsphere.h"

/* How h2k marks the snapshots it creates: both the name prefix and the
 * description prefix must match before h2k touches a snapshot, so that a
 * user's snapshot that happens to be called "h2k-cbt ..." is left alone. */
#define CBT_SNAP_NAME "h2k-cbt "
#define CBT_SNAP_DESC "h2k vs-cbt warm-migration snapshot."

DEFINE_VECTOR_TYPE (string_vector, char *);

struct cbt_opts {
  const char *vm;               /* --vm */
  const char *since;            /* --since FILE|CHANGEID */
  int64_t disk;                 /* --disk KEY, or -1 */
  bool no_quiesce;
  bool allow_existing;          /* --allow-existing-snapshots */
  bool verbose;
  const char *progress;         /* --progress[=FD], or NULL */
  unsigned timeout;             /* --timeout: seconds for --power-off */
};

/* A VM with what a cycle needs to know about it. */
struct vm {
  char *name;
  char *moref;
  char *dc_path;                /* "DC0", "F0/DC0", or NULL */
  bool cbt;                     /* config.changeTrackingEnabled */
  char *power_state;
  char *tools;                  /* guest.toolsRunningStatus, or NULL */
  h2k_vs_disks disks;
  h2k_vs_snaps snaps;
};
DEFINE_VECTOR_TYPE (vm_vector, struct vm);

/* vm.c */
/* The VM named NAME (exactly), with everything.  Not found, or several
 * with that name (outside --datacenter), is an error. */
int find_vm (struct h2k_vs *vs, const char *name, struct vm *out);
/* Every VM whose name matches GLOB (NULL: all), with name, moref and
 * snapshots only. */
int list_vms (struct h2k_vs *vs, const char *glob, vm_vector *out);
/* Read the VM's snapshot tree again (after a change). */
int reload_snapshots (struct h2k_vs *vs, struct vm *vm);
void vm_free (struct vm *vm);
void vms_free (vm_vector *vms);
bool snap_is_ours (const struct h2k_vs_snap *s);

/* cycle.c */
int cbt_snapshot (struct h2k_vs *vs, const struct cbt_opts *o);

/* release.c */
int cbt_release (struct h2k_vs *vs, const struct cbt_opts *o, FILE *in);
int cbt_enable (struct h2k_vs *vs, const struct cbt_opts *o);
int cbt_stale (struct h2k_vs *vs, const struct cbt_opts *o, bool cleanup);

/* power.c */
int cbt_power_off (struct h2k_vs *vs, const struct cbt_opts *o);

/* Progress for a task: NULL when --progress was not given. */
struct h2k_progress *task_progress (const struct cbt_opts *o,
                                    struct h2k_progress *p, const char *label);

#endif
