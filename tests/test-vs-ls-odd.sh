#!/usr/bin/env bash
# The odd-names inventory: names with spaces, unicode, '/', '&', '<',
# quotes and '../../x' round-trip exactly; a folder with an odd name;
# several disks on several controllers and datastores, several NICs, a
# snapshot tree, EFI with secure boot, CBT change ids, --chain.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
export GOVC_INSECURE=1

start_vcsim -odd -ds 2 -inventory-json "$tmp/inventory.jsonl"
vs-ls --chain > "$tmp/all.jsonl"

# The names, exactly as the simulator holds them.
jq -r .name "$tmp/inventory.jsonl" | sort > "$tmp/want"
jq -r .name "$tmp/all.jsonl" | sort > "$tmp/got"
same_file "odd names round-trip exactly" "$tmp/want" "$tmp/got"
for name in 'web 01 ünïcødé ☃' "a/b & <c> \"q\" 'x'" '../../x'; do
  is "--vm '$name'" "$(vs-ls --vm "$name" | jq -r .name)" "$name"
done
is "--vm with a glob over odd names" "$(vs-ls --vm '*&*' | jq -r .name)" "a/b & <c> \"q\" 'x'"
is "--folder with an odd name" "$(vs-ls --folder 'odd & <folder> "f"' | jq -r .name)" "../../x"
is "--folder as an inventory path" "$(vs-ls --folder '/DC0/vm/odd & <folder> "f"' | jq -r .name)" "../../x"
EXPECT_STATUS=1 expect_fail "--folder that does not exist" "no VM folder 'no such folder'" vs-ls --folder 'no such folder'

# The reworked VM.
jq -c 'select(.name == "web 01 ünïcødé ☃")' "$tmp/all.jsonl" > "$tmp/web.json"
jq_ok "EFI with secure boot" '.firmware == "efi" and .secure_boot == true' "$tmp/web.json"
jq_ok "three disks on pvscsi, lsilogic bus 1 and nvme" \
  '[.disks[] | "\(.controller):\(.bus):\(.unit)"] == ["pvscsi:0:0", "lsilogic:1:0", "nvme:0:0"]' "$tmp/web.json"
jq_ok "disks on two datastores, with their sizes" \
  '[.disks[] | [.datastore, .capacity]] == [["LocalDS_0", 1048576], ["LocalDS_1", 2097152], ["LocalDS_0", 1048576]]' "$tmp/web.json"
jq_ok "three NICs" '[.nics[].type] == ["e1000", "vmxnet3", "e1000e"] and (.nics | map(.mac) | unique | length) == 3' "$tmp/web.json"
jq_ok "CBT on, and each disk has a change id" '.cbt == true and all(.disks[]; .change_id | test("^52 [0-9a-f ]+-[0-9a-f ]+/[0-9]+$"))' "$tmp/web.json"
jq_ok "the snapshot tree, flattened with parents" \
  '[.snapshots[] | [.name, (.parent != null)]] == [["base", false], ["after upgrade", true], ["branch & <b>", true]]
   and .snapshots[1].parent == .snapshots[0].moref and .snapshots[2].parent == .snapshots[0].moref
   and .current_snapshot == .snapshots[2].moref' "$tmp/web.json"
jq_ok "snapshot times are RFC 3339 UTC" 'all(.snapshots[]; .created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))' "$tmp/web.json"
jq_ok "--chain: descriptors and the files behind them" \
  'all(.disks[]; (.chain | length) == 1 and .chain[0] == .file
       and ([.chain_files[].type] | sort) == ["diskDescriptor", "diskExtent"])' "$tmp/web.json"

# The simulator's own view agrees on the disks and change ids.
ours=$(jq -cS '{name, disks: [.disks[] | {key, file, capacity, unit, change_id}], snapshots: [.snapshots[].name]}' "$tmp/all.jsonl" \
       | sed 's/,"change_id":null//' | sort)
theirs=$(jq -cS '{name, disks: [.disks[] | {key, file, capacity, unit, change_id}], snapshots}' "$tmp/inventory.jsonl" \
         | sed 's/,"change_id":null//' | sort)
if [ "$ours" = "$theirs" ]; then pass "disks, change ids and snapshots match the simulator's view"
else fail "disks, change ids and snapshots match the simulator's view"; diag "ours: $ours" "theirs: $theirs"; fi

# Without --chain no chain is asked for.
vs-ls --vm 'web*' > "$tmp/nochain.json"
jq_ok "no chain without --chain" 'all(.disks[]; has("chain") | not)' "$tmp/nochain.json"

# The ESXi model: one host, its datacenter ha-datacenter.
start_vcsim -esx
vs-ls > "$tmp/esx.jsonl"
is "ESXi: two VMs" "$(wc -l < "$tmp/esx.jsonl")" 2
jq_ok "ESXi: datacenter and host" '.datacenter == "ha-datacenter" and (.host | length > 0) and (.disks | length) == 1' "$tmp/esx.jsonl"
is "ESXi: --type datastore" "$(vs-ls --type datastore | jq -r .name)" LocalDS_0
