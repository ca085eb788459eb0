/* --map: the allocation of the flattened disk as extent records (DESIGN.md
 * section 2), one JSON object per line, in the manner of qemu-img map:
 * "data" says the bytes are stored somewhere in the chain, "zero" that
 * they read as zeros.  ZERO and HOLE are one kind here, so adjacent ones
 * are merged; the iterator merges the rest. */
#include <stdio.h>

#include "util/die.h"
#include "flatten.h"
#include "util/jsonl.h"

static int
emit (const char *file, uint64_t offset, uint64_t length, bool data)
{
  json_object *o = json_object_new_object ();
  int r = -1;
  if (o == NULL
      || h2k_json_set_string (o, "kind", "extent") == -1
      || h2k_json_set_string (o, "file", file) == -1
      || h2k_json_set_int64 (o, "offset", (int64_t) offset) == -1
      || h2k_json_set_int64 (o, "length", (int64_t) length) == -1
      || h2k_json_set_bool (o, "data", data) == -1
      || h2k_json_set_bool (o, "zero", !data) == -1)
    h2k_seterr ("out of memory");
  else if (h2k_jsonl_write (stdout, o) == -1)
    h2k_seterr_prefix ("<stdout>");
  else
    r = 0;
  json_object_put (o);
  return r;
}

int
flatten_map (struct h2k_bdev *bd, const char *file, struct h2k_progress *pr)
{
  struct h2k_extent_iter it;
  struct h2k_extent e;
  uint64_t cur_off = 0, cur_len = 0;
  bool cur_data = false;
  int r;

  h2k_extent_iter_init (&it, bd, 0, bd->size, H2K_EXTENT_ITER_MERGE);
  while ((r = h2k_extent_iter_next (&it, &e)) > 0) {
    bool data = e.type == H2K_EXTENT_DATA;
    if (cur_len > 0 && data == cur_data) {
      cur_len += e.length;
      continue;
    }
    if (cur_len > 0 && emit (file, cur_off, cur_len, cur_data) == -1)
      goto out;     /* r is 1: a failure */
    h2k_progress_update (pr, e.offset);
    cur_off = e.offset;
    cur_len = e.length;
    cur_data = data;
  }
  if (r == 0 && cur_len > 0 && emit (file, cur_off, cur_len, cur_data) == -1)
    r = -1;
  if (r == 0)
    h2k_progress_update (pr, bd->size);
 out:
  h2k_extent_iter_reset (&it);
  return r == 0 ? 0 : -1;
}
