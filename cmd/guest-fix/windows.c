/* Windows guests: fix "windows-drivers" installs the VirtIO drivers from a
 * virtio-win tree so that the boot disk's driver loads at boot; fix
 * "windows-vmware-tools" disables the VMware Tools services.
 *
 * The boot disk driver (viostor for virtio-blk, vioscsi for virtio-scsi)
 * must be a boot-start service before Windows first sees the new
 * controller, and Windows must know which service drives that PCI device:
 * the services keys (Start=0) and the CriticalDeviceDatabase entries for
 * the virtio PCI IDs do that, written with libguestfs's hivex API.  The
 * other drivers (network, balloon) are installed by Plug and Play: a
 * RunOnce entry runs pnputil on every copied .inf at the first logon of
 * an administrator. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/h2k.h"
#include "guest-fix.h"

#define REG_SZ 1
#define REG_DWORD 4

/* Where the drivers are copied in the guest (C:\Windows\Drivers\VirtIO). */
#define GUEST_DRIVER_DIR "/Windows/Drivers/VirtIO"

static const char scsi_class[] = "{4D36E97B-E325-11CE-BFC1-08002BE10318}";

struct blockdrv {
  const char *name;             /* service and file name */
  const char *pci_ids[3];       /* CriticalDeviceDatabase key names */
};

static const struct blockdrv block_drivers[] = {
  { "viostor", { "pci#ven_1af4&dev_1001&subsys_00021af4&rev_00",
                 "pci#ven_1af4&dev_1042&subsys_11001af4&rev_01", NULL } },
  { "vioscsi", { "pci#ven_1af4&dev_1004&subsys_00081af4&rev_00",
                 "pci#ven_1af4&dev_1048&subsys_11001af4&rev_01", NULL } },
};

static const char *const pnp_drivers[] = { "netkvm", "balloon", NULL };

/* The directory names virtio-win uses for this Windows version, best
 * first. */
static void
os_dirs (struct gf *gf, const char **out, size_t n)
{
  CLEANUP_FREE char *itype = guestfs_inspect_get_product_variant (gf->g,
                                                                  gf->root);
  bool server = itype && strcasestr (itype, "server");
  size_t i = 0;
#define ADD(s) do { if (i < n - 1) out[i++] = (s); } while (0)
  if (gf->major == 6 && gf->minor == 1) {
    if (server) ADD ("2k8R2");
    ADD ("w7");
  }
  else if (gf->major == 6 && gf->minor == 2) {
    if (server) ADD ("2k12");
    ADD ("w8");
  }
  else if (gf->major == 6 && gf->minor == 3) {
    if (server) ADD ("2k12R2");
    ADD ("w8.1");
  }
  else if (gf->major == 10) {
    if (server) { ADD ("2k22"); ADD ("2k19"); ADD ("2k16"); }
    ADD ("w11"); ADD ("w10");
  }
#undef ADD
  out[i] = NULL;
}

/* PARENT/NAME matched without regard to case (virtio-win spells NetKVM
 * and Balloon with capitals); malloc'd, or NULL. */
static char *
find_ci (const char *parent, const char *name)
{
  DIR *d = opendir (parent);
  if (!d)
    return NULL;
  char *found = NULL;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    if (strcasecmp (e->d_name, name) == 0) {
      if (asprintf (&found, "%s/%s", parent, e->d_name) == -1)
        h2k_die ("out of memory");
      break;
    }
  closedir (d);
  return found;
}

/* DIR/<driver>/<os>/<arch>, the layout of the virtio-win ISO and RPM. */
static char *
driver_dir (struct gf *gf, const char *driver)
{
  const char *oses[8];
  const char *arch = gf->arch && strcmp (gf->arch, "i386") == 0
    ? "x86" : "amd64";
  os_dirs (gf, oses, sizeof oses / sizeof oses[0]);
  CLEANUP_FREE char *d = find_ci (gf->virtio_win, driver);
  if (!d)
    return NULL;
  for (size_t i = 0; oses[i]; i++) {
    CLEANUP_FREE char *o = find_ci (d, oses[i]);
    if (!o)
      continue;
    char *a = find_ci (o, arch);
    if (a)
      return a;
  }
  return NULL;
}

/* ASCII to the UTF-16LE, NUL-terminated form of REG_SZ. */
static char *
utf16le (const char *s, size_t *len)
{
  size_t n = strlen (s);
  char *out = calloc (2 * (n + 1), 1);
  if (!out)
    h2k_die ("out of memory");
  for (size_t i = 0; i < n; i++)
    out[2 * i] = s[i];
  *len = 2 * (n + 1);
  return out;
}

