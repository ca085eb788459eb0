#!/usr/bin/env bash
# vs-cbt benchmark: one incremental CBT cycle (vs-cbt --snapshot --since,
# vs-pull --patch, vs-cbt --release) against a full re-pull of the same
# disk (vs-pull -o, and curl), in one run, on the simulator.
#
#   bench/vs-cbt.sh [SIZE_MIB] [CHANGED_PERCENT]
#
# A VM with one disk of SIZE_MIB (default 4096) of random data; a first
# cycle copies it all; then CHANGED_PERCENT (default 1) of it is rewritten
# in scattered 256 KiB runs at unaligned offsets, and the incremental cycle
# is timed against the full pulls.  Bytes fetched are counted at the
# server (/h2k/folder-bytes); the changed bytes rounded to 64 KiB blocks
# are computed here from the writes.  Aims: bytes fetched <= 1.05 x the
# changed blocks, incremental wall <= 0.05 x the full pull.  Every copy is
# checked with sha256 after the timing.  Prints a Markdown table for
# bench/RESULTS.md.  Needs jq, curl, python3, /usr/bin/time, make vcsim,
# and 3 x SIZE of free disk in $BENCH_DIR (default /tmp).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
size_mib=${1:-4096}
pct=${2:-1}
size=$(( size_mib * 1048576 ))
work=${BENCH_DIR:-${TMPDIR:-/tmp}}/h2k-bench-vs-cbt
rm -rf "$work"
mkdir -p "$work/ds"
vm=DC0_H0_VM0

TMPDIR=$work/ds "$top/tests/vcsim/h2k-vcsim" -l 127.0.0.1:0 -cbt-disks "$vm=$size" \
  > "$work/env" 2> "$work/log" &
sim=$!
trap 'kill "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q '^export VCSIM_PID=' "$work/env" 2>/dev/null && break; sleep 0.1; done
eval "$(cat "$work/env")"
export GOVC_INSECURE=1
dsdir=$VCSIM_DS_0_DIR/$vm
flat=$dsdir/disk1-flat.vmdk
head -c "$size" /dev/urandom > "$flat"
printf '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\nRW %d VMFS "disk1-flat.vmdk"\n' \
  $(( size / 512 )) > "$dsdir/disk1.vmdk"

folder_bytes () { curl -sfk "https://$VCSIM_HOSTPORT/h2k/folder-bytes" | jq .bytes; }
# timed NAME CMD...: "wall rss_kib" of CMD into $work/NAME.time.
timed ()
{
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@"
}

vs-cbt --vm "$vm" --enable 2>/dev/null
vs-cbt --vm "$vm" --snapshot > "$work/c1.jsonl"
vs-pull --patch "$work/copy.raw" < "$work/c1.jsonl"
vs-cbt --vm "$vm" --release < "$work/c1.jsonl"

# The guest writes: scattered 256 KiB runs, unaligned.
run=262144
nruns=$(( size * pct / 100 / run ))
python3 - "$flat" "$size" "$run" "$nruns" > "$work/writes" <<'EOF'
import os, random, sys
path, size, run, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(42)
with open(path, 'r+b') as f:
    for _ in range(n):
        off = rng.randrange(0, size - run)
        f.seek(off)
        f.write(os.urandom(run))
        print(off, run)
EOF
changed=$(python3 - "$work/writes" <<'EOF'
import sys
block = 65536
blocks = set()
for line in open(sys.argv[1]):
    off, n = map(int, line.split())
    blocks.update(range(off // block, (off + n - 1) // block + 1))
print(len(blocks) * block)
EOF
)
written=$(( nruns * run ))

# The incremental cycle, step by step.
b0=$(folder_bytes)
start=$(date +%s.%N)
timed snapshot vs-cbt --vm "$vm" --snapshot --since "$work/c1.jsonl" > "$work/c2.jsonl"
timed patch vs-pull --patch "$work/copy.raw" < "$work/c2.jsonl"
timed release vs-cbt --vm "$vm" --release < "$work/c2.jsonl"
end=$(date +%s.%N)
inc_wall=$(jq -n --argjson a "$start" --argjson b "$end" '$b - $a')
inc_fetched=$(( $(folder_bytes) - b0 ))
reported=$(jq -s 'map(.length) | add' "$work/c2.jsonl")

# The full re-pulls.
b0=$(folder_bytes)
timed full vs-pull -o "$work/full.raw" "[$VCSIM_DS_0_NAME] $vm/disk1-flat.vmdk"
full_fetched=$(( $(folder_bytes) - b0 ))
jar=$work/jar
printf '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>%s</userName><password>%s</password></Login></soapenv:Body></soapenv:Envelope>' "$GOVC_USERNAME" "$GOVC_PASSWORD" \
  | curl -sk -c "$jar" "$VCSIM_URL" -H 'Content-Type: text/xml' --data-binary @- >/dev/null
timed curl curl -sfk -b "$jar" -o "$work/curl.raw" \
  "https://$VCSIM_HOSTPORT/folder/$vm/disk1-flat.vmdk?dcPath=DC0&dsName=$VCSIM_DS_0_NAME"

want=$(sha256sum "$flat" | cut -d' ' -f1)
for f in copy full curl; do
  got=$(sha256sum "$work/$f.raw" | cut -d' ' -f1)
  [ "$got" = "$want" ] || { echo "bench: $f.raw differs from the disk" >&2; exit 1; }
done

read -r snap_wall snap_rss < "$work/snapshot.time"
read -r patch_wall patch_rss < "$work/patch.time"
read -r rel_wall rel_rss < "$work/release.time"
read -r full_wall full_rss < "$work/full.time"
read -r curl_wall curl_rss < "$work/curl.time"
ratio () { jq -n --argjson a "$1" --argjson b "$2" '$a / $b * 1000 | round / 1000'; }

cat <<EOF
Disk: $size_mib MiB of random data; $nruns runs of 256 KiB at unaligned random
offsets ($written bytes written, $pct%), touching $changed bytes of 64 KiB blocks.
All copies checked identical by sha256.

| step | wall (s) | peak RSS (MiB) | bytes fetched |
|---|---:|---:|---:|
| vs-cbt --snapshot --since | $snap_wall | $(( snap_rss / 1024 )) | |
| vs-pull --patch | $patch_wall | $(( patch_rss / 1024 )) | $inc_fetched |
| vs-cbt --release | $rel_wall | $(( rel_rss / 1024 )) | |
| **incremental cycle** | $(jq -n --argjson w "$inc_wall" '$w * 100 | round / 100') | | $inc_fetched |
| full re-pull, vs-pull -o | $full_wall | $(( full_rss / 1024 )) | $full_fetched |
| full re-pull, curl | $curl_wall | $(( curl_rss / 1024 )) | $size |

* CBT reported $reported bytes; fetched / changed blocks = $(ratio "$inc_fetched" "$changed") (aim <= 1.05);
  fetched / bytes written = $(ratio "$inc_fetched" "$written").
* incremental wall / full vs-pull = $(ratio "$inc_wall" "$full_wall") (aim <= 0.05);
  vs-pull --patch alone / full vs-pull = $(ratio "$patch_wall" "$full_wall");
  incremental wall / curl = $(ratio "$inc_wall" "$curl_wall").
EOF
