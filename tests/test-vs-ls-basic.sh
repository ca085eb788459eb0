#!/usr/bin/env bash
# vs-ls against the simulator's default vCenter model: every VM with its
# fields, cross-checked against the simulator's own object model; filters;
# the other object types.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version

start_vcsim -inventory-json "$tmp/inventory.jsonl"
export GOVC_INSECURE=1

vs-ls > "$tmp/all.jsonl"
jq_ok "every line is a JSON object" 'type == "object"' "$tmp/all.jsonl"
is "four VMs, as in the model" "$(wc -l < "$tmp/all.jsonl")" 4

# The same facts, seen through SOAP + libxml2 and through the simulator's
# Go objects.
ours=$(jq -cS '{name, moref, uuid, host, power_state, cpus, memory_mib, firmware,
               guest_id,
               disks: [.disks[] | {key, file, capacity, unit}],
               nics: [.nics[] | {key, mac}],
               snapshots: [.snapshots[].name]}' "$tmp/all.jsonl" | sort)
theirs=$(jq -cS '.disks |= map(del(.change_id))' "$tmp/inventory.jsonl" | sort)
if [ "$ours" = "$theirs" ]; then pass "records match the simulator's own inventory"
else fail "records match the simulator's own inventory"; diag "ours: $ours" "theirs: $theirs"; fi

jq_ok "kind, datacenter and dc_path" '.kind == "vm" and .datacenter == "DC0" and .dc_path == "DC0"' "$tmp/all.jsonl"
jq_ok "disks name datastore, controller, bus, mode" \
  '.disks[0] | .datastore == "LocalDS_0" and .controller == "pvscsi" and .bus == 0 and .mode == "persistent" and .thin == true' "$tmp/all.jsonl"
jq_ok "nics name their network" '.nics[0].network == "DC0_DVPG0" and .nics[0].type == "e1000"' "$tmp/all.jsonl"

# Filters.
names () { vs-ls "$@" | jq -r .name | sort | tr '\n' ' '; }
is "--vm exact" "$(names --vm DC0_H0_VM1)" "DC0_H0_VM1 "
is "--vm glob, repeated" "$(names --vm 'DC0_H0_*' --vm DC0_C0_RP0_VM1)" \
  "DC0_C0_RP0_VM1 DC0_H0_VM0 DC0_H0_VM1 "
is "--host" "$(names --host DC0_H0)" "DC0_H0_VM0 DC0_H0_VM1 "
is "--cluster" "$(names --cluster DC0_C0)" "DC0_C0_RP0_VM0 DC0_C0_RP0_VM1 "
is "--cluster and --host" "$(names --cluster DC0_C0 --host DC0_H0)" ""
is "--datastore" "$(vs-ls --datastore LocalDS_0 | wc -l)" 4
is "--datastore that matches nothing" "$(vs-ls --datastore 'nope*' | wc -l)" 0
is "--power-state poweredOn" "$(vs-ls --power-state poweredOn | wc -l)" 4
is "--power-state poweredOff" "$(vs-ls --power-state poweredOff | wc -l)" 0
is "--datacenter by name" "$(vs-ls --datacenter DC0 | wc -l)" 4
is "GOVC_DATACENTER" "$(GOVC_DATACENTER=DC0 vs-ls --vm 'DC0_H0_VM0' | jq -r .name)" DC0_H0_VM0
expect_fail "unknown datacenter" "no datacenter named 'DC9'" vs-ls --datacenter DC9
expect_fail "unknown VM" "no VM named 'nosuch'" vs-ls --vm nosuch
is "a glob that matches nothing is not an error" "$(vs-ls --vm 'nosuch*' | wc -l)" 0

# A filtered listing asks for the full properties of the matches only.
vs-ls --stats --vm DC0_H0_VM0 2>"$tmp/stats" >/dev/null
ok "--stats reports round trips" grep -Eq 'vs-ls: 1 objects, [0-9]+ SOAP round trips' "$tmp/stats"

# Other object types.
vs-ls --type datacenter > "$tmp/dc.jsonl"
jq_ok "--type datacenter" '.kind == "datacenter" and .name == "DC0" and .dc_path == "DC0" and (.moref | length > 0)' "$tmp/dc.jsonl"
vs-ls --type datastore > "$tmp/ds.jsonl"
jq_ok "--type datastore" '.kind == "datastore" and .name == "LocalDS_0" and .capacity > 0 and .free >= 0 and (.url | startswith("'"$VCSIM_DS_0_DIR"'"))' "$tmp/ds.jsonl"
vs-ls --type host > "$tmp/hosts.jsonl"
is "--type host: four hosts" "$(jq -r .name "$tmp/hosts.jsonl" | sort | tr '\n' ' ')" \
  "DC0_C0_H0 DC0_C0_H1 DC0_C0_H2 DC0_H0 "
jq_ok "cluster hosts name their cluster" 'map(select(.name | startswith("DC0_C0"))) | length == 3 and all(.cluster == "DC0_C0")' "$tmp/hosts.jsonl" -s
jq_ok "the standalone host has no cluster" 'map(select(.name == "DC0_H0")) | length == 1 and (.[0] | has("cluster") | not)' "$tmp/hosts.jsonl" -s
is "--type host --cluster" "$(vs-ls --type host --cluster DC0_C0 | wc -l)" 3
vs-ls --type network > "$tmp/net.jsonl"
jq_ok "--type network lists the port groups" 'map(.name) | index("DC0_DVPG0") != null' "$tmp/net.jsonl" -s

# VMs in a vApp are in the listing too.
start_vcsim -app 1 -inventory-json "$tmp/inventory-app.jsonl"
is "vApp VMs are listed" "$(vs-ls | jq -r .name | sort | tr '\n' ' ')" \
  "$(jq -r .name "$tmp/inventory-app.jsonl" | sort | tr '\n' ' ')"
is "... six of them" "$(vs-ls | wc -l)" 6
