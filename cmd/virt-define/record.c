/* The VM record reader (DESIGN.md section 2): the JSON objects vs-ls
 * writes and vs-pull extends with each disk's "local" path.  The output
 * of --print-source is a record too, so it can be edited with jq and fed
 * back.  A field that is absent stays unknown; a field that is present
 * with the wrong type is an error, because it means the record is not
 * what we think it is. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "virt-define.h"

static int
get_string (json_object *o, const char *where, const char *key, char **out)
{
  json_object *v;
  if (!json_object_object_get_ex (o, key, &v) || json_object_is_type (v, json_type_null))
    return 0;
  if (!json_object_is_type (v, json_type_string))
    return h2k_seterr ("%s: \"%s\" is not a string", where, key);
  return vd_set (out, json_object_get_string (v));
}

static int
get_int (json_object *o, const char *where, const char *key, int64_t min,
         int64_t *out)
{
  json_object *v;
  if (!json_object_object_get_ex (o, key, &v) || json_object_is_type (v, json_type_null))
    return 0;
  int64_t n;
  if (!h2k_json_get_int64 (o, key, &n))
    return h2k_seterr ("%s: \"%s\" is not an integer", where, key);
  if (n < min)
    return h2k_seterr ("%s: \"%s\" is %lld, less than %lld", where, key,
                       (long long) n, (long long) min);
  *out = n;
  return 0;
}

static int
get_small_int (json_object *o, const char *where, const char *key, int *out)
{
  int64_t n = -1;
  if (get_int (o, where, key, 0, &n) == -1)
    return -1;
  if (n > 0xffff)
    return h2k_seterr ("%s: \"%s\" is %lld, too large", where, key, (long long) n);
  if (n >= 0)
    *out = (int) n;
  return 0;
}

static int
get_array (json_object *o, const char *where, const char *key,
           json_object **arr)
{
  json_object *v;
  *arr = NULL;
  if (!json_object_object_get_ex (o, key, &v) || json_object_is_type (v, json_type_null))
    return 0;
  if (!json_object_is_type (v, json_type_array))
    return h2k_seterr ("%s: \"%s\" is not an array", where, key);
  *arr = v;
  return 0;
}

static int
read_disk (json_object *e, const char *where, struct vd_source *src)
{
  struct vd_disk *d = vd_source_add_disk (src);
  if (d == NULL
      || get_string (e, where, "label", &d->label) == -1
      || get_string (e, where, "file", &d->file) == -1
      || get_string (e, where, "local", &d->local) == -1
      || get_string (e, where, "controller", &d->controller) == -1
      || get_int (e, where, "capacity", 0, &d->capacity) == -1
      || get_small_int (e, where, "bus", &d->bus) == -1
      || get_small_int (e, where, "unit", &d->unit) == -1
      || get_int (e, where, "key", 0, &d->key) == -1)
    return -1;
  return 0;
}

static int
read_nic (json_object *e, const char *where, struct vd_source *src)
{
  struct vd_nic *n = vd_source_add_nic (src);
  if (n == NULL
      || get_string (e, where, "label", &n->label) == -1
      || get_string (e, where, "mac", &n->mac) == -1
      || get_string (e, where, "type", &n->type) == -1
      || get_string (e, where, "network", &n->network) == -1
      || get_int (e, where, "key", 0, &n->key) == -1
      || get_int (e, where, "pci_slot", 0, &n->pci_slot) == -1)
    return -1;
  return 0;
}

static int
read_removable (json_object *e, const char *where, struct vd_source *src)
{
  CLEANUP_FREE char *type = NULL, *label = NULL;
  if (get_string (e, where, "type", &type) == -1
      || get_string (e, where, "label", &label) == -1)
    return -1;
  return vd_source_add_removable (src, type ? type : "cdrom", label);
}

/* vs-ls's CD-ROM drives: dropped like every removable device, but said. */
static int
read_cdrom (json_object *e, const char *where, struct vd_source *src)
{
  CLEANUP_FREE char *label = NULL;
  if (get_string (e, where, "label", &label) == -1)
    return -1;
  return vd_source_add_removable (src, "cdrom", label);
}

/* One entry of vs-ls's boot_order: {"type": "disk", "key": 2000}, the
 * device named by its key (or, in --print-source's output for a VMX, by
 * its label).  An entry that names no device of the record is left out
 * with a warning: the rest of the order still holds. */
