#!/usr/bin/env bash
# The UEFI domains virt-define writes, started by libvirt (virt-qemu-run,
# the embedded QEMU driver) with Debian's real OVMF: libvirt makes the
# domain's variable store from the template named in <nvram>, the
# firmware reaches its boot manager on the serial console, and secure
# boot is really on when the source had it: the unsigned UEFI shell that
# OVMF carries is refused ("Security Violation") with the secure-boot
# firmware and Microsoft's keys, and starts without them.
#
# As in test-virt-define-boot.sh, only two things change for the test:
# the NIC becomes user-mode networking (the embedded driver has no
# network driver) and the serial console goes to a file.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/libvirt-embed.sh"
slow_test "OVMF boots under TCG"
requires qemu-system-x86_64 --version
requires qemu-img --version
requires virt-qemu-run --help
requires jq --version
[ -c /dev/null ] || skip_all "/dev/null is not a character device on this machine"
for f in OVMF_CODE_4M.secboot.fd OVMF_VARS_4M.ms.fd OVMF_CODE_4M.fd OVMF_VARS_4M.fd; do
  [ -f "/usr/share/OVMF/$f" ] || skip_all "Debian's ovmf package is not installed"
done
unset VIRT_DEFINE_OVMF_DIR

embed_setup
qemu-img create -q -f qcow2 "$run/blank.qcow2" 64M

# boot NAME SECURE: write the domain, start it, wait for the boot
# manager's last word, stop it.  The console ends up in $run/NAME.log.
boot ()
{
  local name=$1 secure=$2
  jq -cn --arg n "$name" --arg d "$run/blank.qcow2" --argjson s "$secure" \
    '{name: $n, firmware: "efi", secure_boot: $s, cpus: 1, memory_mib: 512,
      disks: [{local: $d}], nics: [{mac: "00:50:56:9a:0b:1c", network: "VM Network"}]}' \
    | virt-define --virt-type qemu --graphics none > "$tmp/$name.xml"
  embed_adapt "$tmp/$name.xml" "$run/$name.xml" "$name"
  embed_run "$name" 'Shell>|Press any key to enter the Boot Manager|Start PXE|failed to start Boot0002' \
    "${H2K_BOOT_TIMEOUT:-300}"
}

boot sb true
ok "secure boot: the secure-boot OVMF is used" \
  grep -q '<loader readonly="yes" secure="yes" type="pflash">/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader>' "$tmp/sb.xml"
ok "secure boot: libvirt made the variable store from the template" \
  test -s "$run/sb-root/lib/qemu/nvram/sb_VARS.fd"
ok "secure boot: the firmware ran its boot manager" grep -qa "BdsDxe" "$run/sb.log"
ok "secure boot: the unsigned shell is refused" \
  grep -qa 'failed to start Boot0002 "EFI Internal Shell".*Security Violation' "$run/sb.log"
ok "secure boot: no shell prompt" bash -c "! grep -qa 'Shell>' '$run/sb.log'"

boot nosb false
ok "no secure boot: the plain OVMF" \
  grep -q '<loader readonly="yes" secure="no" type="pflash">/usr/share/OVMF/OVMF_CODE_4M.fd</loader>' "$tmp/nosb.xml"
ok "no secure boot: the UEFI shell starts" \
  grep -qaE 'starting Boot0002 "EFI Internal Shell"|UEFI Interactive Shell|Shell>' "$run/nosb.log"
ok "no secure boot: nothing refused" bash -c "! grep -qa 'Security Violation' '$run/nosb.log'"
