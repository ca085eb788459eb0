/* The source model: what was read from the OVF, VMX or record, before any
 * mapping, and its JSON form for --print-source. */

#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "virt-define.h"

struct vd_source *
vd_source_new (const char *origin)
{
  struct vd_source *src = calloc (1, sizeof *src);
  if (src == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  src->origin = origin;
  src->firmware = VD_FW_UNKNOWN;
  src->secure_boot = VD_UNKNOWN;
  src->cpus = src->cores_per_socket = src->memory_mib = -1;
  return src;
}

void
vd_source_free (struct vd_source *src)
{
  if (src == NULL)
    return;
  free (src->name);
  free (src->uuid);
  free (src->annotation);
  free (src->guest_id);
  free (src->os_description);
  free (src->hw_version);
  for (size_t i = 0; i < src->disks.len; i++) {
    struct vd_disk *d = &src->disks.ptr[i];
    free (d->label);
    free (d->file);
    free (d->local);
    free (d->controller);
    free (d->path);
  }
  vd_disks_reset (&src->disks);
  for (size_t i = 0; i < src->nics.len; i++) {
    struct vd_nic *n = &src->nics.ptr[i];
    free (n->label);
    free (n->mac);
    free (n->type);
    free (n->network);
  }
  vd_nics_reset (&src->nics);
  for (size_t i = 0; i < src->removables.len; i++) {
    free (src->removables.ptr[i].type);
    free (src->removables.ptr[i].label);
  }
  vd_removables_reset (&src->removables);
  vd_boots_reset (&src->boot);
  free (src);
}

int
vd_set (char **field, const char *value)
{
  char *copy = NULL;
  if (value != NULL && (copy = strdup (value)) == NULL)
    return h2k_seterr ("out of memory");
  free (*field);
  *field = copy;
  return 0;
}

struct vd_disk *
vd_source_add_disk (struct vd_source *src)
{
  struct vd_disk d = { .capacity = -1, .bus = -1, .unit = -1, .key = -1 };
  if (vd_disks_append (&src->disks, d) == -1)
    return NULL;
  return &src->disks.ptr[src->disks.len - 1];
}

struct vd_nic *
vd_source_add_nic (struct vd_source *src)
{
  struct vd_nic n = { .key = -1, .pci_slot = -1 };
  if (vd_nics_append (&src->nics, n) == -1)
    return NULL;
  return &src->nics.ptr[src->nics.len - 1];
}

int
vd_source_add_removable (struct vd_source *src, const char *type,
                         const char *label)
{
  struct vd_removable r = { 0 };
  if (vd_set (&r.type, type) == -1 || vd_set (&r.label, label) == -1
      || vd_removables_append (&src->removables, r) == -1) {
    free (r.type);
    free (r.label);
    return -1;
  }
  return 0;
}

int
vd_source_add_boot (struct vd_source *src, enum vd_boot_type type,
                    size_t index)
{
  struct vd_boot b = { .type = type, .index = index };
  return vd_boots_append (&src->boot, b);
}

/* The record's names (vs-ls's boot_order types). */
const char *
vd_boot_type_name (enum vd_boot_type type)
{
  switch (type) {
  case VD_BOOT_DISK: return "disk";
  case VD_BOOT_NIC: return "ethernet";
  case VD_BOOT_CDROM: return "cdrom";
  default: return "floppy";
  }
}

const char *
vd_firmware_name (enum vd_firmware fw)
{
  switch (fw) {
  case VD_FW_BIOS: return "bios";
  case VD_FW_EFI: return "efi";
  default: return NULL;
  }
}

/* The add helpers skip what is unknown, so that the record holds only what
 * the source said. */
static int
add_string (json_object *o, const char *key, const char *val)
{
  return val ? h2k_json_set_string (o, key, val) : 0;
}

static int
add_int (json_object *o, const char *key, int64_t val)
{
  return val >= 0 ? h2k_json_set_int64 (o, key, val) : 0;
}

static int
add_array (json_object *o, const char *key, json_object **arr)
{
  *arr = json_object_new_array ();
  if (*arr == NULL || json_object_object_add (o, key, *arr) != 0) {
    json_object_put (*arr);
    return h2k_seterr ("out of memory");
  }
  return 0;
}

static json_object *
new_object_in (json_object *arr)
{
  json_object *o = json_object_new_object ();
  if (o == NULL || json_object_array_add (arr, o) != 0) {
    json_object_put (o);
    h2k_seterr ("out of memory");
    return NULL;
  }
  return o;
}

json_object *
vd_source_to_json (const struct vd_source *src)
{
  json_object *o = json_object_new_object ();
  json_object *arr, *e;

  if (o == NULL) {
    h2k_seterr ("out of memory");
    return NULL;
  }
  if (h2k_json_set_string (o, "kind", "vm") == -1
      || h2k_json_set_string (o, "source", src->origin) == -1
      || add_string (o, "name", src->name) == -1
      || add_string (o, "uuid", src->uuid) == -1
      || add_string (o, "annotation", src->annotation) == -1
      || add_string (o, "guest_id", src->guest_id) == -1
      || add_string (o, "os_description", src->os_description) == -1
      || add_string (o, "hw_version", src->hw_version) == -1
      || add_string (o, "firmware", vd_firmware_name (src->firmware)) == -1
      || (src->secure_boot != VD_UNKNOWN
          && h2k_json_set_bool (o, "secure_boot", src->secure_boot == VD_YES) == -1)
      || add_int (o, "cpus", src->cpus) == -1
      || add_int (o, "cores_per_socket", src->cores_per_socket) == -1
      || add_int (o, "memory_mib", src->memory_mib) == -1)
    goto oom;

  if (add_array (o, "disks", &arr) == -1)
    goto oom;
  for (size_t i = 0; i < src->disks.len; i++) {
    const struct vd_disk *d = &src->disks.ptr[i];
    if ((e = new_object_in (arr)) == NULL
        || add_string (e, "label", d->label) == -1
        || add_string (e, "file", d->file) == -1
        || add_int (e, "capacity", d->capacity) == -1
        || add_string (e, "controller", d->controller) == -1
        || add_int (e, "bus", d->bus) == -1
        || add_int (e, "unit", d->unit) == -1
        || add_int (e, "key", d->key) == -1
        || add_string (e, "local", d->local) == -1)
      goto oom;
  }

  if (add_array (o, "nics", &arr) == -1)
    goto oom;
  for (size_t i = 0; i < src->nics.len; i++) {
    const struct vd_nic *n = &src->nics.ptr[i];
    if ((e = new_object_in (arr)) == NULL
        || add_string (e, "label", n->label) == -1
        || add_string (e, "mac", n->mac) == -1
        || add_string (e, "type", n->type) == -1
        || add_string (e, "network", n->network) == -1
        || add_int (e, "key", n->key) == -1
        || add_int (e, "pci_slot", n->pci_slot) == -1)
      goto oom;
  }

  /* The boot order as the record has it: devices by key where they have
   * one (vs-ls), else by label (a VMX's "scsi0:0", "ethernet1"), which
   * the record reader takes too. */
  if (src->boot.len > 0) {
    if (add_array (o, "boot_order", &arr) == -1)
      goto oom;
    for (size_t i = 0; i < src->boot.len; i++) {
      const struct vd_boot *b = &src->boot.ptr[i];
      int64_t key = -1;
      const char *label = NULL;
      if (b->type == VD_BOOT_DISK) {
        key = src->disks.ptr[b->index].key;
        label = src->disks.ptr[b->index].label;
      } else if (b->type == VD_BOOT_NIC) {
        key = src->nics.ptr[b->index].key;
        label = src->nics.ptr[b->index].label;
      }
      if ((e = new_object_in (arr)) == NULL
          || h2k_json_set_string (e, "type", vd_boot_type_name (b->type)) == -1
          || add_int (e, "key", key) == -1
          || (key < 0 && add_string (e, "label", label) == -1))
        goto oom;
    }
  }

  if (src->removables.len > 0) {
    if (add_array (o, "removable", &arr) == -1)
      goto oom;
    for (size_t i = 0; i < src->removables.len; i++) {
      const struct vd_removable *r = &src->removables.ptr[i];
      if ((e = new_object_in (arr)) == NULL
          || add_string (e, "type", r->type) == -1
          || add_string (e, "label", r->label) == -1)
        goto oom;
    }
  }
  return o;

 oom:
  json_object_put (o);
  h2k_seterr ("out of memory");
  return NULL;
}
