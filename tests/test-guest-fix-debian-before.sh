#!/usr/bin/env bash
# The VMware-like Debian guest before guest-fix: it boots from SATA (the
# baseline: the guest itself is sound) but not from virtio-blk, where its
# initramfs, which has no virtio driver, gives up on /dev/sda1.  (A file of
# its own so that the boots run beside the fix in test-guest-fix-debian.sh.)
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires guestfish --version
requires qemu-system-x86_64 --version
boots_enabled || skip_all "boots run only in the normal run (not SANITIZE=1)"

img=$(guest_image debian-vmware)

if out=$(boot_guest --bus sata --nic vmxnet3 "$img" "$tmp/sata.log"); then
  case $out in
    *"root=/dev/sda1 "*) pass "before: boots from SATA (baseline): $out" ;;
    *) fail "before: SATA boot shows $out" ;;
  esac
else
  fail "before: does not boot from SATA (baseline)"
fi
boot_fails_before 'ALERT!  /dev/sda1 does not exist' \
  "before: no boot from virtio-blk (initramfs: /dev/sda1 does not exist)" \
  --bus virtio "$img"
