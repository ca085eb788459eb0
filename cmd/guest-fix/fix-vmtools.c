/* Fix "vmware-tools": VMware Tools (open-vm-tools, or the tools from
 * VMware's own installer) removed with the guest's package manager, or,
 * where that fails or the tools were not packaged, their services
 * disabled.  Fix "guest-agent": qemu-guest-agent, if installed, allowed to
 * start. */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

static const char *const tool_packages[] = {
  "open-vm-tools-desktop", "open-vm-tools-sdmp", "open-vm-tools-containerinfo",
  "open-vm-tools", NULL
};

static const char *const tool_units[] = {
  "open-vm-tools.service", "vmtoolsd.service", "vgauth.service",
  "vgauthd.service", "vmware-tools.service", "vmware-tools-thinprint.service",
  "run-vmblock\\x2dfuse.mount", NULL
};

/* Installed packages among tool_packages, for dpkg or rpm guests. */
static char **
installed_packages (struct gf *gf)
{
  char **out = calloc (sizeof tool_packages / sizeof tool_packages[0],
                       sizeof *out);
  size_t n = 0;
  if (!out)
    h2k_die ("out of memory");
  bool deb = gf->pkgfmt && strcmp (gf->pkgfmt, "deb") == 0;
  bool rpm = gf->pkgfmt && strcmp (gf->pkgfmt, "rpm") == 0;
  for (size_t i = 0; tool_packages[i]; i++) {
    bool have = false;
    if (deb) {
      CLEANUP_FREE char *p = NULL, *a = NULL;
      if (asprintf (&p, "/var/lib/dpkg/info/%s.list", tool_packages[i]) == -1
          || asprintf (&a, "/var/lib/dpkg/info/%s:amd64.list",
                       tool_packages[i]) == -1)
        h2k_die ("out of memory");
      have = gfile_exists (gf, p) || gfile_exists (gf, a);
    }
    else if (rpm) {
      const char *argv[] = { "rpm", "-q", tool_packages[i], NULL };
      CLEANUP_FREE char *o = grun (gf, argv);
      have = o != NULL;
    }
    if (have)
      out[n++] = strdup (tool_packages[i]);
  }
  return out;
}

static bool
remove_packages (struct gf *gf, struct fixrun *fx, char **pkgs)
{
  const char *argv[16];
  size_t a = 0;
  bool deb = strcmp (gf->pkgfmt, "deb") == 0;
  if (deb) {
    argv[a++] = "dpkg";
    argv[a++] = "--purge";
  }
  else {
    argv[a++] = "rpm";
    argv[a++] = "-e";
  }
  for (size_t i = 0; pkgs[i] && a < 15; i++)
    argv[a++] = pkgs[i];
  argv[a] = NULL;

  if (!gf->dry_run) {
    CLEANUP_FREE char *out = grun (gf, argv);
    if (!out) {
      gf_warn (gf, "vmware-tools: %s failed, disabling the services "
               "instead: %s", argv[0], gerr (gf));
      return false;
    }
  }
  for (size_t i = 0; pkgs[i]; i++)
    fx_change (fx, NULL, "remove-package", "%s", pkgs[i]);
  return true;
}

static void
disable_units (struct gf *gf, struct fixrun *fx)
{
  static const char *const dirs[] = {
    "/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system",
    NULL
  };
  for (size_t u = 0; tool_units[u]; u++) {
    bool present = false;
    for (size_t d = 0; dirs[d]; d++) {
      CLEANUP_FREE char *p = NULL;
      if (asprintf (&p, "%s/%s", dirs[d], tool_units[u]) == -1)
        h2k_die ("out of memory");
      if (gfile_exists (gf, p))
        present = true;
    }
    if (!present)
      continue;
    CLEANUP_FREE char *mask = NULL;
    if (asprintf (&mask, "/etc/systemd/system/%s", tool_units[u]) == -1)
      h2k_die ("out of memory");
    if (!gf->dry_run) {
      if (guestfs_exists (gf->g, mask) > 0 || guestfs_is_symlink (gf->g, mask) > 0)
        guestfs_rm_f (gf->g, mask);
      if (guestfs_ln_sf (gf->g, "/dev/null", mask) == -1) {
        fx_fail (fx, "%s: %s", mask, gerr (gf));
        return;
      }
    }
    fx_change (fx, mask, "mask", "%s disabled", tool_units[u]);
  }
  /* SysV start links of VMware's own installer. */
  char **links = gglob (gf, "/etc/rc[0-6S].d/S*vmware-tools*");
  for (size_t i = 0; links[i]; i++) {
    if (!gf->dry_run && guestfs_rm (gf->g, links[i]) == -1) {
      fx_fail (fx, "%s: %s", links[i], gerr (gf));
      break;
    }
    fx_change (fx, links[i], "remove", "SysV start link");
  }
  strv_free (links);
}

void
fix_vmware_tools (struct gf *gf, struct fixrun *fx)
{
  char **pkgs = installed_packages (gf);
  bool unpackaged = gdir_exists (gf, "/etc/vmware-tools")
    || gfile_exists (gf, "/usr/bin/vmware-uninstall-tools.pl");

  if (!pkgs[0] && !unpackaged) {
    fx_skip (fx, "VMware Tools are not installed");
    strv_free (pkgs);
    return;
  }
  json_object *found = json_object_new_array ();
  for (size_t i = 0; pkgs[i]; i++)
    json_object_array_add (found, json_object_new_string (pkgs[i]));
  fx_note (fx, "packages", found);

  bool removed = pkgs[0] && remove_packages (gf, fx, pkgs);
  /* Whatever is left (a failed removal, VMware's installer) is kept from
   * starting. */
  if (!removed || unpackaged)
    disable_units (gf, fx);
  strv_free (pkgs);
}

void
fix_guest_agent (struct gf *gf, struct fixrun *fx)
{
  static const char *const ga[] = {
    "/usr/sbin/qemu-ga", "/usr/bin/qemu-ga", NULL
  };
  if (!gfirst_file (gf, ga)) {
    fx_skip (fx, "qemu-guest-agent is not installed (it cannot be installed "
             "offline; install it in the guest for virsh's agent commands)");
    return;
  }
  /* The unit is started by udev when the agent's virtio-serial port
   * appears; the only thing that can stop it is a mask. */
  const char *mask = "/etc/systemd/system/qemu-guest-agent.service";
  CLEANUP_FREE char *target = guestfs_is_symlink (gf->g, mask) > 0
    ? guestfs_readlink (gf->g, mask) : NULL;
  if (target && strcmp (target, "/dev/null") == 0) {
    if (!gf->dry_run && guestfs_rm (gf->g, mask) == -1) {
      fx_fail (fx, "%s: %s", mask, gerr (gf));
      return;
    }
    fx_change (fx, mask, "unmask", "qemu-guest-agent.service");
  }
  else
    fx_skip (fx, "qemu-guest-agent is installed and starts when the "
             "machine has its channel: nothing to change");
}
