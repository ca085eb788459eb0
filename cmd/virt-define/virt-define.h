/* virt-define: private declarations shared by its files.
 *
 * The program reads a source (an OVF, an OVA, a VMX or a VM record) into
 * the source model below, which holds only what the source said: a field
 * the source does not know stays unset (NULL, -1 or VD_UNKNOWN), never
 * invented.  --print-source writes that model as a JSON record.  The
 * mapping step (paths of the converted disks, networks, firmware files)
 * and the domain writer then turn it into libvirt domain XML.
 *
 * Readers return NULL (or -1) with h2k_seterr on bad input; only main.c
 * decides to exit.
 */
#ifndef VIRT_DEFINE_H
#define VIRT_DEFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/vector.h"

enum vd_tristate { VD_UNKNOWN = -1, VD_NO = 0, VD_YES = 1 };

enum vd_firmware { VD_FW_UNKNOWN = 0, VD_FW_BIOS, VD_FW_EFI };

/* One virtual disk of the source, in the source's order. */
struct vd_disk {
  char *label;          /* "Hard disk 1", or NULL */
  char *file;           /* the source's file: OVF href, VMX fileName,
                           the record's "file" ("[ds1] vm/vm.vmdk") */
  char *local;          /* the record's "local" (added by vs-pull) */
  int64_t capacity;     /* bytes, or -1 */
  char *controller;     /* "ide", "sata", "nvme", "pvscsi", "lsilogic"... */
  int bus;              /* controller number, or -1 */
  int unit;             /* unit on the controller, or -1 */
  int64_t key;          /* the record's device key (2000), or -1 */

  /* Filled by the mapping step (disks.c), not by the readers. */
  char *path;           /* absolute path of the converted disk */
  const char *format;   /* "qcow2" or "raw" */
  bool direct_io;       /* the file accepts O_DIRECT (cache='none') */
  bool block;           /* a block device, not a file */
};

/* One network interface of the source. */
struct vd_nic {
  char *label;          /* "Network adapter 1", or NULL */
  char *mac;            /* as the source wrote it, or NULL */
  char *type;           /* "vmxnet3", "e1000"... or NULL */
  char *network;        /* the source network's name, or NULL */
  int64_t key;          /* the record's device key (4000), or -1 */
  int64_t pci_slot;     /* VMware's pciSlotNumber (192), or -1 */
};

/* One entry of the source's boot order: a disk or NIC of the source (by
 * index), or a CD-ROM or floppy drive, which are not carried over. */
enum vd_boot_type { VD_BOOT_DISK, VD_BOOT_NIC, VD_BOOT_CDROM, VD_BOOT_FLOPPY };
struct vd_boot {
  enum vd_boot_type type;
  size_t index;         /* into disks or nics; unused for CD-ROM, floppy */
};

/* A CD-ROM or floppy drive: not carried over, only reported. */
struct vd_removable {
  char *type;           /* "cdrom" or "floppy" */
  char *label;
};

DEFINE_VECTOR_TYPE (vd_disks, struct vd_disk);
DEFINE_VECTOR_TYPE (vd_nics, struct vd_nic);
DEFINE_VECTOR_TYPE (vd_removables, struct vd_removable);
DEFINE_VECTOR_TYPE (vd_boots, struct vd_boot);

struct vd_source {
  const char *origin;   /* "ovf", "ova", "vmx" or "record" */
  char *name;
  char *uuid;           /* the BIOS UUID, normalised, or NULL */
  char *annotation;     /* free text, may hold newlines */
  char *guest_id;       /* "rhel8_64Guest", "otherLinuxGuest", "Debian_64" */
  char *os_description;
  char *hw_version;     /* "vmx-19", "virtualbox-2.2" */
  enum vd_firmware firmware;
  enum vd_tristate secure_boot;
  int64_t cpus;             /* -1 when unknown */
  int64_t cores_per_socket; /* -1 when unknown */
  int64_t memory_mib;       /* -1 when unknown */
  vd_disks disks;
  vd_nics nics;
  vd_removables removables;
  /* The boot order the source gives (record "boot_order", VMX
   * bios.bootOrder); empty when it gives none, and the disks then boot
   * in their order. */
  vd_boots boot;
};

/* source.c */
struct vd_source *vd_source_new (const char *origin);
void vd_source_free (struct vd_source *src);
struct vd_disk *vd_source_add_disk (struct vd_source *src);
struct vd_nic *vd_source_add_nic (struct vd_source *src);
int vd_source_add_removable (struct vd_source *src, const char *type,
                             const char *label);
