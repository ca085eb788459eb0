/* Fix "selinux-relabel": files written by guest-fix carry no SELinux
 * labels, so an enforcing guest gets a full relabel at its next boot. */
#include <string.h>

#include "util/h2k.h"
#include "guest-fix.h"

void
fix_selinux_relabel (struct gf *gf, struct fixrun *fx)
{
  if (!gfile_exists (gf, "/etc/selinux/config")) {
    fx_skip (fx, "SELinux is not configured");
    return;
  }
  CLEANUP_FREE char *conf = gfile_read (gf, "/etc/selinux/config", NULL);
  if (!conf) {
    fx_fail (fx, "/etc/selinux/config: %s", gerr (gf));
    return;
  }
  bool active = false;
  for (char *l = strtok (conf, "\n"); l; l = strtok (NULL, "\n"))
    if (strncmp (l, "SELINUX=", 8) == 0)
      active = strncmp (l + 8, "enforcing", 9) == 0
        || strncmp (l + 8, "permissive", 10) == 0;
  if (!active) {
    fx_skip (fx, "SELinux is disabled");
    return;
  }
  gfile_write (gf, fx, "/.autorelabel", "", 0, "create",
               "relabel at the next boot");
}
