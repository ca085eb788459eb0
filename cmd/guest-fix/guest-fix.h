/* guest-fix: private declarations shared by its source files.
 *
 * The program is one story (main.c): open every disk of the guest in one
 * libguestfs handle, inspect, mount, run the fixes that apply to the
 * guest's OS one after the other, unmount, and print the JSON report.
 * Each fix lives in its own file and fills in one "fix" object of the
 * report through the fx_* helpers below; a change is recorded only after
 * it was written (or, with --dry-run, as what would be written).
 */
#ifndef GUEST_FIX_H
#define GUEST_FIX_H

#include <stdbool.h>
#include <stddef.h>

#include <guestfs.h>
#include <json-c/json.h>

/* The guest as inspection found it, and the state of the run. */
struct gf {
  guestfs_h *g;
  bool dry_run;
  const char *virtio_win;       /* --virtio-win or $VIRTIO_WIN, or NULL */
  size_t ndisks;
  /* --source: the VM record (vs-ls's JSON line, as virt-define reads it),
   * or NULL.  The network fix takes the MAC address of a NIC the guest
   * names by PCI slot (ens192) from its "nics". */
  json_object *source;
  const char *source_name;      /* the file, for the report and messages */

  char *root;                   /* inspection root (appliance device) */
  char *type;                   /* "linux", "windows", ... */
  char *distro;                 /* "debian", "rhel", "unknown", ... */
  char *product;
  char *arch;
  char *pkgfmt;                 /* "deb", "rpm", "pacman", ... */
  int major, minor;
  char **kernels;               /* Linux: kernel versions with modules */

  json_object *guest;           /* report: facts about the guest */
  json_object *warnings;        /* report: array of strings */
};

/* One fix while it runs. */
struct fixrun {
  json_object *obj;             /* {"name", "status", "reason", "changes"} */
  json_object *changes;         /* array of change objects */
  bool skipped, failed;
};

enum fix_os { FIX_LINUX, FIX_WINDOWS };

struct fix {
  const char *name;
  enum fix_os os;
  const char *summary;          /* one line, for --list-fixes */
  void (*run) (struct gf *gf, struct fixrun *fx);
};

/* The fixes, in the order they run (fixes.c). */
extern const struct fix fixes[];
extern const size_t nr_fixes;

void fix_vmware_tools (struct gf *gf, struct fixrun *fx);
void fix_network (struct gf *gf, struct fixrun *fx);
void fix_block_devices (struct gf *gf, struct fixrun *fx);
void fix_bootloader (struct gf *gf, struct fixrun *fx);
void fix_initramfs (struct gf *gf, struct fixrun *fx);
void fix_guest_agent (struct gf *gf, struct fixrun *fx);
void fix_selinux_relabel (struct gf *gf, struct fixrun *fx);
void fix_windows_drivers (struct gf *gf, struct fixrun *fx);
void fix_windows_vmware_tools (struct gf *gf, struct fixrun *fx);

/* report.c */
void fx_change (struct fixrun *fx, const char *file, const char *action,
                const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
void fx_skip (struct fixrun *fx, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
void fx_fail (struct fixrun *fx, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
void fx_note (struct fixrun *fx, const char *key, json_object *val);
void gf_warn (struct gf *gf, const char *fmt, ...)
  __attribute__ ((format (printf, 2, 3)));
const char *gerr (struct gf *gf);

/* disks.c */
const char *disk_format (const char *path);
int disk_check_not_in_use (const char *path);

/* inspect.c */
int gf_inspect (struct gf *gf);
int gf_mount (struct gf *gf);

/* guestfile.c: files of the guest, read and written through libguestfs. */
bool gfile_exists (struct gf *gf, const char *path);
bool gdir_exists (struct gf *gf, const char *path);
char *gfile_read (struct gf *gf, const char *path, size_t *size);
/* Write CONTENT unless --dry-run; record the change either way. */
int gfile_write (struct gf *gf, struct fixrun *fx, const char *path,
                 const char *content, size_t size, const char *action,
                 const char *detail);
/* The files matching a glob in the guest (NULL-terminated, free with
 * strv_free), never NULL. */
char **gglob (struct gf *gf, const char *pattern);
void strv_free (char **v);
size_t strv_len (char *const *v);
/* The first of several guest paths that exists as a file, or NULL. */
const char *gfirst_file (struct gf *gf, const char *const *paths);

/* Rewrite FILE line by line: FN returns a new line (malloc'd, without
 * the newline) or NULL to keep the line.  Each changed line becomes one
 * change in the report.  Returns the number of lines changed, or -1. */
typedef char *(*line_fn) (struct gf *gf, const char *line, void *data);
int gfile_edit_lines (struct gf *gf, struct fixrun *fx, const char *path,
                      line_fn fn, void *data);

/* devmap.c: VMware-era device names to names that work on virtio. */
/* For a guest block device name (/dev/sda1, /dev/hdb): "UUID=..." when the
 * file system or swap on it has one, else the virtio name (/dev/vda1);
 * NULL when NAME is not such a device (or is not one of the disks). */
char *devmap_stable (struct gf *gf, const char *name);
/* The virtio name for a whole-disk or partition name, or NULL. */
char *devmap_virtio (struct gf *gf, const char *name);
/* Replace every "KEY=/dev/sdXN" (KEY among root, resume, RESUME) in LINE
 * with its stable form; NULL when nothing changed. */
char *devmap_params (struct gf *gf, const char *line);

/* Run a command inside the guest; its output (malloc'd) or NULL with the
 * error in gerr (). */
char *grun (struct gf *gf, const char *const *argv);

#endif