int vd_source_add_boot (struct vd_source *src, enum vd_boot_type type,
                        size_t index);
const char *vd_boot_type_name (enum vd_boot_type type);
/* The model as a VM record (DESIGN.md section 2 field names). */
json_object *vd_source_to_json (const struct vd_source *src);
/* Strings from the sources: strdup that records failure with h2k_seterr. */
int vd_set (char **field, const char *value);
const char *vd_firmware_name (enum vd_firmware fw);

/* ovf.c: parse an OVF descriptor held in memory.  NAME is used in
 * messages. */
struct vd_source *vd_read_ovf (const char *buf, size_t len, const char *name);
/* ova.c: find the .ovf member of an OVA (tar, possibly compressed, or
 * zip) and parse it. */
struct vd_source *vd_read_ova (const char *path);
/* vmx.c */
struct vd_source *vd_read_vmx (const char *buf, size_t len, const char *name);
/* record.c: one VM record (a parsed JSON object). */
struct vd_source *vd_read_record (json_object *obj, const char *where);

/* units.c: "byte * 2^20", "MegaBytes", "GB"... as a multiplier in bytes.
 * Returns 0, or -1 with h2k_seterr naming the value. */
int vd_parse_units (const char *units, uint64_t *multiplier);

/* text.c: checks on the strings that end up in XML and in file names. */
/* Normalise a UUID ("4210c8e1-...", "{...}", "42 10 c8 e1 ... -...") to
 * lower-case 8-4-4-4-12 form; NULL when it is not one. */
char *vd_normalize_uuid (const char *s);
/* Normalise a MAC ("00:50:56:9A:0B:1C", "00-50-...", "0050569a0b1c") to
 * lower case with colons; NULL when it is not one. */
char *vd_normalize_mac (const char *s);
/* True when S is valid UTF-8 holding only characters XML 1.0 allows. */
bool vd_xml_text_ok (const char *s, bool allow_newlines);
/* A copy of S with anything XML cannot hold (bad UTF-8, control
 * characters) replaced by '?'. */
char *vd_xml_text_clean (const char *s);
/* A file name for a VM or disk name: letters, digits, '.', '_', '-', '+'
 * and non-ASCII UTF-8 characters kept, everything else '_', no leading
 * dot, never empty, at most 200 bytes. */
char *vd_sanitize_filename (const char *name);
/* The base name of a source disk file without its directory (also the
 * datastore form "[ds] dir/f.vmdk") and without a disk extension.  Not
 * sanitized: check it before using it as a file name. */
char *vd_disk_stem (const char *file);

/* Options that turn the source into a domain. */
struct vd_map {
  const char *name;           /* --name */
  const char *cpu;            /* --cpu: host-model, host-passthrough,
                                 maximum, or a CPU model name */
  const char *machine;        /* --machine: q35, pc, or a versioned type */
  const char *virt_type;      /* --virt-type: kvm or qemu */
  const char *bus;            /* --bus: virtio, scsi or sata */
  const char *graphics;       /* --graphics: vnc, spice or none */
  enum vd_firmware firmware;  /* --firmware, or VD_FW_UNKNOWN */
  int64_t vcpus;              /* --vcpus, or -1 */
  int64_t memory_mib;         /* --memory, or -1 */
  char **disks;               /* --disk, in order */
  size_t ndisks;
  const char *disk_dir;       /* --disk-dir */
  char **networks;            /* --network SRC=DST or DST */
  size_t nnetworks;
  char **bridges;             /* --bridge SRC=DST or DST */
  size_t nbridges;
  bool strict;                /* --strict: warnings become errors */
};

/* disks.c: find the converted disk for every source disk (--disk,
 * --disk-dir, the records' "local") and detect its format. */
int vd_map_disks (struct vd_source *src, const struct vd_map *map);
/* Report a problem that --strict turns into an error: returns -1 with
 * h2k_seterr under --strict, else warns and returns 0. */
int vd_soft_error (const struct vd_map *map, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));

/* firmware.c: the OVMF code and variables template to use. */
struct vd_ovmf {
  char code[4096];      /* the firmware, read-only */
  char vars[4096];      /* the NVRAM template copied for each domain */
  bool found;           /* both files exist on this machine */
};
void vd_find_ovmf (bool secure_boot, struct vd_ovmf *out);

/* domain.c: write the domain; returns a malloc'd NUL-terminated document
 * or NULL with h2k_seterr. */
char *vd_write_domain (const struct vd_source *src, const struct vd_map *map);

#endif
