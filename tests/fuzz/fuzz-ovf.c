/* An OVF descriptor: lib/ovf's parser and disk list (what img-convert
 * reads from an OVA), then virt-define's reader of the whole machine
 * (cmd/virt-define/ovf.c, program code: this target is built with it). */
#include "fuzz.h"
#include "ovf/ovf.h"
#include "virt-define.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct h2k_ovf o;
  if (h2k_ovf_parse ((const char *) data, size, "fuzz.ovf", &o) == 0) {
    h2k_ovf_disk_vector disks = { 0 };
    if (h2k_ovf_disks (&o, &disks) == 0)
      h2k_ovf_disks_free (&disks);
    h2k_ovf_free (&o);
  }
  struct vd_source *src = vd_read_ovf ((const char *) data, size, "fuzz.ovf");
  vd_source_free (src);
  return 0;
}