static int
read_boot (json_object *e, const char *where, struct vd_source *src)
{
  CLEANUP_FREE char *type = NULL, *label = NULL;
  int64_t key = -1;
  if (get_string (e, where, "type", &type) == -1
      || get_string (e, where, "label", &label) == -1
      || get_int (e, where, "key", 0, &key) == -1)
    return -1;
  if (type == NULL) {
    h2k_warn ("%s: no \"type\": left out", where);
    return 0;
  }
  if (strcmp (type, "cdrom") == 0)
    return vd_source_add_boot (src, VD_BOOT_CDROM, 0);
  if (strcmp (type, "floppy") == 0)
    return vd_source_add_boot (src, VD_BOOT_FLOPPY, 0);

  bool disk = strcmp (type, "disk") == 0;
  if (!disk && strcmp (type, "ethernet") != 0) {
    h2k_warn ("%s: boot device type \"%s\" not understood (disk, ethernet, "
              "cdrom or floppy): left out", where, type);
    return 0;
  }
  size_t n = disk ? src->disks.len : src->nics.len;
  for (size_t i = 0; i < n; i++) {
    int64_t k = disk ? src->disks.ptr[i].key : src->nics.ptr[i].key;
    const char *l = disk ? src->disks.ptr[i].label : src->nics.ptr[i].label;
    if (key >= 0 ? k == key : label && l && strcmp (label, l) == 0)
      return vd_source_add_boot (src, disk ? VD_BOOT_DISK : VD_BOOT_NIC, i);
  }
  if (key >= 0)
    h2k_warn ("%s: the record has no %s with key %lld: left out", where,
              disk ? "disk" : "NIC", (long long) key);
  else
    h2k_warn ("%s: the record has no %s \"%s\": left out", where,
              disk ? "disk" : "NIC", label ? label : "(no key, no label)");
  return 0;
}

/* Each element of ARR must be an object; READ adds it to SRC. */
static int
read_each (json_object *arr, const char *where, const char *key,
           struct vd_source *src,
           int (*read) (json_object *, const char *, struct vd_source *))
{
  if (arr == NULL)
    return 0;
  size_t n = json_object_array_length (arr);
  for (size_t i = 0; i < n; i++) {
    json_object *e = json_object_array_get_idx (arr, i);
    CLEANUP_FREE char *w = NULL;
    if (asprintf (&w, "%s: %s[%zu]", where, key, i) == -1)
      return h2k_seterr ("out of memory");
    if (e == NULL || !json_object_is_type (e, json_type_object))
      return h2k_seterr ("%s: not an object", w);
    if (read (e, w, src) == -1)
      return -1;
  }
  return 0;
}

struct vd_source *
vd_read_record (json_object *obj, const char *where)
{
  struct vd_source *src = vd_source_new ("record");
  CLEANUP_FREE char *firmware = NULL, *uuid = NULL;
  json_object *disks, *nics, *removable, *cdroms, *boot, *v;

  if (src == NULL)
    return NULL;
  if (get_string (obj, where, "name", &src->name) == -1
      || get_string (obj, where, "uuid", &uuid) == -1
      || get_string (obj, where, "annotation", &src->annotation) == -1
      || get_string (obj, where, "guest_id", &src->guest_id) == -1
      || get_string (obj, where, "os_description", &src->os_description) == -1
      || (src->os_description == NULL
          /* vs-ls calls it guest_name (vSphere's guestFullName). */
          && get_string (obj, where, "guest_name", &src->os_description) == -1)
      || get_string (obj, where, "hw_version", &src->hw_version) == -1
      || get_string (obj, where, "firmware", &firmware) == -1
      || get_int (obj, where, "cpus", 1, &src->cpus) == -1
      || get_int (obj, where, "cores_per_socket", 1, &src->cores_per_socket) == -1
      || get_int (obj, where, "memory_mib", 1, &src->memory_mib) == -1
      || get_array (obj, where, "disks", &disks) == -1
      || get_array (obj, where, "nics", &nics) == -1
      || get_array (obj, where, "removable", &removable) == -1
      || get_array (obj, where, "cdroms", &cdroms) == -1
      || get_array (obj, where, "boot_order", &boot) == -1)
    goto err;

  if (uuid && (src->uuid = vd_normalize_uuid (uuid)) == NULL)
    h2k_warn ("%s: uuid \"%s\" is not a UUID: left out", where, uuid);
  if (firmware) {
    if (strcmp (firmware, "bios") == 0)
      src->firmware = VD_FW_BIOS;
    else if (strcmp (firmware, "efi") == 0)
      src->firmware = VD_FW_EFI;
    else {
      h2k_seterr ("%s: firmware \"%s\" not understood (bios or efi)", where,
                  firmware);
      goto err;
    }
  }
  if (json_object_object_get_ex (obj, "secure_boot", &v)
      && !json_object_is_type (v, json_type_null)) {
    if (!json_object_is_type (v, json_type_boolean)) {
      h2k_seterr ("%s: \"secure_boot\" is not true or false", where);
      goto err;
    }
    src->secure_boot = json_object_get_boolean (v) ? VD_YES : VD_NO;
  }

  if (read_each (disks, where, "disks", src, read_disk) == -1
      || read_each (nics, where, "nics", src, read_nic) == -1
      || read_each (removable, where, "removable", src, read_removable) == -1
      || read_each (cdroms, where, "cdroms", src, read_cdrom) == -1
      /* After the devices it names. */
      || read_each (boot, where, "boot_order", src, read_boot) == -1)
    goto err;
  return src;

 err:
  vd_source_free (src);
  return NULL;
}
