#!/usr/bin/env bash
# h2k's migration steps against virt-v2v on the same local VM folder, in
# one run.
#
#   bench/h2k-migrate.sh [WORKDIR]
#
# The VM folder is the demo's: the VMware-like Debian test guest
# (tests/guests/, built and cached if needed) stored as vSphere stores it
# (tests/guests/vmware-chain.sh: a flat base disk and a COWD snapshot
# delta), with a VMX describing it (BIOS, pvscsi, vmxnet3).  Both tools
# read the folder in place:
#
#   h2k:      img-convert LEAF.vmdk OUT/debian12.qcow2   (the chain, straight)
#             guest-fix OUT/debian12.qcow2 > OUT/fix-report.json
#             virt-define --disk OUT/debian12.qcow2 VM.vmx > OUT/debian12.xml
#   virt-v2v: virt-v2v -i vmx VM.vmx -o local -os OUT -of qcow2
#
# (what h2k-migrate runs after its pull, without a vCenter).  Printed as a
# Markdown table for bench/RESULTS.md: wall time, peak RSS of the largest
# process (/usr/bin/time -v) and peak scratch space (the output directory
# and the tool's temporary directory, sampled every 0.5 s).  Both use TCG
# unless H2K_TEST_KVM=1, as the tests do.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$top/bin:$PATH H2K_BIN=$top/bin
. "$top/tests/guests/common.sh"
for c in virt-v2v img-convert guest-fix virt-define /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "$c is not installed or built (make all)" >&2; exit 1; }
done

work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/h2k-bench-migrate.XXXXXX")}
mkdir -p "$work/vm" "$work/h2k" "$work/v2v" "$work/h2k-tmp" "$work/v2v-tmp"
img=$("$top/tests/guests/guest.sh" debian-vmware)
leaf=$("$top/tests/guests/vmware-chain.sh" "$img" "$(dirname "$img")/debian-vmware-chain" debian12)
for f in "$(dirname "$leaf")"/debian12*.vmdk; do
  ln -f "$f" "$work/vm/" 2>/dev/null || cp --sparse=always "$f" "$work/vm/"
done
cat > "$work/vm/debian12.vmx" <<'EOF'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "13"
displayName = "debian12"
guestOS = "debian12-64"
firmware = "bios"
numvcpus = "1"
memSize = "1024"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:0.fileName = "debian12-000001.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "static"
ethernet0.address = "00:50:56:9a:0b:1c"
ethernet0.pciSlotNumber = "192"
EOF

# sample DIR... : the largest total allocated size of DIRs seen, every
# 0.5 s, until killed; written to $work/$name.peak.
sample ()
{
  local out=$1 peak=0 now
  shift
  while :; do
    now=$(du -sB1 -c "$@" 2>/dev/null | tail -n 1 | cut -f1)
    [ "${now:-0}" -le "$peak" ] || { peak=$now; echo "$peak" > "$out"; }
    sleep 0.5
  done
}

# measure NAME CMD...: wall seconds, peak RSS in MiB, peak scratch in MiB.
measure ()
{
  local name=$1; shift
  echo 0 > "$work/$name.peak"
  sample "$work/$name.peak" "$work/$name" "$work/$name-tmp" &
  local sampler=$!
  TMPDIR=$work/$name-tmp /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" ||
    { kill "$sampler"; echo "$name failed:" >&2; tail -n 20 "$work/$name.err" >&2; exit 1; }
  kill "$sampler"
  wait "$sampler" 2>/dev/null || true
  awk -v n="$name" -v peak="$(cat "$work/$name.peak")" '
    /Elapsed \(wall clock\)/ { split($NF, t, ":"); s = (length(t) == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /Maximum resident set size/ { r = $NF / 1024 }
    END { printf "%s %.1f %.0f %.0f\n", n, s, r, peak / 1048576 }' "$work/$name.time"
}

h2k_steps ()
{
  local o=$work/h2k
  img-convert "$work/vm/debian12-000001.vmdk" "$o/debian12.qcow2"
  guest-fix "$o/debian12.qcow2" > "$o/fix-report.json"
  virt-define --disk "$o/debian12.qcow2" "$work/vm/debian12.vmx" > "$o/debian12.xml"
}
export -f h2k_steps
export work

h=$(measure h2k bash -c h2k_steps)
v=$(measure v2v virt-v2v -i vmx "$work/vm/debian12.vmx" -o local -os "$work/v2v" -of qcow2)
read -r _ h_s h_m h_d <<< "$h"
read -r _ v_s v_m v_d <<< "$v"
input=$(du -sB1 "$work/vm" | cut -f1)
echo "| tool | wall (s) | peak RSS (MiB) | peak scratch (MiB) |"
echo "|---|---:|---:|---:|"
echo "| h2k: img-convert + guest-fix + virt-define | $h_s | $h_m | $h_d |"
echo "| virt-v2v -i vmx -o local -of qcow2 | $v_s | $v_m | $v_d |"
awk -v a="$h_s" -v b="$v_s" -v i="$input" 'BEGIN { printf "\nh2k / virt-v2v wall time: %.2f; the VM folder (input) holds %.0f MiB\n", a / b, i / 1048576 }'
echo "(work files in $work)"
