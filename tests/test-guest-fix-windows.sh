#!/usr/bin/env bash
# guest-fix on a phony Windows Server 2008 R2 guest (registry hives built
# from .reg text).  Without --virtio-win the driver fix is skipped and the
# report says why; with a (fake) virtio-win tree the drivers are copied and
# registered.  The registry is read back with hivex tools, the files with
# libguestfs.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires guestfish --version
requires command -v hivexget
requires jq --version

img=$(guest_image windows)
vw=$(guest_image virtio-win)
disk=$tmp/win.qcow2
convert_copy "$img" "$disk"
unset VIRTIO_WIN

ok "without --virtio-win: guest-fix exits 0" sh -c 'guest-fix "$1" > "$2"' _ "$disk" "$tmp/r1.json"
ok "report: a Windows 6.1 guest" \
  jqt '.guest.type == "windows" and .guest.major_version == 6 and .guest.minor_version == 1' "$tmp/r1.json"
ok "report: the Windows fixes only" \
  jqt '[.fixes[].name] == ["windows-drivers", "windows-vmware-tools"]' "$tmp/r1.json"
ok "report: drivers skipped, and why" \
  jqt '.fixes[0].status == "skipped" and (.fixes[0].reason | test("virtio-win"))' "$tmp/r1.json"
ok "report: VMware Tools services disabled" \
  jqt '[.fixes[1].changes[] | select(.value == "Start" and .data == "4") | .key] == ["ControlSet001\\Services\\VMTools", "ControlSet001\\Services\\VGAuthService", "ControlSet001\\Services\\vmvss"]' "$tmp/r1.json"

ok "with --virtio-win: guest-fix exits 0" \
  sh -c 'guest-fix --virtio-win="$1" --select=windows-drivers "$2" > "$3"' _ "$vw" "$disk" "$tmp/r2.json"
ok "report: drivers applied" jqt '.fixes[0].status == "applied" and .fixes[0].drivers == ["viostor", "vioscsi", "netkvm", "balloon"]' "$tmp/r2.json"
ok "report: the 2008 R2 amd64 drivers were chosen" \
  jqt '[.fixes[0].changes[] | select(.action == "create" and (.detail | test("from "))) | .detail | test("/2k8R2/amd64/")] | all' "$tmp/r2.json"

ok "every file the report claims read back with libguestfs" \
  check_claims "$tmp/r2.json" "$disk" /Windows/System32/config/SYSTEM /Windows/System32/config/SOFTWARE
sys=$(readback_path /Windows/System32/config/SYSTEM)
sw=$(readback_path /Windows/System32/config/SOFTWARE)
ok "readback: viostor.sys in System32\\drivers" \
  grep -q 'fake viostor.sys for 2k8R2 amd64' "$(readback_path /Windows/System32/drivers/viostor.sys)"
for svc in viostor vioscsi; do
  is "registry: $svc is a boot-start service" "$(hivexget "$sys" "ControlSet001\\Services\\$svc" Start)" 0
  is "registry: $svc image path" "$(hivexget "$sys" "ControlSet001\\Services\\$svc" ImagePath)" "system32\\drivers\\$svc.sys"
done
is "registry: the virtio-blk PCI ID is driven by viostor" \
  "$(hivexget "$sys" 'ControlSet001\Control\CriticalDeviceDatabase\pci#ven_1af4&dev_1001&subsys_00021af4&rev_00' Service)" viostor
is "registry: the virtio-scsi PCI ID is driven by vioscsi" \
  "$(hivexget "$sys" 'ControlSet001\Control\CriticalDeviceDatabase\pci#ven_1af4&dev_1004&subsys_00081af4&rev_00' Service)" vioscsi
is "registry: ... with the SCSI adapter class" \
  "$(hivexget "$sys" 'ControlSet001\Control\CriticalDeviceDatabase\pci#ven_1af4&dev_1001&subsys_00021af4&rev_00' ClassGUID)" \
  "{4D36E97B-E325-11CE-BFC1-08002BE10318}"
is "registry: VMTools disabled (first run)" "$(hivexget "$sys" 'ControlSet001\Services\VMTools' Start)" 4
is "registry: pvscsi left as it was" "$(hivexget "$sys" 'ControlSet001\Services\pvscsi' Start)" 0
ok "registry: RunOnce runs the first-boot script" \
  sh -c 'hivexget "$1" "Microsoft\\Windows\\CurrentVersion\\RunOnce" h2k-virtio-drivers | grep -q "h2k-firstboot.cmd"' _ "$sw"
ok "readback: the first-boot script runs pnputil" \
  grep -q 'pnputil -i -a' "$(readback_path /Windows/Drivers/VirtIO/h2k-firstboot.cmd)"

EXPECT_STATUS=1 expect_fail "--virtio-win that is not a directory" "windows-drivers: .*nosuch: not a directory" \
  guest-fix --dry-run --virtio-win="$tmp/nosuch" --select=windows-drivers "$disk"
