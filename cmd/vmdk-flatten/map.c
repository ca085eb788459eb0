/* --map: the allocation of the flattened disk as extent records (DESIGN.md
 * section 2), one JSON object per line, in the manner of qemu-img map:
 * "data" says the bytes are stored somewhere in the chain, "zero" that
 * they read as zeros.  Adjacent extents of the same kind are merged, also
 * across the windows the chain is queried in. */
#include <stdio.h>

#include "util/die.h"
#include "flatten.h"
#include "util/jsonl.h"

#define WINDOW (1024u << 20)

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
  struct h2k_extent_vector v = { 0 };
  uint64_t cur_off = 0, cur_len = 0;
  bool cur_data = false;
  int r = -1;

  for (uint64_t pos = 0; pos < bd->size; ) {
    uint64_t wlen = bd->size - pos < WINDOW ? bd->size - pos : WINDOW;
    if (h2k_bdev_extents (bd, pos, wlen, &v) == -1)
      goto out;
    for (size_t i = 0; i < v.len; i++) {
      bool data = v.ptr[i].type == H2K_EXTENT_DATA;
      if (cur_len > 0 && data == cur_data) {
        cur_len += v.ptr[i].length;
        continue;
      }
      if (cur_len > 0 && emit (file, cur_off, cur_len, cur_data) == -1)
        goto out;
      cur_off = v.ptr[i].offset;
      cur_len = v.ptr[i].length;
      cur_data = data;
    }
    pos += wlen;
    h2k_progress_update (pr, pos);
  }
  if (cur_len > 0 && emit (file, cur_off, cur_len, cur_data) == -1)
    goto out;
  r = 0;
 out:
  h2k_extent_vector_reset (&v);
  return r;
}
