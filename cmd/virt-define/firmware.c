/* The UEFI firmware for a domain: Debian's ovmf package.
 *
 * The 4 MiB builds are preferred (the 2 MiB ones cannot hold the
 * variables a secure-boot machine needs); the secure-boot variant pairs
 * the SMM-enabled code with the template that has Microsoft's keys
 * enrolled, so Windows and shim-signed Linux boot as they did on VMware
 * with secure boot on.  $VIRT_DEFINE_OVMF_DIR replaces /usr/share/OVMF
 * (other distributions, tests).
 */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/h2k.h"
#include "virt-define.h"

static const struct {
  bool secure;
  const char *code, *vars;
} candidates[] = {
  { true, "OVMF_CODE_4M.secboot.fd", "OVMF_VARS_4M.ms.fd" },
  { true, "OVMF_CODE.secboot.fd", "OVMF_VARS.ms.fd" },
  { false, "OVMF_CODE_4M.fd", "OVMF_VARS_4M.fd" },
  { false, "OVMF_CODE.fd", "OVMF_VARS.fd" },
};

void
vd_find_ovmf (bool secure_boot, struct vd_ovmf *out)
{
  const char *dir = getenv ("VIRT_DEFINE_OVMF_DIR");
  if (dir == NULL || *dir == '\0')
    dir = "/usr/share/OVMF";

  int first = -1;
  for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
    if (candidates[i].secure != secure_boot)
      continue;
    if (first < 0)
      first = (int) i;
    snprintf (out->code, sizeof out->code, "%s/%s", dir, candidates[i].code);
    snprintf (out->vars, sizeof out->vars, "%s/%s", dir, candidates[i].vars);
    if (access (out->code, R_OK) == 0 && access (out->vars, R_OK) == 0) {
      out->found = true;
      return;
    }
  }
  /* Nothing installed: name the preferred files, which is what a host
   * with the ovmf package installed will have. */
  snprintf (out->code, sizeof out->code, "%s/%s", dir, candidates[first].code);
  snprintf (out->vars, sizeof out->vars, "%s/%s", dir, candidates[first].vars);
  out->found = false;
}
