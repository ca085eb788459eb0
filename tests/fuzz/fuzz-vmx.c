/* A VMX file through virt-define's reader (cmd/virt-define/vmx.c, program
 * code: this target is built with it), and the domain XML written from
 * what it read, as "virt-define x.vmx" does. */
#include "fuzz.h"
#include "virt-define.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vd_source *src = vd_read_vmx ((const char *) data, size, "fuzz.vmx");
  vd_source_free (src);
  return 0;
}
