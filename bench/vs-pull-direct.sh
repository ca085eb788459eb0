#!/usr/bin/env bash
# vs-pull --direct benchmark: what a service ticket per request costs.
#
#   bench/vs-pull-direct.sh [SIZE_MIB]
#
# One file (default 1024 MiB of random data) in the simulator's datastore
# (tests/vcsim/h2k-vcsim, which plays vCenter and the hosts on one
# address), pulled into tmpfs with -j 4: through vCenter's /folder, and
# with --direct (a ticket per request, --connect-to to reach the "host"),
# with the default chunk size and with --chunk-size 1M (a ticket per
# MiB).  Best of 3 wall seconds each, alternating; every result checked
# with sha256.  Both paths end at the same Go file server, so this
# measures the client's cost of the tickets (one SOAP round trip each,
# made from the transfer loop), not what going around a real vCenter's
# proxy gains.  Prints a Markdown table for bench/RESULTS.md.  Needs jq,
# curl and about SIZE of free disk in $BENCH_DIR (default /tmp) and tmpfs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
size_mib=${1:-1024}
sim=$top/tests/vcsim/h2k-vcsim
[ -x "$sim" ] || { echo "build the simulator first: make vcsim" >&2; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/h2k-bench-direct.XXXXXX")
out=$(mktemp -d /dev/shm/h2k-bench-direct.XXXXXX)
pid=
cleanup () { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work" "$out"; }
trap cleanup EXIT

mkdir -p "$work/ds"
TMPDIR=$work/ds "$sim" -l 127.0.0.1:0 > "$work/env" 2> "$work/log" &
pid=$!
for _ in $(seq 100); do grep -q '^export VCSIM_PID=' "$work/env" 2>/dev/null && break; sleep 0.1; done
eval "$(cat "$work/env")"
port=${VCSIM_HOSTPORT##*:}
ct=()
while read -r h; do ct+=(--connect-to "$h:443:127.0.0.1:$port"); done <<<"$VCSIM_HOSTS"

head -c "${size_mib}M" /dev/urandom > "$VCSIM_DS_0_DIR/disk.bin"
want=$(sha256sum "$VCSIM_DS_0_DIR/disk.bin" | cut -d' ' -f1)
src="[LocalDS_0] disk.bin"
stats () { curl -sk "${VCSIM_URL%/sdk}/h2k/stats" | jq -r .tickets_issued; }

declare -A best tickets
run ()
{
  local name=$1; shift
  rm -f "$out/f"
  local t0 k0 t1
  k0=$(stats)
  t0=$(date +%s.%N)
  vs-pull --thumbprint "$VCSIM_THUMBPRINT" -j 4 -o "$out/f" "$@" "$src"
  t1=$(date +%s.%N)
  [ "$(sha256sum "$out/f" | cut -d' ' -f1)" = "$want" ] || { echo "$name: wrong result" >&2; exit 1; }
  local s
  s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  tickets[$name]=$(( $(stats) - k0 ))
  if [ -z "${best[$name]:-}" ] || awk -v a="$s" -v b="${best[$name]}" 'BEGIN { exit !(a < b) }'; then
    best[$name]=$s
  fi
}

for _ in 1 2 3; do
  run folder
  run direct --direct "${ct[@]}"
  run folder-1M --chunk-size 1M
  run direct-1M --direct "${ct[@]}" --chunk-size 1M
done

echo "| $size_mib MiB, -j 4, into tmpfs | wall s (best of 3) | MiB/s | tickets |"
echo "|---|---|---|---|"
for n in folder direct folder-1M direct-1M; do
  case $n in
    folder) label="through vCenter's /folder" ;;
    direct) label="--direct" ;;
    folder-1M) label="through /folder, --chunk-size 1M" ;;
    direct-1M) label="--direct, --chunk-size 1M" ;;
  esac
  printf '| %s | %.2f | %.0f | %s |\n' "$label" "${best[$n]}" \
    "$(awk -v m="$size_mib" -v s="${best[$n]}" 'BEGIN { print m / s }')" "${tickets[$n]}"
done