/* The node at PATH (backslash-separated, from the hive's root), created
 * if missing when CREATE; 0 when missing, -1 on error. */
static int64_t
reg_node (struct gf *gf, const char *path, bool create)
{
  int64_t node = guestfs_hivex_root (gf->g);
  if (node == -1)
    return -1;
  CLEANUP_FREE char *copy = strdup (path);
  char *save = NULL;
  for (char *c = strtok_r (copy, "\\", &save); c; c = strtok_r (NULL, "\\", &save)) {
    int64_t child = guestfs_hivex_node_get_child (gf->g, node, c);
    if (child == -1)
      return -1;
    if (child == 0) {
      if (!create)
        return 0;
      child = guestfs_hivex_node_add_child (gf->g, node, c);
      if (child == -1)
        return -1;
    }
    node = child;
  }
  return node;
}

static void
reg_change (struct fixrun *fx, const char *hive, const char *key,
            const char *value, const char *data)
{
  json_object *c = json_object_new_object ();
  json_object_object_add (c, "action", json_object_new_string ("registry"));
  json_object_object_add (c, "hive", json_object_new_string (hive));
  json_object_object_add (c, "key", json_object_new_string (key));
  json_object_object_add (c, "value", json_object_new_string (value));
  json_object_object_add (c, "data", json_object_new_string (data));
  json_object_array_add (fx->changes, c);
}

static int
set_sz (struct gf *gf, struct fixrun *fx, const char *hive, int64_t node,
        const char *key, const char *value, const char *data)
{
  size_t len;
  CLEANUP_FREE char *v = utf16le (data, &len);
  if (!gf->dry_run
      && guestfs_hivex_node_set_value (gf->g, node, value, REG_SZ, v, len) == -1)
    return -1;
  reg_change (fx, hive, key, value, data);
  return 0;
}

static int
set_dword (struct gf *gf, struct fixrun *fx, const char *hive, int64_t node,
           const char *key, const char *value, uint32_t data)
{
  unsigned char v[4] = { data, data >> 8, data >> 16, data >> 24 };
  if (!gf->dry_run
      && guestfs_hivex_node_set_value (gf->g, node, value, REG_DWORD,
                                       (const char *) v, 4) == -1)
    return -1;
  char s[16];
  snprintf (s, sizeof s, "%u", data);
  reg_change (fx, hive, key, value, s);
  return 0;
}

/* Open the hive at guest PATH for the fix; -1 with the fix failed. */
static int
hive_open (struct gf *gf, struct fixrun *fx, const char *path)
{
  if (guestfs_hivex_open (gf->g, path, GUESTFS_HIVEX_OPEN_WRITE, !gf->dry_run,
                          -1) == -1) {
    fx_fail (fx, "%s: %s", path, gerr (gf));
    return -1;
  }
  return 0;
}

static int
hive_close (struct gf *gf, struct fixrun *fx, const char *path, bool ok)
{
  if (ok && !gf->dry_run && guestfs_hivex_commit (gf->g, NULL) == -1) {
    fx_fail (fx, "%s: %s", path, gerr (gf));
    ok = false;
  }
  guestfs_hivex_close (gf->g);
  return ok ? 0 : -1;
}

/* Copy every file of the host directory SRC into the guest directory
 * DST; the .sys file also into System32\drivers when SYSDIR. */
