#!/usr/bin/env bash
# guest-fix on the VMware-like Debian guest (initramfs-tools, root on
# /dev/sda1, ens192, open-vm-tools); test-guest-fix-debian-before.sh shows
# it does not boot on virtio before.  After img-convert and guest-fix: the
# report is checked with jq and read back with libguestfs, and the guest
# boots on q35 with virtio-blk and virtio-net, root on /dev/vda1, its NIC
# up and VMware Tools not running.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires_fix_and_boot

img=$(guest_image debian-vmware)

disk=$tmp/guest.qcow2
convert_copy "$img" "$disk"
sum=$(sha256 "$disk")

guest-fix --dry-run "$disk" > "$tmp/dry.json"
ok "dry run: report says ok" jqt '.status == "ok" and .dry_run == true' "$tmp/dry.json"
ok "dry run: fixes would apply" \
  jqt '[.fixes[] | select(.name == "initramfs" or .name == "block-devices") | .status] == ["would-apply", "would-apply"]' "$tmp/dry.json"
is "dry run: the disk is unchanged" "$(sha256 "$disk")" "$sum"

ok "guest-fix exits 0" sh -c 'guest-fix "$1" > "$2"' _ "$disk" "$tmp/report.json"
r=$tmp/report.json
report_all_applied "$r"
ok "report: Debian 12 with initramfs-tools" \
  jqt '.guest.distro == "debian" and .guest.major_version == 12 and .guest.initramfs_tool == "initramfs-tools"' "$r"
is "report: every Linux fix is listed, in order" \
  "$(jq -r '.fixes[].name' "$r" | tr '\n' ' ')" \
  "$(guest-fix --list-fixes | awk '$2 == "linux" { printf "%s ", $1 }')"
ok "report: guest-agent and selinux-relabel skipped with a reason" \
  jqt '[.fixes[] | select(.status == "skipped") | .reason | length > 0] == [true, true]' "$r"
ok "report: the NIC found is ens192" jqt '.fixes[] | select(.name == "network") | .interfaces[0].name == "ens192"' "$r"
ok "report: open-vm-tools removed" \
  jqt '.fixes[] | select(.name == "vmware-tools") | .changes[0] | .action == "remove-package" and .detail == "open-vm-tools"' "$r"
ok "qemu-img check of the fixed disk" qemu-img check -q "$disk"

kver=$(jq -r '.guest.kernels[0]' "$r")
ok "every claim of the report read back with libguestfs" \
  check_claims "$r" "$disk" /etc/fstab "/boot/initrd.img-$kver" \
    /var/lib/dpkg/info/open-vm-tools.list /usr/bin/vmtoolsd
fstab=$(readback_path /etc/fstab)
ok "readback: fstab mounts / by UUID" grep -Eq '^UUID=[0-9a-f-]+ +/ ' "$fstab"
ok "readback: no /dev/sd name left in fstab" sh -c '! grep -q "^/dev/sd" "$1"' _ "$fstab"
ok "readback: the initramfs holds virtio_blk and virtio_net" \
  sh -c 'lsinitramfs "$1" > "$1.list" && grep -q /virtio_blk.ko "$1.list" && grep -q /virtio_net.ko "$1.list"' \
  _ "$(readback_path "/boot/initrd.img-$kver")"
ok "readback: open-vm-tools is no longer installed" \
  sh -c '! [ -e "$1" ] && ! [ -e "$2" ]' _ \
  "$(readback_path /var/lib/dpkg/info/open-vm-tools.list)" "$(readback_path /usr/bin/vmtoolsd)"

if boots_enabled; then
  if out=$(boot_guest --bus virtio --nic virtio --format qcow2 "$disk" "$tmp/after.log"); then
    pass "after: boots on q35 with virtio-blk and virtio-net: $out"
    marker_has "$out" "root=/dev/vda1 " "after: root on /dev/vda1"
    marker_fixed "$out"
  else
    fail "after: does not boot from virtio-blk"
  fi
else
  skip "boot after the fix (only in the normal run)"
fi
