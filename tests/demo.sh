#!/bin/bash
# make demo: what h2k is for, on the bundled vCenter simulator.
#
#   1. a bootable VMware-like Debian 12 guest (tests/guests/, built once and
#      cached in ~/.cache/h2k-tests/guests: root on /dev/sda1, only VMware
#      and SATA drivers in its initramfs, its NIC configured as ens192,
#      open-vm-tools installed)
#   2. stored as vSphere stores a VM's disk after a snapshot: a flat base
#      disk plus a snapshot delta (ESX's COWD format) holding the boot loader
#   3. a simulated vCenter (tests/vcsim) holding the VM "debian12": BIOS,
#      the chain in its datastore folder, a VMware MAC on a vmxnet3 NIC
#   4. h2k-migrate debian12: inventory, pull, convert, fix, domain
#   5. the converted disk booted under qemu on virtio (q35, TCG here): the
#      guest's own boot line shows root on /dev/vda1 and its NIC up
#
# Each step prints the command it runs and how long it took.  Exit status 0
# when the guest booted as it should, 1 otherwise.  H2K_DEMO_DIR=DIR keeps
# the work directory (default: a temporary one, removed at the end).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${H2K_BIN:-$top/bin}
PATH=$bin:$PATH
export PATH H2K_BIN=$bin
vcsim=${VCSIM_BIN:-$top/tests/vcsim/h2k-vcsim}
vm=debian12
mac=00:50:56:9a:0b:1c

fail () { printf 'demo: %s\n' "$*" >&2; exit 1; }
for c in qemu-system-x86_64 qemu-img jq guestfish; do
  command -v "$c" >/dev/null || fail "$c is missing: run 'make deps'"
done
for c in h2k-migrate vs-ls vs-pull img-convert guest-fix virt-define "$bin/tests/vmdk-gen"; do
  command -v "$c" >/dev/null || fail "${c##*/} is not built: run 'make all demo'"
done
[ -x "$vcsim" ] || fail "the simulator is not built: run 'make vcsim'"

# libguestfs only works with TCG on these machines (docs/guests.md).
if [ "${H2K_TEST_KVM:-0}" != 1 ]; then
  export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
  export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi

if [ -n "${H2K_DEMO_DIR:-}" ]; then
  work=$H2K_DEMO_DIR
  mkdir -p "$work"
  keep=1
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/h2k-demo.XXXXXX")
  keep=0
fi
sim_pid=
cleanup ()
{
  if [ -n "$sim_pid" ]; then
    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  [ "$keep" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# What the demo says goes to fd 3, the terminal, even while a command's
# output is redirected to a file.
exec 3>&1
demo_start=$EPOCHREALTIME
say () { printf '\n== %s\n' "$*"; }
took ()
{
  awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "   (%.1f s)\n", b - a }' >&3
}
# run CMD...: print the command as a shell would read it, run it, time it.
run ()
{
  local t0=$EPOCHREALTIME
  { printf '$'; printf ' %q' "$@"; printf '\n'; } >&3
  "$@"
  took "$t0"
}

# files DIR: each file of DIR with its size and the space it takes (sparse).
files () { find "$1" -maxdepth 1 -type f ! -name '.*' -printf '   %-28f %12s bytes, %8k KiB on disk\n' | sort; }

say "1. The guest: Debian 12 as VMware runs it (built once, then cached)"
run "$top/tests/guests/guest.sh" debian-vmware > "$work/guest.path" ||
  fail "the test guest could not be built (tests/guests/guest.sh debian-vmware; it needs root, debootstrap and a Debian mirror)"
img=$(cat "$work/guest.path")
echo "   $img"

say "2. Stored as vSphere stores it: a flat base disk and a snapshot delta"
cache=$(dirname "$img")
run "$top/tests/guests/vmware-chain.sh" "$img" "$cache/debian-vmware-chain" "$vm" > "$work/leaf.path"
leaf=$(cat "$work/leaf.path")
files "$(dirname "$leaf")"
grep -a -h -e createType -e parentFileNameHint -e ' VMFS' "$leaf" "${leaf%-000001.vmdk}.vmdk" | sed 's/^/   /'

say "3. A vCenter holding the VM (the h2k-vcsim simulator, on 127.0.0.1)"
mkdir -p "$work/vcsim"
printf '$ h2k-vcsim -vm-disk %q -vm-mac %q ...\n' "$vm=$leaf" "$vm=$mac"
t0=$EPOCHREALTIME
TMPDIR=$work/vcsim "$vcsim" -l 127.0.0.1:0 -username demo -password demo-secret \
  -autostart=false -vm-disk "$vm=$leaf" -vm-mac "$vm=$mac" > "$work/vcsim.env" 2> "$work/vcsim.log" &
sim_pid=$!
for _ in $(seq 600); do
  grep -q '^export VCSIM_PID=' "$work/vcsim.env" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { cat "$work/vcsim.log" >&2; fail "the simulator exited"; }
  sleep 0.1
done
grep -q '^export VCSIM_PID=' "$work/vcsim.env" || fail "the simulator did not start"
eval "$(cat "$work/vcsim.env")"
export GOVC_URL=$VCSIM_URL GOVC_USERNAME GOVC_PASSWORD GOVC_INSECURE=1
took "$t0"
run vs-ls --vm "$vm" --chain > "$work/vm.json"
jq -r '"   \(.name): \(.power_state), \(.firmware), \(.cpus) vCPU, \(.memory_mib) MiB, guest \(.guest_id)",
       (.disks[] | "   disk \(.label): \(.capacity / 1073741824) GiB on \(.controller), chain \(.chain | map(sub("^\\[[^]]*\\] "; "")) | join(" <- "))"),
       (.nics[] | "   nic \(.type) \(.mac) on \(.network)"),
       (.snapshots[] | "   snapshot \(.name)")' "$work/vm.json"

say "4. The migration: h2k-migrate $vm"
run h2k-migrate --out "$work/migrated" "$vm" > /dev/null
out=$work/migrated/$vm
files "$out"
jq -r '.fixes[] | select(.status == "applied") | "   fixed: \(.name)"' "$out/fix-report.json"
jq -r '"   steps: " + ([.steps[] | "\(.name) \(.seconds) s"] | join(", ")),
       "   peak scratch space: \(.peak_scratch_bytes / 1048576 | floor) MiB",
       (.disks[] | "   \(.file): sha256 \(.sha256)")' "$out/migration.json"

say "5. Boot it on KVM's devices: q35, virtio-blk, virtio-net (qemu, TCG here)"
disk=$out/$vm.qcow2
[ -f "$disk" ] || fail "$disk: not written"
run "$top/tests/guests/boot.sh" --format qcow2 --bus virtio --nic virtio \
  --timeout "${H2K_BOOT_TIMEOUT:-600}" "$disk" "$work/console.log" > "$work/marker" ||
  { tail -n 20 "$work/console.log" >&2 || true; fail "the migrated guest did not boot"; }
marker=$(cat "$work/marker")
echo "   the guest says: $marker"
case $marker in *"root=/dev/vda1 "*) echo "   root on /dev/vda1" ;; *) fail "root is not on /dev/vda1: $marker" ;; esac
case $marker in *"up=ens192:up"*) echo "   its NIC is up (as ens192, the name its configuration uses)" ;; *) fail "the NIC is not up: $marker" ;; esac

printf '\ndemo: ok: %s migrated from the simulated vCenter and booted in' "$vm"
took "$demo_start"
