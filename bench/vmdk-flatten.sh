#!/usr/bin/env bash
# Benchmark: flatten a 4 GiB VMDK chain (a base 25% allocated plus three
# snapshot deltas) with vmdk-flatten and with `qemu-img convert -O raw`, in
# the same run, and print wall time and peak RSS (from /usr/bin/time -v).
#
#   bench/vmdk-flatten.sh [WORKDIR]      (default: a directory under /tmp;
#                                         needs about 4 GiB of free space)
# Environment: SIZE_GIB (4), RUNS (3, the best run of each is reported),
# BASELINE (another vmdk-flatten binary, say of an older commit, measured
# in the same run for a before/after row).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
size_gib=${SIZE_GIB:-4}
runs=${RUNS:-3}
work=${1:-$(mktemp -d /tmp/h2k-bench-vmdk.XXXXXX)}
mkdir -p "$work"
trap 'rm -f "$work"/*.raw "$work"/*.part' EXIT
cd "$work"
for c in qemu-img qemu-io vmdk-flatten /usr/bin/time; do
  command -v "$c" >/dev/null || { echo "bench: $c is missing" >&2; exit 1; }
done

mib=$((size_gib * 1024))
if [ ! -f d3.vmdk ]; then
  echo "building the chain in $work ..." >&2
  # Base: 1 MiB of random data in every 4 MiB (25% allocated).
  truncate -s ${size_gib}G base.src
  for ((i = 0; i < mib; i += 4)); do
    echo "$i"
  done | while read -r i; do
    dd if=/dev/urandom of=base.src bs=1M seek="$i" count=1 conv=notrunc status=none
  done
  qemu-img convert -q -O vmdk base.src base.vmdk
  rm -f base.src
  # Three deltas, each rewriting 200 scattered 64 KiB pieces.
  prev=base.vmdk
  for d in 1 2 3; do
    qemu-img create -q -f vmdk -b "$prev" -F vmdk "d$d.vmdk"
    args=()
    for ((j = 0; j < 200; j++)); do
      args+=(-c "write -P $((0x40 + d)) $(( (RANDOM * 32768 + RANDOM) % (mib * 16) * 65536 )) 64k")
    done
    qemu-io -f vmdk "${args[@]}" "d$d.vmdk" >/dev/null
    prev=d$d.vmdk
  done
fi

# measure NAME CMD...: best wall time (s), its CPU time (user + system,
# s: a steadier figure on a shared machine) and peak RSS (KiB).
measure ()
{
  local name=$1; shift
  local best= rss= cpu=
  for ((r = 0; r < runs; r++)); do
    rm -f out.raw out.raw.part
    /usr/bin/time -v -o time.txt "$@" >/dev/null
    local wall kb c
    wall=$(awk -F': ' '/Elapsed/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' time.txt)
    kb=$(awk -F': ' '/Maximum resident/ { print $2 }' time.txt)
    c=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' time.txt)
    if [ -z "$best" ] || awk "BEGIN { exit !($wall < $best) }"; then
      best=$wall rss=$kb cpu=$c
    fi
  done
  echo "$name $best $rss $cpu"
}

q=$(measure qemu qemu-img convert -O raw d3.vmdk out.raw)
# vmdk-flatten fsyncs OUTPUT.part before the rename; qemu-img does not wait
# for the disk.  The same durability: qemu-img, then sync of the file.
qs=$(measure qemusync sh -c 'qemu-img convert -O raw d3.vmdk out.raw && sync out.raw')
cp --sparse=always out.raw qemu.raw
v=$(measure flatten vmdk-flatten d3.vmdk out.raw)
qemu-img compare -q -f raw -F raw out.raw qemu.raw || { echo "bench: OUTPUTS DIFFER" >&2; exit 1; }
b=
if [ -n "${BASELINE:-}" ]; then
  b=$(measure baseline "$BASELINE" d3.vmdk out.raw)
  qemu-img compare -q -f raw -F raw out.raw qemu.raw || { echo "bench: BASELINE OUTPUT DIFFERS" >&2; exit 1; }
fi
s=$(measure stdout sh -c 'vmdk-flatten d3.vmdk - > /dev/null')
m=$(measure map sh -c 'vmdk-flatten --map d3.vmdk > /dev/null')
rm -f qemu.raw

read -r _ qw qr qc <<<"$q"
echo "| run | wall (s) | wall vs qemu-img | CPU (s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"
printf '| qemu-img convert -O raw | %s | 1.00 | %s | %.1f |\n' "$qw" "$qc" "$(echo "$qr / 1024" | bc -l)"
for line in "$qs" "$v" ${b:+"$b"} "$s" "$m"; do
  read -r name w r c <<<"$line"
  case $name in
    qemusync) label="qemu-img convert -O raw, then sync FILE" ;;
    baseline) label="BASELINE $BASELINE (sparse file)" ;;
    flatten) label="vmdk-flatten (sparse file)" ;;
    stdout)  label="vmdk-flatten - (stdout, every byte)" ;;
    map)     label="vmdk-flatten --map" ;;
  esac
  printf '| %s | %s | %.2f | %s | %.1f |\n' "$label" "$w" "$(echo "$w / $qw" | bc -l)" "$c" "$(echo "$r / 1024" | bc -l)"
done
