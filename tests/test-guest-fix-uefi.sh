#!/usr/bin/env bash
# guest-fix on a VMware-like Debian guest that boots by UEFI: GPT, the ESP
# on /dev/sda1 mounted on /boot/efi, root on /dev/sda2, and GRUB only in
# \EFI\debian\grubx64.efi, which VMware's firmware started through its
# NVRAM boot entry.  KVM starts with a fresh NVRAM (Debian's OVMF and a
# copy of its empty variable store), so before the fix the firmware finds
# no loader on the disk; guest-fix installs the fallback loader
# \EFI\BOOT\BOOTX64.EFI (and the virtio fixes), and the guest then boots
# on q35 with virtio-blk and virtio-net under OVMF.
. "$(dirname "$0")/functions.sh"
slow_test "a UEFI guest build and boot under OVMF"
. "$H2K_TOP/tests/guests/check.sh"
requires_fix_and_boot
ovmf_present || skip_all "Debian's ovmf package (OVMF_CODE_4M.fd, OVMF_VARS_4M.fd) is not installed"

img=$(guest_image debian-uefi)

boot_fails_before 'BdsDxe: failed to load Boot[0-9A-F]* "UEFI Misc Device" .*Not Found' \
  "before: OVMF finds no loader on the disk (no NVRAM entry, no fallback path)" \
  --firmware uefi --bus virtio "$img"

disk=$tmp/guest.qcow2
convert_copy "$img" "$disk"

ok "guest-fix exits 0" sh -c 'guest-fix "$1" > "$2"' _ "$disk" "$tmp/report.json"
r=$tmp/report.json
report_all_applied "$r"
ok "report: root on sda2, the ESP on /boot/efi" \
  jqt '.guest.mountpoints == {"/": "/dev/sda2", "/boot/efi": "/dev/sda1"}' "$r"
ok "report: BOOTX64.EFI made from EFI/debian/grubx64.efi" \
  jqt '[.fixes[] | select(.name == "bootloader") | .changes[] | select(.file == "/boot/efi/EFI/BOOT/BOOTX64.EFI") | .action + " " + .detail | startswith("create copy of /boot/efi/EFI/debian/grubx64.efi")] == [true]' "$r"
is "report: fstab's root and ESP lines changed" \
  "$(jq -r '.fixes[] | select(.name == "block-devices") | .changes[] | select(.file == "/etc/fstab") | .lines[].from | split(" ")[0]' "$r" | tr '\n' ' ')" \
  "/dev/sda2 /dev/sda1 "
ok "qemu-img check of the fixed disk" qemu-img check -q "$disk"

kver=$(jq -r '.guest.kernels[0]' "$r")
ok "every claim of the report read back with libguestfs" \
  check_claims "$r" "$disk" /etc/fstab "/boot/initrd.img-$kver" \
    /boot/efi/EFI/debian/grubx64.efi /boot/grub/grub.cfg
fstab=$(readback_path /etc/fstab)
ok "readback: fstab mounts / by UUID" grep -Eq '^UUID=[0-9a-f-]+ +/ ' "$fstab"
ok "readback: fstab mounts the ESP by its FAT serial" grep -Eq '^UUID=[0-9A-F]{4}-[0-9A-F]{4} +/boot/efi ' "$fstab"
ok "readback: BOOTX64.EFI is GRUB's loader, byte for byte" \
  cmp "$(readback_path /boot/efi/EFI/BOOT/BOOTX64.EFI)" "$(readback_path /boot/efi/EFI/debian/grubx64.efi)"
ok "readback: grub.cfg boots root by UUID" \
  grep -Eq 'linux .* root=UUID=[0-9a-f-]+ ' "$(readback_path /boot/grub/grub.cfg)"
ok "readback: the initramfs holds virtio_blk and virtio_net" \
  sh -c 'lsinitramfs "$1" > "$1.list" && grep -q /virtio_blk.ko "$1.list" && grep -q /virtio_net.ko "$1.list"' \
  _ "$(readback_path "/boot/initrd.img-$kver")"

if boots_enabled; then
  if out=$(boot_guest --firmware uefi --bus virtio --nic virtio --format qcow2 "$disk" "$tmp/after.log"); then
    pass "after: boots under OVMF on q35 with virtio-blk and virtio-net: $out"
    marker_has "$out" "root=/dev/vda2 " "after: root on /dev/vda2"
    marker_has "$out" "mounts=*/boot/efi:/dev/vda1" "after: the ESP mounted from /dev/vda1"
    marker_fixed "$out"
  else
    fail "after: does not boot under OVMF"
  fi
else
  skip "boot after the fix (only in the normal run)"
fi