static int
copy_driver (struct gf *gf, struct fixrun *fx, const char *src,
             const char *dst, const char *sysdir)
{
  DIR *d = opendir (src);
  if (!d) {
    fx_fail (fx, "%s: %m", src);
    return -1;
  }
  if (!gf->dry_run && guestfs_mkdir_p (gf->g, dst) == -1) {
    closedir (d);
    fx_fail (fx, "%s: %s", dst, gerr (gf));
    return -1;
  }
  struct dirent *e;
  int r = 0;
  while (r == 0 && (e = readdir (d)) != NULL) {
    CLEANUP_FREE char *from = NULL, *to = NULL, *sys = NULL;
    struct stat st;
    if (asprintf (&from, "%s/%s", src, e->d_name) == -1)
      h2k_die ("out of memory");
    if (stat (from, &st) == -1 || !S_ISREG (st.st_mode))
      continue;
    /* Names from the tree become guest paths: keep them plain. */
    if (strchr (e->d_name, '\\') || e->d_name[0] == '.')
      continue;
    if (asprintf (&to, "%s/%s", dst, e->d_name) == -1)
      h2k_die ("out of memory");
    if (!gf->dry_run && guestfs_upload (gf->g, from, to) == -1) {
      fx_fail (fx, "%s: %s", to, gerr (gf));
      r = -1;
      break;
    }
    fx_change (fx, to, "create", "from %s", from);
    size_t n = strlen (e->d_name);
    if (sysdir && n > 4 && strcasecmp (e->d_name + n - 4, ".sys") == 0) {
      if (asprintf (&sys, "%s/%s", sysdir, e->d_name) == -1)
        h2k_die ("out of memory");
      if (!gf->dry_run && guestfs_upload (gf->g, from, sys) == -1) {
        fx_fail (fx, "%s: %s", sys, gerr (gf));
        r = -1;
        break;
      }
      fx_change (fx, sys, "create", "boot driver, from %s", from);
    }
  }
  closedir (d);
  return r;
}

static const char firstboot[] =
  "@echo off\r\n"
  "rem Written by h2k guest-fix: installs the VirtIO drivers copied here\r\n"
  "rem (network, balloon...) now that Windows runs on KVM.\r\n"
  "for /r \"%SystemRoot%\\Drivers\\VirtIO\" %%f in (*.inf) do "
  "pnputil -i -a \"%%f\"\r\n";

void
fix_windows_drivers (struct gf *gf, struct fixrun *fx)
{
  if (!gf->virtio_win) {
    fx_skip (fx, "no virtio-win directory given (--virtio-win or "
             "VIRTIO_WIN): the VirtIO drivers were not installed, so the "
             "guest cannot boot from a virtio disk");
    return;
  }
  struct stat st;
  if (stat (gf->virtio_win, &st) == -1 || !S_ISDIR (st.st_mode)) {
    fx_fail (fx, "%s: not a directory", gf->virtio_win);
    return;
  }

  CLEANUP_FREE char *sysdir = guestfs_case_sensitive_path (
    gf->g, "/Windows/System32/drivers");
  CLEANUP_FREE char *system = guestfs_inspect_get_windows_system_hive (
    gf->g, gf->root);
  CLEANUP_FREE char *software = guestfs_inspect_get_windows_software_hive (
    gf->g, gf->root);
  CLEANUP_FREE char *ccs = guestfs_inspect_get_windows_current_control_set (
    gf->g, gf->root);
  if (!sysdir || !system || !software || !ccs) {
    fx_fail (fx, "cannot find the registry or System32: %s", gerr (gf));
    return;
  }

  /* The boot drivers first: without one, nothing else matters. */
  json_object *found = json_object_new_array ();
  fx_note (fx, "drivers", found);
  const struct blockdrv *have_block[2];
  size_t nblock = 0;
  for (size_t i = 0; i < sizeof block_drivers / sizeof block_drivers[0]; i++) {
    CLEANUP_FREE char *src = driver_dir (gf, block_drivers[i].name);
    CLEANUP_FREE char *dst = NULL;
    if (!src)
      continue;
    if (asprintf (&dst, GUEST_DRIVER_DIR "/%s", block_drivers[i].name) == -1)
      h2k_die ("out of memory");
    if (copy_driver (gf, fx, src, dst, sysdir) == -1)
      return;
    json_object_array_add (found, json_object_new_string (block_drivers[i].name));
    have_block[nblock++] = &block_drivers[i];
  }
  if (nblock == 0) {
    fx_fail (fx, "%s: no viostor or vioscsi driver for Windows %d.%d (%s)",
             gf->virtio_win, gf->major, gf->minor, gf->arch ? gf->arch : "?");
    return;
  }
  for (size_t i = 0; pnp_drivers[i]; i++) {
    CLEANUP_FREE char *src = driver_dir (gf, pnp_drivers[i]);
    CLEANUP_FREE char *dst = NULL;
    if (!src) {
      gf_warn (gf, "windows-drivers: %s: not in %s for this Windows",
               pnp_drivers[i], gf->virtio_win);
      continue;
    }
    if (asprintf (&dst, GUEST_DRIVER_DIR "/%s", pnp_drivers[i]) == -1)
      h2k_die ("out of memory");
    if (copy_driver (gf, fx, src, dst, NULL) == -1)
      return;
    json_object_array_add (found, json_object_new_string (pnp_drivers[i]));
  }

  /* SYSTEM: boot-start services and the devices they drive. */
  if (hive_open (gf, fx, system) == -1)
    return;
  bool ok = true;
  for (size_t i = 0; ok && i < nblock; i++) {
    const struct blockdrv *b = have_block[i];
    CLEANUP_FREE char *key = NULL, *image = NULL;
    if (asprintf (&key, "%s\\Services\\%s", ccs, b->name) == -1
        || asprintf (&image, "system32\\drivers\\%s.sys", b->name) == -1)
      h2k_die ("out of memory");
    int64_t n = reg_node (gf, key, !gf->dry_run);
    ok = n != -1
      && set_dword (gf, fx, "SYSTEM", n, key, "Type", 1) == 0
      && set_dword (gf, fx, "SYSTEM", n, key, "Start", 0) == 0
      && set_dword (gf, fx, "SYSTEM", n, key, "ErrorControl", 1) == 0
      && set_sz (gf, fx, "SYSTEM", n, key, "Group", "SCSI miniport") == 0
      && set_sz (gf, fx, "SYSTEM", n, key, "ImagePath", image) == 0;
    for (size_t j = 0; ok && b->pci_ids[j]; j++) {
      CLEANUP_FREE char *cdd = NULL;
      if (asprintf (&cdd, "%s\\Control\\CriticalDeviceDatabase\\%s", ccs,
                    b->pci_ids[j]) == -1)
        h2k_die ("out of memory");
      n = reg_node (gf, cdd, !gf->dry_run);
      ok = n != -1
        && set_sz (gf, fx, "SYSTEM", n, cdd, "Service", b->name) == 0
        && set_sz (gf, fx, "SYSTEM", n, cdd, "ClassGUID", scsi_class) == 0;
    }
  }
  if (!ok)
    fx_fail (fx, "%s: %s", system, gerr (gf));
  if (hive_close (gf, fx, system, ok) == -1)
    return;

  /* The first-boot script, and SOFTWARE's RunOnce entry that runs it. */
  const char *script = GUEST_DRIVER_DIR "/h2k-firstboot.cmd";
  if (gfile_write (gf, fx, script, firstboot, sizeof firstboot - 1, "create",
                   "runs pnputil on every driver at the first logon") == -1)
    return;
  if (hive_open (gf, fx, software) == -1)
    return;
  const char *runonce = "Microsoft\\Windows\\CurrentVersion\\RunOnce";
  int64_t n = reg_node (gf, runonce, !gf->dry_run);
  ok = n != -1
    && set_sz (gf, fx, "SOFTWARE", n, runonce, "h2k-virtio-drivers",
               "cmd.exe /c \"%SystemRoot%\\Drivers\\VirtIO\\h2k-firstboot.cmd\"") == 0;
  if (!ok)
    fx_fail (fx, "%s: %s", software, gerr (gf));
  hive_close (gf, fx, software, ok);
}

