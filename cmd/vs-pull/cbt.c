/* --skip-zero from the allocation the server reports (Changed Block
 * Tracking).
 *
 * With CBT on, QueryChangedDiskAreas with changeId "*" lists the areas of
 * a disk that are in use; everything else reads as zeros.  For a flat
 * disk whose descriptor names one extent from the start of its file, disk
 * offsets are offsets in that -flat.vmdk, so vs-pull can fetch just those
 * areas and leave the rest as holes.  That is only sound when the flat
 * file is the disk's current backing: with a snapshot the VM writes to a
 * delta above it, and the areas of the running disk are those of the whole
 * chain, not of the base file.  (A snapshot's own areas, with the query's
 * "snapshot" argument, would describe the base only for the first
 * snapshot; vs-pull does not try.)  Without a snapshot the server only
 * answers for a powered-off VM, so a VM that is on (by its record) is not
 * asked.  Nothing here changes the VM: no CBT is
 * enabled, no snapshot taken.  Every case this does not cover, and a
 * server that faults, falls back to looking for all-zero blocks, which is
 * slower but gives the same bytes.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "pull.h"
#include "vsphere/vsphere.h"

void
zero_plan_free (struct zero_plan *plan)
{
  h2k_http_segs_reset (&plan->areas);
  free (plan->why);
  plan->why = NULL;
}

static int
why_not (struct zero_plan *plan, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

static int
why_not (struct zero_plan *plan, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  int r = vasprintf (&plan->why, fmt, ap);
  va_end (ap);
  if (r == -1) {
    plan->why = NULL;
    return h2k_seterr ("out of memory");
  }
  return 0;
}

int
cbt_plan (struct pull *p, json_object *rec, json_object *disk, bool one_flat,
          uint64_t flat_bytes, struct zero_plan *plan)
{
  const char *vm_name = "?", *moref, *backing, *change_id, *power;
  int64_t key, capacity;
  bool cbt = false;
  json_object *chain;

  h2k_json_get_string (rec, "name", &vm_name);
  h2k_json_get_bool (rec, "cbt", &cbt);
  if (!cbt)
    return why_not (plan, "CBT is off on the VM");
  /* Without a snapshot, servers only answer for a VM that is off (and a
   * running VM's flat file would change under the copy anyway). */
  if (h2k_json_get_string (rec, "power_state", &power)
      && strcmp (power, "poweredOff") != 0)
    return why_not (plan, "the VM is %s: CBT areas are only asked for a "
                    "powered-off VM", power);
  if (!h2k_json_get_string (rec, "moref", &moref))
    return why_not (plan, "the VM record has no \"moref\"");
  if (!h2k_json_get_int64 (disk, "key", &key)
      || !h2k_json_get_int64 (disk, "capacity", &capacity) || capacity <= 0)
    return why_not (plan, "the disk has no \"key\" and \"capacity\" in the "
                    "record");
  if (!h2k_json_get_string (disk, "change_id", &change_id) || !*change_id)
    return why_not (plan, "the disk has no changeId: CBT is not active on it "
                    "yet");
  if (!h2k_json_get_string (disk, "backing", &backing)
      || strcmp (backing, "flat") != 0)
    return why_not (plan, "not a flat disk");
  if (json_object_object_get_ex (disk, "chain", &chain)
      && json_object_is_type (chain, json_type_array)
      && json_object_array_length (chain) > 1)
    return why_not (plan, "a snapshot delta is above the base disk");
  if (!one_flat)
    return why_not (plan, "the descriptor does not name one flat extent");
  if (flat_bytes != (uint64_t) capacity)
    return why_not (plan, "the descriptor's extent has %" PRIu64 " bytes, the "
                    "disk %" PRId64, flat_bytes, capacity);
  if (p->vs == NULL)
    return why_not (plan, "no vSphere session");

  h2k_vs_areas areas = { 0 };
  unsigned calls = 0;
  if (h2k_vs_changed_areas (p->vs, moref, NULL, key, "*", capacity, &areas,
                            &calls) == -1) {
    /* The result does not depend on it (zero detection gives the same
     * bytes), so the pull goes on; but the user asked for something the
     * server refused, and should know. */
    h2k_warn ("VM %s: disk %" PRId64 ": CBT areas unavailable, falling back "
              "to zero-block detection: %s", vm_name, key, h2k_errmsg ());
    h2k_vs_areas_reset (&areas);
    return why_not (plan, "QueryChangedDiskAreas failed");
  }
  for (size_t i = 0; i < areas.len; i++)
    if (h2k_http_segs_append (&plan->areas, (struct h2k_http_seg)
                              { areas.ptr[i].start, areas.ptr[i].length,
                                areas.ptr[i].start }) == -1) {
      h2k_vs_areas_reset (&areas);
      return h2k_seterr ("out of memory");
    }
  h2k_vs_areas_reset (&areas);
  plan->cbt = true;
  plan->size = capacity;
  plan->calls = calls;
  return 0;
}
