#!/usr/bin/env bash
# h2k-migrate --warm and --power-off against the simulator (CBT as
# tests/vcsim/cbt.go simulates it): a running VM is copied by h2k-sync
# cycles while it runs, then cut over (shut down through the API, the last
# changes copied) and its synced raw disk converted; another running VM is
# shut down first with --power-off and migrated cold.  No snapshot is left
# behind, the VMs end powered off, and the converted disks are the disks.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
command -v h2k-sync >/dev/null || skip_all "h2k-sync is not built"
command -v vs-cbt >/dev/null || skip_all "vs-cbt is not built"

cd "$tmp"
mkdir -p a b
for d in a b; do
  truncate -s 8M "$d/disk-flat.vmdk"
  printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=fffffffe' 'parentCID=ffffffff' \
    'createType="vmfs"' '' '# Extent description' 'RW 16384 VMFS "disk-flat.vmdk"' > "$d/disk.vmdk"
done
qemu-io -f raw -c 'write -P 0x21 0 1M' -c 'write -P 0x22 6M 64k' a/disk-flat.vmdk >/dev/null
qemu-io -f raw -c 'write -P 0x31 2M 1M' b/disk-flat.vmdk >/dev/null
# Two of the model's VMs, running (autostart), with these disks.
start_vcsim -vm-disk "DC0_H0_VM0=$tmp/a/disk.vmdk" -vm-disk "DC0_H0_VM1=$tmp/b/disk.vmdk"
export GOVC_INSECURE=1
ds=$VCSIM_DS_0_DIR
is "both VMs are running" "$(vs-ls --vm DC0_H0_VM0 --vm DC0_H0_VM1 | jq -r .power_state | sort -u)" poweredOn

ok "--warm --max-cycles 2 migrates a running VM" \
  sh -c 'h2k-migrate --warm --max-cycles 2 --no-fix --out out DC0_H0_VM0 > /dev/null 2> warm.err || { cat warm.err >&2; exit 1; }'
m=out/DC0_H0_VM0/migration.json
jq_ok "migration.json: warm, steps inventory, sync, convert, domain" \
  '.mode == "warm" and .status == "done" and ([.steps[].name] == ["inventory", "sync", "convert", "domain"])' "$m"
is "two cycles while it ran, then the final one" \
  "$(jq -c '[.cycle, .final]' out/DC0_H0_VM0/logs/sync-cycles.jsonl | tr '\n' ' ')" "[1,false] [2,false] [3,true] "
ok "the converted disk is the disk" qemu-img compare -q -f raw -F qcow2 "$ds/DC0_H0_VM0/disk-flat.vmdk" out/DC0_H0_VM0/disk.qcow2
jq_ok "its digest is the flat file's" '.disks[0].sha256 == $s' "$m" --arg s "$(sha256 "$ds/DC0_H0_VM0/disk-flat.vmdk")"
is "the VM was shut down at the cut-over" "$(vs-ls --vm DC0_H0_VM0 | jq -r .power_state)" poweredOff
is "no snapshot is left" "$(vs-cbt --list-stale | wc -l)" 0
ok "the synced copies are removed at the end" test ! -e out/DC0_H0_VM0/sync
jq_ok "the model VM's CD-ROM is recorded as dropped" '(.dropped | length) >= 1 and .dropped[0].kind == "cdrom"' "$m"
ok "and virt-define's warning about it was shown" grep -q 'dropped: CD-ROMs and floppies are not carried over' warm.err

ok "--power-off shuts a running VM down, then migrates it cold" \
  sh -c 'h2k-migrate --power-off --no-fix --out out DC0_H0_VM1 > /dev/null 2> off.err || { cat off.err >&2; exit 1; }'
jq_ok "migration.json: a power-off step before the pull" \
  '.mode == "cold" and ([.steps[].name] == ["inventory", "power-off", "convert", "domain"] or [.steps[].name] == ["inventory", "power-off", "pull", "convert", "domain"])' out/DC0_H0_VM1/migration.json
is "the VM is off" "$(vs-ls --vm DC0_H0_VM1 | jq -r .power_state)" poweredOff
ok "its disk is right" qemu-img compare -q -f raw -F qcow2 b/disk-flat.vmdk out/DC0_H0_VM1/disk.qcow2
EXPECT_STATUS=1 expect_fail "a warm run over a cold one is refused" "cold migration" \
  h2k-migrate --warm --no-fix --out out DC0_H0_VM1
