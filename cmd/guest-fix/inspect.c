/* Inspection: which operating system is on the disks, and its facts. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

static void
fact (struct gf *gf, const char *key, const char *val)
{
  if (val && *val && strcmp (val, "unknown") != 0)
    json_object_object_add (gf->guest, key, json_object_new_string (val));
}

/* A volume group with physical volumes missing (LVM marks it partial):
 * a guest whose root is on LVM across disks, given without one of them.
 * Returns -1 with the error set when there is one. */
static int
check_partial_vgs (struct gf *gf)
{
  struct guestfs_lvm_vg_list *vgs = guestfs_vgs_full (gf->g);
  int r = 0;
  for (size_t i = 0; vgs && i < vgs->len && r == 0; i++) {
    const char *attr = vgs->val[i].vg_attr;
    if (attr && strlen (attr) > 3 && attr[3] == 'p')
      r = h2k_seterr ("volume group %s is incomplete: some of its %" PRId64
                      " physical volumes are on none of the disks given; "
                      "give every disk of the guest", vgs->val[i].vg_name,
                      vgs->val[i].pv_count);
  }
  if (vgs)
    guestfs_free_lvm_vg_list (vgs);
  return r;
}

/* Why inspection found nothing: an encrypted volume or an incomplete
 * volume group are the common reasons worth naming, since the fix cannot
 * go on without the key or the missing disk. */
static int
explain_no_os (struct gf *gf)
{
  if (check_partial_vgs (gf) == -1)
    return -1;

  /* list_filesystems leaves LUKS volumes out; ask every block device. */
  char **parts = guestfs_list_partitions (gf->g);
  char **devs = guestfs_list_devices (gf->g);
  char **lvs = guestfs_lvs (gf->g);
  char **lists[] = { parts, devs, lvs };
  bool luks = false;
  for (size_t l = 0; l < 3; l++)
    for (size_t i = 0; lists[l] && lists[l][i] && !luks; i++) {
      CLEANUP_FREE char *t = guestfs_vfs_type (gf->g, lists[l][i]);
      luks = t && strcmp (t, "crypto_LUKS") == 0;
    }
  strv_free (parts);
  strv_free (devs);
  strv_free (lvs);
  if (luks)
    return h2k_seterr ("no operating system found: the disks hold an "
                       "encrypted (LUKS) volume, which guest-fix cannot "
                       "open");
  return h2k_seterr ("no operating system found on the disks");
}

int
gf_inspect (struct gf *gf)
{
  char **roots = guestfs_inspect_os (gf->g);
  if (!roots)
    return h2k_seterr ("inspection failed: %s", gerr (gf));
  size_t n = strv_len (roots);
  if (n == 0) {
    strv_free (roots);
    return explain_no_os (gf);
  }
  if (n > 1) {
    strv_free (roots);
    return h2k_seterr ("%zu operating systems found on the disks; give "
                       "the disks of one guest only", n);
  }
  gf->root = roots[0];
  free (roots);

  guestfs_h *g = gf->g;
  gf->type = guestfs_inspect_get_type (g, gf->root);
  gf->distro = guestfs_inspect_get_distro (g, gf->root);
  gf->product = guestfs_inspect_get_product_name (g, gf->root);
  gf->arch = guestfs_inspect_get_arch (g, gf->root);
  gf->pkgfmt = guestfs_inspect_get_package_format (g, gf->root);
  gf->major = guestfs_inspect_get_major_version (g, gf->root);
  gf->minor = guestfs_inspect_get_minor_version (g, gf->root);
  if (!gf->type || !gf->distro)
    return h2k_seterr ("inspection failed: %s", gerr (gf));

  fact (gf, "root", gf->root);
  fact (gf, "type", gf->type);
  fact (gf, "distro", gf->distro);
  fact (gf, "product_name", gf->product);
  fact (gf, "arch", gf->arch);
  fact (gf, "package_format", gf->pkgfmt);
  json_object_object_add (gf->guest, "major_version",
                          json_object_new_int (gf->major));
  json_object_object_add (gf->guest, "minor_version",
                          json_object_new_int (gf->minor));
  CLEANUP_FREE char *host = guestfs_inspect_get_hostname (g, gf->root);
  fact (gf, "hostname", host);

  char **mps = guestfs_inspect_get_mountpoints (g, gf->root);
  json_object *m = json_object_new_object ();
  for (size_t i = 0; mps && mps[i]; i += 2)
    json_object_object_add (m, mps[i], json_object_new_string (mps[i + 1]));
  json_object_object_add (gf->guest, "mountpoints", m);
  strv_free (mps);

  bool have_windows_fixes = false;
  for (size_t i = 0; i < nr_fixes; i++)
    if (fixes[i].os == FIX_WINDOWS)
      have_windows_fixes = true;
  if (strcmp (gf->type, "windows") == 0 && !have_windows_fixes)
    return h2k_seterr ("Windows guests are not supported by this version "
                       "of guest-fix");
  if (strcmp (gf->type, "linux") != 0 && strcmp (gf->type, "windows") != 0)
    return h2k_seterr ("%s guests are not supported", gf->type);
  if (strcmp (gf->distro, "unknown") == 0)
    return h2k_seterr ("unknown %s distribution: guest-fix does not know "
                       "how to fix it safely", gf->type);
  return 0;
}

static int
by_length (const void *a, const void *b)
{
  const char *const *x = a, *const *y = b;
  size_t lx = strlen (x[0]), ly = strlen (y[0]);
  return lx < ly ? -1 : lx > ly;
}

/* The file systems the fixes write to (packages, configuration, the
 * initramfs, the boot loader): when one of them cannot be mounted, the
 * fixes would write into the directory it hides on the root file system,
 * and the guest would not see them.  That happens when a disk of the
 * guest is missing or the disks are given in another order than the
 * guest had them (its fstab names /dev/sdX). */
static bool
is_system_mountpoint (const char *mp)
{
  static const char *const dirs[] = { "/boot", "/usr", "/var", "/etc",
                                      NULL };
  for (size_t i = 0; dirs[i]; i++) {
    size_t len = strlen (dirs[i]);
    if (strncmp (mp, dirs[i], len) == 0
        && (mp[len] == '\0' || mp[len] == '/'))
      return true;
  }
  return false;
}

int
gf_mount (struct gf *gf)
{
  char **mps = guestfs_inspect_get_mountpoints (gf->g, gf->root);
  if (!mps)
    return h2k_seterr ("%s", gerr (gf));
  size_t n = strv_len (mps) / 2;
  /* Pairs (mountpoint, device), parents before children. */
  if (n > 1)
    qsort (mps, n, 2 * sizeof (char *), by_length);
  int r = 0;
  for (size_t i = 0; i < n; i++) {
    const char *mp = mps[2 * i], *dev = mps[2 * i + 1];
    int rr = gf->dry_run ? guestfs_mount_ro (gf->g, dev, mp)
                         : guestfs_mount (gf->g, dev, mp);
    if (rr == -1) {
      if (strcmp (mp, "/") == 0) {
        r = h2k_seterr ("%s: cannot mount the root file system: %s", dev,
                        gerr (gf));
        break;
      }
      if (is_system_mountpoint (mp)) {
        r = h2k_seterr ("%s: cannot mount %s: %s; give every disk of the "
                        "guest, in the order the guest had them", dev, mp,
                        gerr (gf));
        break;
      }
      gf_warn (gf, "%s: cannot mount on %s: %s", dev, mp, gerr (gf));
    }
  }
  strv_free (mps);
  return r;
}
