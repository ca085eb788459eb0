/* VMDK descriptor text, standalone or embedded, through
 * h2k_vmdk_desc_parse (what the vmdk driver and the OVA reader call). */
#include "fuzz.h"
#include "disk/vmdk/vmdk.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct h2k_vmdk_desc d;
  memset (&d, 0, sizeof d);
  if (h2k_vmdk_desc_parse ((const char *) data, size, &d) == 0)
    h2k_vmdk_desc_free (&d);
  return 0;
}
