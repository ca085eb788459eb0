/* Fix "initramfs": the virtio drivers put into the initramfs of every
 * installed kernel, with the guest's own tool run inside the guest, and
 * recorded in the tool's configuration so that the initramfs of a future
 * kernel holds them too. */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

static const char *const virtio_modules[] = {
  "virtio_pci", "virtio_blk", "virtio_scsi", "virtio_net", "virtio_console",
  NULL
};

/* The guest's kernels: versions under /lib/modules that have a kernel
 * image in /boot (a directory left by a removed kernel has none). */
static char **
find_kernels (struct gf *gf)
{
  char **dirs = gglob (gf, "/lib/modules/*/");
  char **out = calloc (strv_len (dirs) + 1, sizeof *out);
  size_t n = 0;
  if (!out)
    h2k_die ("out of memory");
  for (size_t i = 0; dirs[i]; i++) {
    char *v = dirs[i] + strlen ("/lib/modules/");
    v[strcspn (v, "/")] = '\0';
    CLEANUP_FREE char *k1 = NULL, *k2 = NULL;
    if (asprintf (&k1, "/boot/vmlinuz-%s", v) == -1
        || asprintf (&k2, "/lib/modules/%s/vmlinuz", v) == -1)
      h2k_die ("out of memory");
    if (gfile_exists (gf, k1) || gfile_exists (gf, k2))
      out[n++] = strdup (v);
  }
  strv_free (dirs);
  return out;
}

/* Whether KVER can drive a virtio disk at all: the module is there or
 * built in. */
static bool
kernel_has_virtio_blk (struct gf *gf, const char *kver)
{
  CLEANUP_FREE char *pat = NULL, *builtin = NULL;
  if (asprintf (&pat, "/lib/modules/%s/kernel/drivers/block/virtio_blk.ko*",
                kver) == -1
      || asprintf (&builtin, "/lib/modules/%s/modules.builtin", kver) == -1)
    h2k_die ("out of memory");
  char **m = gglob (gf, pat);
  bool found = m[0] != NULL;
  strv_free (m);
  if (!found && gfile_exists (gf, builtin)) {
    CLEANUP_FREE char *b = gfile_read (gf, builtin, NULL);
    found = b && strstr (b, "/virtio_blk.ko") != NULL;
  }
  return found;
}

static int
run_tool (struct gf *gf, struct fixrun *fx, const char *const *argv,
          const char *what)
{
  if (!gf->dry_run) {
    CLEANUP_FREE char *out = grun (gf, argv);
    if (!out) {
      fx_fail (fx, "%s: %s", argv[0], gerr (gf));
      return -1;
    }
  }
  CLEANUP_FREE char *cmd = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&cmd, &len);
  for (size_t i = 0; argv[i]; i++)
    fprintf (fp, "%s%s", i ? " " : "", argv[i]);
  fclose (fp);
  fx_change (fx, what, "run", "%s", cmd);
  return 0;
}

/* Append to FILE each module missing from it, one per line. */
static int
add_module_lines (struct gf *gf, struct fixrun *fx, const char *file)
{
  size_t size = 0;
  CLEANUP_FREE char *text = gfile_exists (gf, file)
    ? gfile_read (gf, file, &size) : strdup ("");
  if (!text) {
    fx_fail (fx, "%s: %s", file, gerr (gf));
    return -1;
  }
  CLEANUP_FREE char *out = NULL;
  size_t outlen = 0;
  FILE *fp = open_memstream (&out, &outlen);
  fputs (text, fp);
  if (size > 0 && text[size - 1] != '\n')
    fputc ('\n', fp);
  int added = 0;
  for (size_t i = 0; virtio_modules[i]; i++) {
    /* A line that is exactly the module name. */
    bool have = false;
    size_t ml = strlen (virtio_modules[i]);
    for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : p)
      if (strncmp (p, virtio_modules[i], ml) == 0
          && (p[ml] == '\n' || p[ml] == '\0' || p[ml] == ' '))
        have = true;
    if (!have) {
      if (added == 0)
        fputs ("# Added by h2k guest-fix: the drivers of KVM's virtio "
               "devices.\n", fp);
      fprintf (fp, "%s\n", virtio_modules[i]);
      added++;
    }
  }
  fclose (fp);
  if (added == 0)
    return 0;
  return gfile_write (gf, fx, file, out, outlen, "edit",
                      "virtio modules added");
}

static void
initramfs_tools (struct gf *gf, struct fixrun *fx, const char *tool)
{
  if (add_module_lines (gf, fx, "/etc/initramfs-tools/modules") == -1)
    return;
  const char *argv[] = { tool, "-u", "-k", "all", NULL };
  run_tool (gf, fx, argv, "/boot");
}

