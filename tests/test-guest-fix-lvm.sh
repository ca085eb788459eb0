#!/usr/bin/env bash
# guest-fix on the VMware-like Debian guest with root on LVM and /boot on
# /dev/sda1: the /boot line of fstab becomes UUID=, the LVM root is left
# alone, and the guest boots on virtio afterwards (and not before).
. "$(dirname "$0")/functions.sh"
slow_test "a third guest build and boot"
. "$H2K_TOP/tests/guests/check.sh"
requires guestfish --version
requires qemu-system-x86_64 --version
requires qemu-img --version
requires jq --version

img=$(guest_image debian-lvm)

boot_fails_before 'ALERT!  /dev/mapper/vg0-root does not exist' \
  "before: no boot from virtio-blk (initramfs: vg0-root does not exist)" \
  --bus virtio "$img"
disk=$tmp/guest.qcow2
convert_copy "$img" "$disk"

ok "guest-fix exits 0" sh -c 'guest-fix "$1" > "$2"' _ "$disk" "$tmp/report.json"
r=$tmp/report.json
ok "report: status ok" jqt '.status == "ok"' "$r"
ok "report: root on LVM, /boot on sda1" \
  jqt '.guest.mountpoints["/"] == "/dev/vg0/root" and .guest.mountpoints["/boot"] == "/dev/sda1"' "$r"
ok "report: fstab's /boot line changed, its LVM line not" \
  jqt '[.fixes[] | select(.name == "block-devices") | .changes[] | select(.file == "/etc/fstab") | .lines[].from | test("^/dev/sda1 ")] == [true]' "$r"

ok "every claim of the report read back with libguestfs" check_claims "$r" "$disk" /etc/fstab
ok "readback: the LVM root line is unchanged" grep -q '^/dev/mapper/vg0-root ' "$(readback_path /etc/fstab)"
ok "readback: /boot mounted by UUID" grep -Eq '^UUID=[0-9a-f-]+ +/boot ' "$(readback_path /etc/fstab)"

if boots_enabled; then
  if out=$(boot_guest --bus virtio --nic virtio --format qcow2 "$disk" "$tmp/after.log"); then
    pass "after: boots on q35 with virtio-blk and virtio-net: $out"
    marker_has "$out" "root=/dev/mapper/vg0-root " "after: root on the LVM volume"
    marker_has "$out" "inet=ens192:10.0.2." "after: the NIC is up as ens192 with an address"
  else
    fail "after: does not boot from virtio-blk"
  fi
else
  skip "boot after the fix (only in the normal run)"
fi
