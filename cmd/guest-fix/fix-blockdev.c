/* Fix "block-devices": /etc/fstab, /etc/crypttab and the resume device
 * name VMware-era device names (/dev/sdX, /dev/hdX); they become UUID=
 * (or the virtio name where there is no UUID).  LVM and md names are left
 * as they are: they do not depend on the controller. */
#include <stdlib.h>
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

/* Replace field number FIELD (0-based, whitespace separated) of LINE. */
static char *
rewrite_field (struct gf *gf, const char *line, int field)
{
  const char *p = line + strspn (line, " \t");
  if (*p == '#' || *p == '\0')
    return NULL;
  for (int i = 0; i < field; i++) {
    p += strcspn (p, " \t");
    p += strspn (p, " \t");
    if (*p == '\0')
      return NULL;
  }
  size_t len = strcspn (p, " \t");
  CLEANUP_FREE char *name = strndup (p, len);
  if (!name)
    h2k_die ("out of memory");
  CLEANUP_FREE char *repl = devmap_stable (gf, name);
  if (!repl)
    return NULL;
  char *s;
  if (asprintf (&s, "%.*s%s%s", (int) (p - line), line, repl, p + len) == -1)
    h2k_die ("out of memory");
  return s;
}

static char *
fstab_line (struct gf *gf, const char *line, void *data)
{
  return rewrite_field (gf, line, 0);
}

static char *
crypttab_line (struct gf *gf, const char *line, void *data)
{
  return rewrite_field (gf, line, 1);
}

static char *
params_line (struct gf *gf, const char *line, void *data)
{
  const char *p = line + strspn (line, " \t");
  if (*p == '#')
    return NULL;
  return devmap_params (gf, line);
}

void
fix_block_devices (struct gf *gf, struct fixrun *fx)
{
  static const char *const param_files[] = {
    "/etc/initramfs-tools/conf.d/resume",       /* RESUME=/dev/sda5 */
    "/etc/default/grub.d/resume.cfg",
    NULL
  };

  if (gfile_exists (gf, "/etc/fstab"))
    gfile_edit_lines (gf, fx, "/etc/fstab", fstab_line, NULL);
  else
    gf_warn (gf, "/etc/fstab: not found");
  if (gfile_exists (gf, "/etc/crypttab"))
    gfile_edit_lines (gf, fx, "/etc/crypttab", crypttab_line, NULL);
  for (size_t i = 0; param_files[i]; i++)
    if (gfile_exists (gf, param_files[i]))
      gfile_edit_lines (gf, fx, param_files[i], params_line, NULL);
}

