/* The table of fixes, in the order they run.
 *
 * The order matters: packages are removed before anything else changes
 * (their scripts may rewrite files), and the initramfs is rebuilt after
 * the files it copies (fstab, udev rules) are final. */
#include "util/h2k.h"
#include "guest-fix.h"

const struct fix fixes[] = {
  { "vmware-tools", FIX_LINUX,
    "remove VMware Tools packages, or mask their services",
    fix_vmware_tools },
  { "network", FIX_LINUX,
    "give the virtio NIC the name the network configuration uses; drop "
    "persistent-net rules and VMware MAC bindings",
    fix_network },
  { "block-devices", FIX_LINUX,
    "/dev/sdX and /dev/hdX in fstab, crypttab and resume settings become "
    "UUID= (or /dev/vdX)",
    fix_block_devices },
  { "bootloader", FIX_LINUX,
    "root= and resume= in grub, grub legacy and BLS entries, "
    "GRUB_DISABLE_LINUX_UUID, device.map, the EFI fallback loader",
    fix_bootloader },
  { "initramfs", FIX_LINUX,
    "add the virtio drivers to the initramfs configuration and rebuild "
    "it with dracut, update-initramfs or mkinitcpio",
    fix_initramfs },
  { "guest-agent", FIX_LINUX,
    "let qemu-guest-agent start if it is installed",
    fix_guest_agent },
  { "selinux-relabel", FIX_LINUX,
    "schedule a relabel when SELinux is enforcing or permissive",
    fix_selinux_relabel },
  { "windows-drivers", FIX_WINDOWS,
    "copy the VirtIO drivers from --virtio-win, make viostor/vioscsi "
    "boot-start services for the virtio PCI IDs, run pnputil at first logon",
    fix_windows_drivers },
  { "windows-vmware-tools", FIX_WINDOWS,
    "disable the VMware Tools services (Start=4)",
    fix_windows_vmware_tools },
};

const size_t nr_fixes = sizeof fixes / sizeof fixes[0];
