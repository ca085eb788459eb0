#!/usr/bin/env bash
# guest-fix on the VMware-like Debian guest that uses dracut (drivers=
# limited to the VMware storage drivers): the initramfs is rebuilt by
# dracut inside the guest, and the guest boots on virtio afterwards.
# (Before the fix, dracut waits for /dev/sda1 for minutes before it gives
# up, too long for the test suite: make-debian.sh checks instead that the
# initramfs it built holds no virtio_blk.)
. "$(dirname "$0")/functions.sh"
slow_test "a second guest build and boot"
. "$H2K_TOP/tests/guests/check.sh"
requires_fix_and_boot

img=$(guest_image debian-dracut)
disk=$tmp/guest.qcow2
convert_copy "$img" "$disk"
# A UEFI leftover to exercise the EFI fallback: an ESP layout with shim
# and GRUB under EFI/debian and no EFI/BOOT/BOOTX64.EFI, as a guest booted
# by a VMware NVRAM entry has it.
guestfish --format=qcow2 -a "$disk" -i <<'GF'
mkdir-p /boot/efi/EFI/debian
write /boot/efi/EFI/debian/shimx64.efi "phony shim"
write /boot/efi/EFI/debian/grubx64.efi "phony grub"
GF

ok "guest-fix exits 0" sh -c 'guest-fix "$1" > "$2"' _ "$disk" "$tmp/report.json"
r=$tmp/report.json
ok "report: status ok" jqt '.status == "ok"' "$r"
ok "report: the initramfs tool is dracut" jqt '.guest.initramfs_tool == "dracut"' "$r"
ok "report: dracut was run for the kernel" \
  jqt '.fixes[] | select(.name == "initramfs") | .status == "applied" and any(.changes[]; .action == "run" and (.detail | test("dracut -f /boot/initrd.img-")))' "$r"
ok "report: the dracut configuration was written" \
  jqt '.fixes[] | select(.name == "initramfs") | any(.changes[]; .file == "/etc/dracut.conf.d/90-h2k-virtio.conf")' "$r"

kver=$(jq -r '.guest.kernels[0]' "$r")
ok "every claim of the report read back with libguestfs" \
  check_claims "$r" "$disk" "/boot/initrd.img-$kver"
ok "report: the EFI fallback loader is shim, with GRUB beside it" \
  jqt '[.fixes[] | select(.name == "bootloader") | .changes[] | select(.action == "create") | .file] == ["/boot/efi/EFI/BOOT/BOOTX64.EFI", "/boot/efi/EFI/BOOT/grubx64.efi"]' "$r"
ok "readback: BOOTX64.EFI is the shim" grep -qx 'phony shim' "$(readback_path /boot/efi/EFI/BOOT/BOOTX64.EFI)"
ok "readback: the dracut configuration adds virtio_blk" \
  grep -q 'add_drivers+=.*virtio_blk' "$(readback_path /etc/dracut.conf.d/90-h2k-virtio.conf)"
ok "readback: the initramfs holds virtio_blk" \
  sh -c 'lsinitramfs "$1" | grep -q /virtio_blk.ko' _ "$(readback_path "/boot/initrd.img-$kver")"

if boots_enabled; then
  if out=$(boot_guest --bus virtio --nic virtio --format qcow2 "$disk" "$tmp/after.log"); then
    pass "after: boots on q35 with virtio-blk and virtio-net: $out"
    marker_has "$out" "root=/dev/vda1 " "after: root on /dev/vda1"
    marker_has "$out" "inet=ens192:10.0.2." "after: the NIC is up as ens192 with an address"
  else
    fail "after: does not boot from virtio-blk"
  fi
else
  skip "boot after the fix (only in the normal run)"
fi
