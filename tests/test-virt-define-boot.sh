#!/usr/bin/env bash
# The boot proof: a domain that virt-define writes for the bootable
# Debian test guest (tests/guests/, built by guest.sh debian-vmware and
# cached) is started by libvirt itself, with virt-qemu-run (libvirt's QEMU
# driver embedded in one process, no daemon), and the guest reaches its
# BOOT-OK marker on the serial console.
#
# The guest is as VMware leaves it: root on /dev/sda1 and only SATA and
# VMware drivers in its initramfs, so the first domain is written with
# --bus sata.  Then, when guest-fix is built, the whole end of a
# migration: guest-fix on the same copy, the domain as virt-define writes
# it by default (virtio disk and NIC), and the guest boots from /dev/vda1
# with its NIC up.  It runs under TCG
# (--virt-type qemu) because these machines have no usable KVM.  Two
# things are changed in the XML for the test only, because the embedded
# driver has neither a network driver nor a way to read a pty: the NIC
# becomes a user-mode (slirp) interface, keeping its MAC and model, and
# the serial console goes to a file.  Everything else is as written.
#
# The guest is built with tests/guests/guest.sh when it is not in the
# cache (minutes, needs root); H2K_BUILD_GUESTS=0 skips the test instead.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/libvirt-embed.sh"
slow_test "a guest boot under libvirt"
requires qemu-system-x86_64 --version
requires qemu-img --version
requires virt-qemu-run --help
requires virt-xml-validate --version
requires virsh --version
requires jq --version

# libvirt opens /dev/null for every qemu it probes or starts.
[ -c /dev/null ] || skip_all "/dev/null is not a character device on this machine"

guests=${H2K_GUEST_CACHE:-$H2K_CACHE/guests}
img=$guests/debian-vmware.img
# The guest builder's own script names the image (and builds it, which
# takes minutes, only when asked to).
if [ -x "$H2K_TOP/tests/guests/guest.sh" ] \
   && { [ -f "$img" ] || [ "${H2K_BUILD_GUESTS:-1}" = 1 ]; }; then
  img=$("$H2K_TOP/tests/guests/guest.sh" debian-vmware) || skip_all "the guest could not be built"
fi
[ -f "$img" ] || skip_all "no cached test guest $img (build it with tests/guests/guest.sh debian-vmware)"

embed_setup

# A private copy of the guest, so the cached image is never written.
ok "a private qcow2 copy of the guest" qemu-img convert -O qcow2 "$img" "$run/guest.qcow2"

jq -c . > "$tmp/guest.json" <<EOF
{"kind":"vm","name":"h2k-boot-test","uuid":"4210c8e1-9a7c-4b2d-8e3f-0123456789ab","firmware":"bios",
 "cpus":1,"cores_per_socket":1,"memory_mib":1024,"guest_id":"debian12_64Guest",
 "disks":[{"label":"Hard disk 1","file":"[ds1] debian/debian-vmware.vmdk","controller":"pvscsi","bus":0,"unit":0,
           "local":"$run/guest.qcow2"}],
 "nics":[{"mac":"00:50:56:9a:0b:1c","type":"vmxnet3","network":"VM Network"}]}
EOF
ok "virt-define writes the domain" bash -c \
  "virt-define --bus sata --virt-type qemu --graphics none < '$tmp/guest.json' > '$tmp/dom.xml'"
ok "it validates" bash -c "virt-xml-validate '$tmp/dom.xml' domain >/dev/null"
ok "the disk is the qcow2 copy on SATA" \
  grep -q "<source file=\"$run/guest.qcow2\"/>" "$tmp/dom.xml"

# for_test XML OUT NAME: the two test-only changes, each checked to have
# happened.
for_test ()
{
  embed_adapt "$1" "$2" "$3"
  is "$3: test-only changes applied" \
    "$(grep -c -e 'interface type="user"' -e "$3.log" "$2")" 3
  ok "$3: the test domain still validates" bash -c "virt-xml-validate '$2' domain >/dev/null"
}

# boot NAME: start $run/NAME.xml, wait for the marker or a dead end,
# stop it; the marker line is left in $marker.
boot ()
{
  local name=$1
  embed_run "$name" 'BOOT-OK|ALERT!|Dropping to a shell|emergency mode|Kernel panic' \
    "${H2K_BOOT_TIMEOUT:-900}"
  marker=$(grep -ao 'BOOT-OK.*' "$run/$name.log" 2>/dev/null | tr -d '\r' | tail -n 1 || true)
  if [ -n "$marker" ]; then
    pass "$name: the guest booted from the domain: $marker"
  else
    fail "$name: the guest booted from the domain (no BOOT-OK after $((SECONDS))s)"
    diag "$(tail -n 5 "$tmp/$name.run" 2>/dev/null)" \
      "$(tail -c 1500 "$run/$name.log" 2>/dev/null | tr -d '\r')"
  fi
}

for_test "$tmp/dom.xml" "$run/sata.xml" sata

# libvirt's QEMU driver also turns it into a qemu command line (without
# the NIC, for which domxml-to-native would want a tap device).
sed '/<interface/,/<\/interface>/d' "$run/sata.xml" > "$run/argv.xml"
[ ${#as_user[@]} -eq 0 ] || chown -R 65534:65534 "$run"
ok "virsh domxml-to-native gives a qemu command line" bash -c \
  "${as_user[*]@Q} virsh -c 'qemu:///embed?root=$run/argv-root' domxml-to-native qemu-argv '$run/argv.xml' > '$tmp/argv.txt'"
ok "... with q35, the disk on SATA and boot index 1" bash -c \
  "grep -q 'pc-q35' '$tmp/argv.txt' && grep -q '\"driver\":\"ide-hd\",\"bus\":\"ide.0\"' '$tmp/argv.txt' && grep -q '\"bootindex\":1' '$tmp/argv.txt'"

# 1. As VMware left it: SATA.
boot sata
case $marker in
  *root=/dev/sda1*) pass "sata: root found on the SATA disk (/dev/sda1)" ;;
  *) fail "sata: root found on the SATA disk (/dev/sda1): $marker" ;;
esac

# 2. The whole migration: guest-fix on the copy, then the domain as
# virt-define writes it by default (virtio disk and NIC, the MAC kept).
if ! command -v guest-fix >/dev/null; then
  skip "guest-fix is not built: no virtio boot after guest-fix"
  exit 0
fi
ok "guest-fix fixes the copy" bash -c "guest-fix '$run/guest.qcow2' > '$tmp/fix.json'"
ok "virt-define writes the default domain" bash -c \
  "virt-define --virt-type qemu --graphics none < '$tmp/guest.json' > '$tmp/virtio.xml'"
ok "... with the disk on virtio" grep -q '<target dev="vda" bus="virtio"/>' "$tmp/virtio.xml"
for_test "$tmp/virtio.xml" "$run/virtio.xml" virtio
boot virtio
case $marker in
  *root=/dev/vda1*) pass "virtio: root found on the virtio disk (/dev/vda1)" ;;
  *) fail "virtio: root found on the virtio disk (/dev/vda1): $marker" ;;
esac
case $marker in
  *up=*:up*) pass "virtio: the NIC is up" ;;
  *) fail "virtio: the NIC is up: $marker" ;;
esac
case $marker in
  *inet=*:[0-9]*) pass "virtio: the NIC got an address from DHCP (its MAC kept)" ;;
  *) fail "virtio: the NIC got an address from DHCP: $marker" ;;
esac