static void
dracut (struct gf *gf, struct fixrun *fx, const char *tool, char **kernels)
{
  static const char conf[] =
    "# Written by h2k guest-fix: the drivers of KVM's virtio devices,\n"
    "# so that every initramfs can find its disks on KVM.\n"
    "add_drivers+=\" virtio_pci virtio_blk virtio_scsi virtio_net "
    "virtio_console \"\n";
  const char *path = "/etc/dracut.conf.d/90-h2k-virtio.conf";

  if (!gf->dry_run && guestfs_mkdir_p (gf->g, "/etc/dracut.conf.d") == -1) {
    fx_fail (fx, "/etc/dracut.conf.d: %s", gerr (gf));
    return;
  }
  if (gfile_write (gf, fx, path, conf, sizeof conf - 1, "create",
                   "virtio drivers for every initramfs") == -1)
    return;
  for (size_t i = 0; kernels[i]; i++) {
    /* Keep the file name the distribution uses. */
    CLEANUP_FREE char *deb = NULL, *rh = NULL;
    if (asprintf (&deb, "/boot/initrd.img-%s", kernels[i]) == -1
        || asprintf (&rh, "/boot/initramfs-%s.img", kernels[i]) == -1)
      h2k_die ("out of memory");
    const char *img = gfile_exists (gf, deb) ? deb
      : gfile_exists (gf, rh) ? rh
      : strcmp (gf->pkgfmt ? gf->pkgfmt : "", "deb") == 0 ? deb : rh;
    const char *argv[] = { tool, "-f", img, kernels[i], NULL };
    if (run_tool (gf, fx, argv, img) == -1)
      return;
  }
}

static char *
mkinitcpio_line (struct gf *gf, const char *line, void *data)
{
  if (strncmp (line, "MODULES=(", 9) != 0)
    return NULL;
  const char *close = strchr (line + 9, ')');
  if (!close)
    return NULL;
  CLEANUP_FREE char *inside = strndup (line + 9, close - (line + 9));
  CLEANUP_FREE char *add = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&add, &len);
  for (size_t i = 0; virtio_modules[i]; i++)
    if (!strstr (inside, virtio_modules[i]))
      fprintf (fp, " %s", virtio_modules[i]);
  fclose (fp);
  if (len == 0)
    return NULL;
  char *s;
  if (asprintf (&s, "MODULES=(%s%s%s", inside, *inside ? add : add + 1,
                close) == -1)
    h2k_die ("out of memory");
  return s;
}

static void
mkinitcpio (struct gf *gf, struct fixrun *fx, const char *tool)
{
  if (gfile_edit_lines (gf, fx, "/etc/mkinitcpio.conf", mkinitcpio_line,
                        NULL) == -1)
    return;
  const char *argv[] = { tool, "-P", NULL };
  run_tool (gf, fx, argv, "/boot");
}

void
fix_initramfs (struct gf *gf, struct fixrun *fx)
{
  char **kernels = find_kernels (gf);
  json_object *ks = json_object_new_array ();
  for (size_t i = 0; kernels[i]; i++)
    json_object_array_add (ks, json_object_new_string (kernels[i]));
  json_object_object_add (gf->guest, "kernels", ks);

  if (!kernels[0]) {
    fx_skip (fx, "no kernel found in /boot");
    strv_free (kernels);
    return;
  }
  for (size_t i = 0; kernels[i]; i++)
    if (!kernel_has_virtio_blk (gf, kernels[i]))
      gf_warn (gf, "kernel %s has no virtio_blk driver: it cannot boot "
               "from a virtio disk", kernels[i]);

  static const char *const upd[] = {
    "/usr/sbin/update-initramfs", "/sbin/update-initramfs", NULL
  };
  static const char *const drc[] = {
    "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut", NULL
  };
  static const char *const mkc[] = {
    "/usr/bin/mkinitcpio", "/usr/sbin/mkinitcpio", NULL
  };
  const char *tool;
  if ((tool = gfirst_file (gf, drc)) != NULL) {
    json_object_object_add (gf->guest, "initramfs_tool",
                            json_object_new_string ("dracut"));
    dracut (gf, fx, tool, kernels);
  }
  else if ((tool = gfirst_file (gf, upd)) != NULL) {
    json_object_object_add (gf->guest, "initramfs_tool",
                            json_object_new_string ("initramfs-tools"));
    initramfs_tools (gf, fx, tool);
  }
  else if ((tool = gfirst_file (gf, mkc)) != NULL) {
    json_object_object_add (gf->guest, "initramfs_tool",
                            json_object_new_string ("mkinitcpio"));
    mkinitcpio (gf, fx, tool);
  }
  else
    fx_fail (fx, "no initramfs tool found (dracut, update-initramfs, "
             "mkinitcpio)");
  strv_free (kernels);
}