void
fix_windows_vmware_tools (struct gf *gf, struct fixrun *fx)
{
  static const char *const services[] = {
    "VMTools", "VGAuthService", "vmvss", "vm3dservice",
    "VMwareCAFManagementAgentHost", "VMwareCAFCommAmqpListener", NULL
  };
  CLEANUP_FREE char *system = guestfs_inspect_get_windows_system_hive (
    gf->g, gf->root);
  CLEANUP_FREE char *ccs = guestfs_inspect_get_windows_current_control_set (
    gf->g, gf->root);
  if (!system || !ccs) {
    fx_fail (fx, "cannot find the registry: %s", gerr (gf));
    return;
  }
  if (hive_open (gf, fx, system) == -1)
    return;
  bool ok = true;
  for (size_t i = 0; ok && services[i]; i++) {
    CLEANUP_FREE char *key = NULL;
    if (asprintf (&key, "%s\\Services\\%s", ccs, services[i]) == -1)
      h2k_die ("out of memory");
    int64_t n = reg_node (gf, key, false);
    if (n == -1)
      ok = false;
    else if (n > 0)
      ok = set_dword (gf, fx, "SYSTEM", n, key, "Start", 4) == 0;
  }
  if (!ok)
    fx_fail (fx, "%s: %s", system, gerr (gf));
  if (hive_close (gf, fx, system, ok) == 0
      && json_object_array_length (fx->changes) == 0)
    fx_skip (fx, "no VMware Tools service in the registry");
}
