#!/usr/bin/env bash
# What vs-ls hands on to the later steps of a migration, against the
# simulator: the annotation, CD-ROMs, the boot order, each NIC's PCI slot
# (VMware's ens192 is slot 192), the inventory folder and resource pool,
# VMware Tools' status; and a plain --vm name that matches nothing is an
# error even when another --vm matched.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version

mkdir -p "$tmp/d"
qemu-img create -q -f vmdk -o subformat=monolithicFlat "$tmp/d/web01.vmdk" 1M
start_vcsim -folder 1 -vm-disk "web01=$tmp/d/web01.vmdk" -vm-mac web01=00:50:56:9a:0b:1c
export GOVC_INSECURE=1

vs-ls --vm web01 > "$tmp/web01.json"
jq_ok "the annotation" '.annotation | test("h2k-vcsim -vm-disk")' "$tmp/web01.json"
jq_ok "the NIC's PCI slot: 192, as VMware numbers the first NIC" '.nics[0].pci_slot == 192 and .nics[0].mac == "00:50:56:9a:0b:1c"' "$tmp/web01.json"
jq_ok "the resource pool" '.resource_pool | type == "string" and length > 0' "$tmp/web01.json"
jq_ok "the folder: the datacenter's VM folder itself" '.folder == ""' "$tmp/web01.json"
jq_ok "VMware Tools' status" '.tools_running == "guestToolsNotRunning" and (.tools_status | type == "string")' "$tmp/web01.json"
jq_ok "the boot order, as a list" '.boot_order | type == "array"' "$tmp/web01.json"
jq_ok "CD-ROMs, as a list (none here)" '.cdroms == []' "$tmp/web01.json"

vm=$(vs-ls | jq -r 'select(.name != "web01") | .name' | head -n 1)
vs-ls --vm "$vm" > "$tmp/other.json"
jq_ok "a model VM's CD-ROM, with its backing" '(.cdroms | length) >= 1 and (.cdroms[0].backing | type == "string") and (.cdroms[0].key | type == "number")' "$tmp/other.json"
jq_ok "a model VM's NIC slot" 'all(.nics[]; .pci_slot | type == "number")' "$tmp/other.json"

# A folder: the simulator's -folder 1 puts the datacenter in F0; move
# nothing, but check a path given by --folder comes back as the record's.
f=$(jq -r .folder "$tmp/other.json")
ok "--folder with the record's folder lists the VM" \
  sh -c 'vs-ls --folder "$1" --vm "$2" | jq -e --arg n "$2" "select(.name == \$n)" >/dev/null' _ "${f:-.}" "$vm"

EXPECT_STATUS=1 expect_fail "--vm web01 --vm typo: the typo is an error" "no VM named 'typo'" \
  vs-ls --vm web01 --vm typo
EXPECT_STATUS=1 expect_fail "--vm typo --vm 'web*': still an error" "no VM named 'typo'" \
  vs-ls --vm typo --vm 'web*'
ok "--vm web01 --vm 'nomatch*': a glob may match nothing" sh -c 'vs-ls --vm web01 --vm "nomatch*" | jq -e ".name == \"web01\"" >/dev/null'
ok "--vm web01 with --power-state poweredOn: no error, no record" sh -c '[ -z "$(vs-ls --vm web01 --power-state poweredOn)" ]'
