#!/usr/bin/env bash
# guest-fix --source: a guest with several NICs whose configurations name
# them only by their predictable names (ens192, ens224: no MAC address)
# gets its udev rules by MAC address from the VM record's NIC in each PCI
# slot.  On a qcow2 overlay of the cached VMware-like Debian guest (whose
# /etc/network/interfaces names ens192), guestfish adds ens224 and ens256
# (ifupdown), enp11s0 (a path name) and eth1 bound to a MAC address the
# record does not have (systemd-networkd); one guest-fix run (network fix
# only, written) with a record that has NICs in slots 192 and 224.  Two
# appliance launches in all; the record errors are refused before any.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires guestfish --version
requires qemu-img --version
requires jq --version

# The record: vs-ls's fields (a datastore line first, which is skipped).
cat > "$tmp/source.json" <<'EOF'
{"kind":"datastore","name":"ds1"}
{"kind":"vm","name":"web01","nics":[{"key":4000,"label":"Network adapter 1","mac":"00:50:56:9A:0B:1C","type":"vmxnet3","pci_slot":192},{"key":4001,"label":"Network adapter 2","mac":"00:50:56:9a:0b:2d","type":"vmxnet3","pci_slot":224}]}
EOF

# Refused before an appliance starts: exit 1 and a report saying why.
truncate -s 1M "$tmp/x.img"
EXPECT_STATUS=1 expect_fail "--source that does not exist" "--source: $tmp/nosuch.json: No such file" \
  guest-fix --source "$tmp/nosuch.json" "$tmp/x.img"
guest-fix --source "$tmp/nosuch.json" "$tmp/x.img" > "$tmp/r.json" 2>/dev/null || true
ok "--source missing: the report says failed and why" \
  jqt '.status == "failed" and (.error | test("--source")) and .source != null' "$tmp/r.json"
jq -c 'select(.kind == "vm")' "$tmp/source.json" > "$tmp/two.json"
jq -c 'select(.kind == "vm") | .name = "web02"' "$tmp/source.json" >> "$tmp/two.json"
EXPECT_STATUS=1 expect_fail "--source with two VM records" "more than one VM record" \
  guest-fix --source "$tmp/two.json" "$tmp/x.img"
echo '{"kind":"datastore","name":"ds1"}' > "$tmp/none.json"
EXPECT_STATUS=1 expect_fail "--source with no VM record" "no VM record" \
  guest-fix --source "$tmp/none.json" "$tmp/x.img"
echo '{"kind":"vm","nics":{"mac":"x"}}' > "$tmp/bad.json"
EXPECT_STATUS=1 expect_fail "--source whose nics is not a list" '"nics" is not an array' \
  guest-fix --source "$tmp/bad.json" "$tmp/x.img"
echo 'not json' > "$tmp/junk.json"
EXPECT_STATUS=1 expect_fail "--source that is not JSON" "junk.json: line 1" \
  guest-fix --source "$tmp/junk.json" "$tmp/x.img"
EXPECT_STATUS=2 expect_fail "--source with an empty name" "--source: empty file name" \
  guest-fix --source= "$tmp/x.img"

img=$(guest_image debian-vmware)
disk=$tmp/guest.qcow2
qemu-img create -q -f qcow2 -b "$img" -F raw "$disk"

# Launch 1: the configurations.
printf '%s\n' 'allow-hotplug ens224' 'iface ens224 inet dhcp' \
  'allow-hotplug ens256' 'iface ens256 inet dhcp' \
  'auto enp11s0' 'iface enp11s0 inet manual' > "$tmp/more"
printf '%s\n' '[Match]' 'Name=eth1' 'MACAddress=00:50:56:9a:99:99' '' \
  '[Network]' 'DHCP=yes' > "$tmp/20-eth1.network"
guestfish -a "$disk" -i <<EOF
mkdir-p /etc/systemd/network
upload $tmp/more /etc/network/interfaces.d/more
upload $tmp/20-eth1.network /etc/systemd/network/20-eth1.network
EOF

# Launch 2: the network fix, from the record given on stdin.
ok "guest-fix --select=network --source - exits 0" \
  sh -c 'guest-fix --select=network --source - "$1" < "$2" > "$3"' _ \
  "$disk" "$tmp/source.json" "$tmp/report.json"
r=$tmp/report.json
net='.fixes[] | select(.name == "network")'
ok "report: the source is named" jqt '.source == "-"' "$r"
ok "report: the network fix applied" jqt "$net | .status == \"applied\"" "$r"
ok "report: ens192's MAC from the record's NIC in slot 192" \
  jqt "$net | .interfaces[] | select(.name == \"ens192\") | .pci_slot == 192 and .mac == \"00:50:56:9a:0b:1c\" and .mac_from == \"source\" and .source_nic == \"Network adapter 1\"" "$r"
ok "report: ens224's MAC from the record's NIC in slot 224" \
  jqt "$net | .interfaces[] | select(.name == \"ens224\") | .pci_slot == 224 and .mac == \"00:50:56:9a:0b:2d\" and .mac_from == \"source\"" "$r"
ok "report: eth1's MAC from its configuration" \
  jqt "$net | .interfaces[] | select(.name == \"eth1\") | .mac == \"00:50:56:9a:99:99\" and .mac_from == \"configuration\" and .pci_slot == null" "$r"
ok "report: ens256 (no NIC in slot 256) and enp11s0 (a path name) have no MAC" \
  jqt "[$net | .interfaces[] | select(.name == \"ens256\" or .name == \"enp11s0\") | .mac] == [null, null]" "$r"
is "report: the udev rules, by MAC address" \
  "$(jq -r "$net | .udev_rules[]" "$r")" \
  'SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:50:56:9a:0b:1c", NAME="ens192"
SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:50:56:9a:0b:2d", NAME="ens224"
SUBSYSTEM=="net", ACTION=="add", ATTR{address}=="00:50:56:9a:99:99", NAME="eth1"'
ok "report: the rules file's change says two MACs came from the record" \
  jqt "$net | .changes[] | select(.file == \"/etc/udev/rules.d/70-h2k-net.rules\") | .detail | test(\"2 MAC addresses from the VM record\")" "$r"
ok "warning: ens256, no NIC in slot 256 in the record" \
  jqt '.warnings | any(test("ens256: .*- has no NIC in PCI slot 256"))' "$r"
ok "warning: enp11s0, by hand" \
  jqt '.warnings | any(test("enp11s0: several NICs and no MAC address for this one: name it"))' "$r"
ok "warning: eth1's MAC is no NIC's in the record" \
  jqt '.warnings | any(test("eth1: .*00:50:56:9a:99:99 is no NIC.s in -"))' "$r"
ok "report: the other fixes were not selected" \
  jqt '[.fixes[] | select(.name != "network") | .status] | all(. == "skipped")' "$r"
ok "qemu-img check of the overlay" qemu-img check -q "$disk"
