#!/usr/bin/env bash
# guest-fix on a VMware-like Debian guest spread over three disks: /boot
# (and GRUB) on /dev/sda1, root on the LVM volume vg0/root spanning
# /dev/sdb1 and /dev/sdc1, /var on /dev/sdc2, fstab by /dev/sdX names,
# an initramfs without virtio.  It does not boot on virtio before; after
# img-convert of each disk and one guest-fix run over the three, the
# report is checked with jq and read back with libguestfs, and the guest
# boots on q35 with the three disks on virtio-blk: root, /boot and /var
# mounted, the NIC up, VMware Tools not running.
. "$(dirname "$0")/functions.sh"
slow_test "a multi-disk guest build and boot"
. "$H2K_TOP/tests/guests/check.sh"
requires_fix_and_boot

dir=$(guest_image debian-multi)
src=("$dir/disk1.img" "$dir/disk2.img" "$dir/disk3.img")

boot_fails_before 'ALERT!  /dev/mapper/vg0-root does not exist' \
  "before: no boot from virtio-blk (initramfs: vg0-root does not exist)" \
  --bus virtio "${src[@]}"

disks=()
for i in 1 2 3; do
  convert_copy "${src[i-1]}" "$tmp/disk$i.qcow2"
  disks+=("$tmp/disk$i.qcow2")
done

# Without its third disk the guest's root volume group is incomplete;
# with the disks in another order, fstab's /dev/sda1 (/boot) is a
# physical volume and /dev/sdc2 (/var) does not exist.  guest-fix must
# refuse both rather than write the fixes into the directories those
# file systems hide.
expect_fail "two of three disks: refused, the volume group named" \
  "volume group vg0 is incomplete" guest-fix "${disks[0]}" "${disks[1]}"
expect_fail "the disks in another order: refused" \
  "cannot mount /(boot|var).*in the order the guest had them" \
  guest-fix "${disks[1]}" "${disks[2]}" "${disks[0]}"

ok "guest-fix over the three disks exits 0" \
  sh -c 'guest-fix "$@" > "$0"' "$tmp/report.json" "${disks[@]}"
r=$tmp/report.json
report_all_applied "$r"
ok "report: root on LVM, /boot on sda1, /var on sdc2" \
  jqt '.guest.mountpoints == {"/": "/dev/vg0/root", "/boot": "/dev/sda1", "/var": "/dev/sdc2"}' "$r"
is "report: fstab's /boot and /var lines changed, the LVM line not" \
  "$(jq -r '.fixes[] | select(.name == "block-devices") | .changes[] | select(.file == "/etc/fstab") | .lines[].from | split(" ")[0]' "$r" | tr '\n' ' ')" \
  "/dev/sda1 /dev/sdc2 "
ok "report: open-vm-tools removed" \
  jqt '.fixes[] | select(.name == "vmware-tools") | .changes[0] | .action == "remove-package" and .detail == "open-vm-tools"' "$r"
for d in "${disks[@]}"; do
  ok "qemu-img check of ${d##*/}" qemu-img check -q "$d"
done

kver=$(jq -r '.guest.kernels[0]' "$r")
ok "every claim of the report read back with libguestfs" \
  check_claims -a "${disks[0]}" -a "${disks[1]}" -a "${disks[2]}" "$r" \
    /etc/fstab "/boot/initrd.img-$kver" /var/lib/dpkg/info/open-vm-tools.list
fstab=$(readback_path /etc/fstab)
ok "readback: the LVM root line is unchanged" grep -q '^/dev/mapper/vg0-root ' "$fstab"
ok "readback: /boot mounted by UUID" grep -Eq '^UUID=[0-9a-f-]+ +/boot ' "$fstab"
ok "readback: /var mounted by UUID" grep -Eq '^UUID=[0-9a-f-]+ +/var ' "$fstab"
ok "readback: no /dev/sd name left in fstab" sh -c '! grep -q "^/dev/sd" "$1"' _ "$fstab"
ok "readback: the initramfs (on disk 1) holds virtio_blk and dm_mod" \
  sh -c 'lsinitramfs "$1" > "$1.list" && grep -q /virtio_blk.ko "$1.list" && grep -q /dm-mod.ko "$1.list"' \
  _ "$(readback_path "/boot/initrd.img-$kver")"
ok "readback: open-vm-tools' dpkg record (on disk 3's /var) is gone" \
  test ! -e "$(readback_path /var/lib/dpkg/info/open-vm-tools.list)"

if boots_enabled; then
  if out=$(boot_guest --bus virtio --nic virtio --format qcow2 "${disks[@]}" "$tmp/after.log"); then
    pass "after: boots on q35 with three virtio-blk disks and virtio-net: $out"
    marker_has "$out" "root=/dev/mapper/vg0-root " "after: root on the LVM volume"
    marker_has "$out" "mounts=*/boot:/dev/vda1" "after: /boot mounted from /dev/vda1"
    marker_has "$out" "mounts=*/var:/dev/vdc2" "after: /var mounted from /dev/vdc2"
    marker_fixed "$out"
  else
    fail "after: does not boot from virtio-blk"
  fi
else
  skip "boot after the fix (only in the normal run)"
fi
