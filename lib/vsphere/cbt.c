/* Changed Block Tracking: QueryChangedDiskAreas with its paging.
 *
 * A reply (DiskChangeInfo) covers the span startOffset..startOffset+length
 * of the disk and lists the changed areas inside it; servers cap the span
 * (2 TB disks need several calls), so the caller asks again from where the
 * last reply ended.  Asking at startOffset == capacity is a fault
 * (InvalidArgument), so the loop stops at the capacity and never asks
 * there.  Replies are checked before they are believed: a span that does
 * not start where it was asked or is empty would loop for ever, and areas
 * out of order or outside the span would make a caller skip bytes it
 * needs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/die.h"
#include "vsphere.h"

/* Add START+LENGTH (clipped to CAPACITY) to OUT, merged with the last area
 * when they touch. */
static int
add_area (h2k_vs_areas *out, uint64_t start, uint64_t length,
          uint64_t capacity)
{
  if (start >= capacity || length == 0)
    return 0;
  if (length > capacity - start)
    length = capacity - start;
  if (out->len > 0) {
    struct h2k_vs_area *last = &out->ptr[out->len - 1];
    if (last->start + last->length == start) {
      last->length += length;
      return 0;
    }
  }
  if (h2k_vs_areas_append (out, (struct h2k_vs_area) { start, length }) == -1)
    return h2k_seterr ("out of memory");
  return 0;
}

/* One call from OFFSET; *NEXT gets where the reply's span ends. */
static int
query_once (struct h2k_vs *vs, const char *vm, const char *snapshot,
            int64_t device_key, const char *change_id, uint64_t capacity,
            uint64_t offset, h2k_vs_areas *out, uint64_t *next)
{
  char key[24], off[24];
  snprintf (key, sizeof key, "%" PRId64, device_key);
  snprintf (off, sizeof off, "%" PRIu64, offset);

  /* The children in the order the WSDL gives them. */
  xmlNode *m = h2k_soap_method ("QueryChangedDiskAreas", "VirtualMachine", vm);
  if (m == NULL
      || (snapshot && !h2k_soap_add_moref (m, "snapshot",
                                           "VirtualMachineSnapshot", snapshot))
      || !h2k_soap_add_text (m, "deviceKey", key)
      || !h2k_soap_add_text (m, "startOffset", off)
      || !h2k_soap_add_text (m, "changeId", change_id)) {
    xmlFreeNode (m);
    return h2k_seterr ("out of memory");
  }

  xmlDoc *doc;
  xmlNode *res;
  if (h2k_vs_call (vs, m, &doc, &res) == -1)
    return -1;

  int ret = -1;
  bool bad = true;
  xmlNode *rv = h2k_xml_child (res, "returnval");
  int64_t rstart, rlen;
  if (rv == NULL || !h2k_xml_child_int64 (rv, "startOffset", &rstart)
      || !h2k_xml_child_int64 (rv, "length", &rlen)) {
    h2k_seterr ("the reply has no startOffset and length");
    goto out;
  }
  if ((uint64_t) rstart != offset || rlen <= 0) {
    h2k_seterr ("asked from offset %" PRIu64 ", the reply covers %" PRId64
                "+%" PRId64 ": it does not move forward", offset, rstart, rlen);
    goto out;
  }
  uint64_t span_end = (uint64_t) rstart + (uint64_t) rlen;
  if (span_end < (uint64_t) rstart)
    span_end = UINT64_MAX;
  uint64_t prev_end = offset;
  for (xmlNode *a = h2k_xml_child (rv, "changedArea"); a;
       a = h2k_xml_next (a, "changedArea")) {
    int64_t s, l;
    if (!h2k_xml_child_int64 (a, "start", &s)
        || !h2k_xml_child_int64 (a, "length", &l) || s < 0 || l < 0) {
      h2k_seterr ("a changedArea without a valid start and length");
      goto out;
    }
    if ((uint64_t) s < prev_end || (uint64_t) l > span_end - (uint64_t) s) {
      h2k_seterr ("changedArea %" PRId64 "+%" PRId64 " is out of order or "
                  "outside the reply's span %" PRId64 "+%" PRId64,
                  s, l, rstart, rlen);
      goto out;
    }
    prev_end = (uint64_t) s + (uint64_t) l;
    if (add_area (out, s, l, capacity) == -1)
      goto out;
  }
  *next = span_end;
  bad = false;
  ret = 0;
 out:
  if (bad)
    h2k_seterr_prefix ("%s: QueryChangedDiskAreas: a bad reply",
                       h2k_vs_name (vs));
  xmlFreeDoc (doc);
  return ret;
}

int
h2k_vs_changed_areas (struct h2k_vs *vs, const char *vm, const char *snapshot,
                      int64_t device_key, const char *change_id,
                      uint64_t capacity, h2k_vs_areas *out, unsigned *calls)
{
  uint64_t offset = 0;
  unsigned n = 0;

  while (offset < capacity) {
    uint64_t next = capacity;
    n++;
    if (query_once (vs, vm, snapshot, device_key, change_id, capacity,
                    offset, out, &next) == -1) {
      if (calls)
        *calls = n;
      return h2k_seterr_prefix ("disk %" PRId64 " from offset %" PRIu64,
                                device_key, offset);
    }
    offset = next;
  }
  if (calls)
    *calls = n;
  return 0;
}
