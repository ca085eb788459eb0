/* Every disk-format driver, in probe order.  Raw comes last: it accepts
 * anything, so it only wins when no format recognises the file. */
#include <stddef.h>

#include "bdev.h"

extern const struct h2k_bdev_ops h2k_raw_ops;
extern const struct h2k_bdev_ops h2k_vhd_ops;
extern const struct h2k_bdev_ops h2k_qcow2_ops;
extern const struct h2k_bdev_ops h2k_vmdk_ops;
extern const struct h2k_bdev_ops h2k_vhdx_ops;

const struct h2k_bdev_ops *const h2k_bdev_drivers[] = {
  &h2k_vhd_ops,
  &h2k_qcow2_ops,
  &h2k_vmdk_ops,
  &h2k_vhdx_ops,
  &h2k_raw_ops,
  NULL,
};
