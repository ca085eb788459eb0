/* Fix "bootloader": the kernel command lines (root=, resume=) in every
 * boot loader configuration the guest has, GRUB's device map, the setting
 * that made update-grub write device names, and the EFI fallback loader.
 *
 * The configurations are edited rather than regenerated: the edit is
 * exactly the change needed and does not depend on grub-mkconfig being
 * able to probe the appliance's devices. */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

static char *
params_line (struct gf *gf, const char *line, void *data)
{
  const char *p = line + strspn (line, " \t");
  if (*p == '#' && strncmp (p, "#GRUB", 5) != 0)
    return NULL;
  return devmap_params (gf, line);
}

/* GRUB_DISABLE_LINUX_UUID=true is why update-grub wrote root=/dev/sda1;
 * with it, the next kernel update would undo the fix. */
static char *
default_grub_line (struct gf *gf, const char *line, void *data)
{
  if (strncmp (line, "GRUB_DISABLE_LINUX_UUID=", 24) == 0) {
    const char *v = line + 24;
    if (strcmp (v, "true") == 0 || strcmp (v, "\"true\"") == 0) {
      char *s = strdup ("GRUB_DISABLE_LINUX_UUID=false");
      if (!s)
        h2k_die ("out of memory");
      return s;
    }
    return NULL;
  }
  return devmap_params (gf, line);
}

/* device.map names whole disks: no UUID can stand in, so virtio names. */
static char *
device_map_line (struct gf *gf, const char *line, void *data)
{
  const char *p = line + strspn (line, " \t");
  if (*p != '(')
    return NULL;
  p += strcspn (p, " \t");
  p += strspn (p, " \t");
  size_t len = strcspn (p, " \t");
  CLEANUP_FREE char *name = strndup (p, len);
  CLEANUP_FREE char *repl = name ? devmap_virtio (gf, name) : NULL;
  if (!repl)
    return NULL;
  char *s;
  if (asprintf (&s, "%.*s%s%s", (int) (p - line), line, repl, p + len) == -1)
    h2k_die ("out of memory");
  return s;
}

/* grubenv is a block of exactly 1024 bytes padded with '#'; an edit that
 * changes a line's length must keep the block's size. */
static void
fix_grubenv (struct gf *gf, struct fixrun *fx, const char *path)
{
  size_t size;
  CLEANUP_FREE char *env = gfile_read (gf, path, &size);
  if (!env || size != 1024)
    return;
  /* The variables end at the padding. */
  char *pad = env + size;
  while (pad > env && pad[-1] == '#')
    pad--;
  *pad = '\0';
  CLEANUP_FREE char *edited = devmap_params (gf, env);
  if (!edited)
    return;
  size_t len = strlen (edited);
  if (len > 1024) {
    gf_warn (gf, "%s: no room for the edited variables, left alone", path);
    return;
  }
  char block[1024];
  memcpy (block, edited, len);
  memset (block + len, '#', 1024 - len);
  gfile_write (gf, fx, path, block, sizeof block, "edit",
               "kernel options: device names replaced");
}

static void
efi_fallback (struct gf *gf, struct fixrun *fx)
{
  if (!gdir_exists (gf, "/boot/efi/EFI"))
    return;
  CLEANUP_FREE char *have = guestfs_case_sensitive_path (
    gf->g, "/boot/efi/EFI/BOOT/BOOTX64.EFI");
  if (have && gfile_exists (gf, have))
    return;

  /* Prefer shim: it is what the NVRAM entry pointed at on Secure Boot
   * installations; it loads grubx64.efi from its own directory. */
  static const char *const loaders[] = { "shimx64.efi", "grubx64.efi", NULL };
  char **dirs = gglob (gf, "/boot/efi/EFI/*/");
  const char *src_dir = NULL, *loader = NULL;
  for (size_t l = 0; loaders[l] && !src_dir; l++)
    for (size_t i = 0; dirs[i]; i++) {
      CLEANUP_FREE char *p = NULL;
      if (strcasestr (dirs[i], "/EFI/BOOT/"))
        continue;
      if (asprintf (&p, "%s%s", dirs[i], loaders[l]) == -1)
        h2k_die ("out of memory");
      if (gfile_exists (gf, p)) {
        src_dir = dirs[i];
        loader = loaders[l];
        break;
      }
    }
  if (!src_dir) {
    gf_warn (gf, "/boot/efi/EFI: no shimx64.efi or grubx64.efi to install "
             "as the fallback loader");
    strv_free (dirs);
    return;
  }
  if (!gf->dry_run && guestfs_mkdir_p (gf->g, "/boot/efi/EFI/BOOT") == -1) {
    fx_fail (fx, "/boot/efi/EFI/BOOT: %s", gerr (gf));
    strv_free (dirs);
    return;
  }
  struct { const char *from, *to; } copies[] = {
    { loader, "BOOTX64.EFI" },
    { "grubx64.efi", "grubx64.efi" },
    { "mmx64.efi", "mmx64.efi" },
  };
  size_t ncopies = strcmp (loader, "shimx64.efi") == 0 ? 3 : 1;
  for (size_t i = 0; i < ncopies; i++) {
    CLEANUP_FREE char *from = NULL, *to = NULL;
    if (asprintf (&from, "%s%s", src_dir, copies[i].from) == -1
        || asprintf (&to, "/boot/efi/EFI/BOOT/%s", copies[i].to) == -1)
      h2k_die ("out of memory");
    if (i > 0 && !gfile_exists (gf, from))
      continue;
    if (!gf->dry_run && guestfs_cp (gf->g, from, to) == -1) {
      fx_fail (fx, "%s: %s", to, gerr (gf));
      break;
    }
    fx_change (fx, to, "create", "copy of %s (the firmware's fallback path: "
               "the VMware NVRAM boot entry is not carried over)", from);
  }
  strv_free (dirs);
}

void
fix_bootloader (struct gf *gf, struct fixrun *fx)
{
  static const char *const cmdline_globs[] = {
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/efi/EFI/*/grub.cfg",
    "/boot/grub/menu.lst", "/boot/grub/grub.conf",
    "/boot/loader/entries/*.conf", "/etc/kernel/cmdline",
    "/etc/sysconfig/bootloader", NULL
  };
  bool any = false;

  for (size_t i = 0; cmdline_globs[i]; i++) {
    char **files = gglob (gf, cmdline_globs[i]);
    for (size_t j = 0; files[j]; j++)
      if (gfile_exists (gf, files[j])) {
        any = true;
        gfile_edit_lines (gf, fx, files[j], params_line, NULL);
      }
    strv_free (files);
  }
  if (gfile_exists (gf, "/etc/default/grub"))
    gfile_edit_lines (gf, fx, "/etc/default/grub", default_grub_line, NULL);
  static const char *const maps[] = {
    "/boot/grub/device.map", "/boot/grub2/device.map", NULL
  };
  for (size_t i = 0; maps[i]; i++)
    if (gfile_exists (gf, maps[i]))
      gfile_edit_lines (gf, fx, maps[i], device_map_line, NULL);
  static const char *const envs[] = {
    "/boot/grub2/grubenv", "/boot/grub/grubenv", NULL
  };
  for (size_t i = 0; envs[i]; i++)
    if (gfile_exists (gf, envs[i]))
      fix_grubenv (gf, fx, envs[i]);
  efi_fallback (gf, fx);

  if (!any)
    gf_warn (gf, "no boot loader configuration found (grub, grub legacy, "
             "BLS): the kernel command line was not checked");
}
