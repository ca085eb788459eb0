#!/usr/bin/env bash
# scripts/migrate.mk on a batch of small VMs from the simulator: one host
# at make -j1, -j2 and -j4, then GNU parallel over two loopback sshd hosts
# (127.0.0.2 and 127.0.0.3, one job at a time each), in one run.
#
#   bench/migrate-batch.sh [WORKDIR]          (as root: the sshd hosts)
#   BATCH_VMS=10 SIZE_MIB=8 bench/migrate-batch.sh
#
# The VMs are made by h2k-vcsim's -vm-disk: each a single flat VMDK of
# SIZE_MIB (half of it data), so h2k-migrate streams it (vs-pull -o - |
# img-convert) without a pull directory.  h2k-migrate runs with --no-fix:
# no libguestfs appliance, so what is measured is the batch layer, the
# inventory, the copy and the conversion, not a guest's conversion under
# TCG.  Each run starts from an empty OUT; migrate.mk checks every disk
# (qemu-img check) and the run must report every VM migrated.
#
# Printed as a Markdown table for bench/RESULTS.md: wall time (of the
# make, /usr/bin/time -v), peak memory two ways: the sum of the RSS of the
# whole process tree (make and its children, and for the hosts run the
# processes under the two sshd too), sampled with ps every 0.25 s, and the
# largest single process as /usr/bin/time -v reports it (the local tree
# only: what runs under sshd is not make's child); and the load average
# (1 min) before and after each run.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export H2K_TOP=$top H2K_BIN=$top/bin
export PATH=$top/bin:$top/scripts:$PATH
vms=${BATCH_VMS:-10}
size_mib=${SIZE_MIB:-8}
for c in make parallel ssh /usr/sbin/sshd jq qemu-img qemu-io /usr/bin/time img-convert vs-ls vs-pull virt-define; do
  command -v "$c" >/dev/null || { echo "$c is not installed or built (make all)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "run as root: the two sshd hosts log in as root" >&2; exit 1; }

work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/h2k-bench-batch.XXXXXX")}
mkdir -p "$work"
work=$(cd "$work" && pwd)

# The test helpers for the simulator and the sshd hosts want a scratch
# directory ($tmp), cleanup_fn and skip_all: these are the bench's.
# shellcheck disable=SC2034  # read by the sourced helpers
tmp=$work
cleanups=()
cleanup_fn () { cleanups+=("$(printf '%q ' "$@")"); }
skip_all () { echo "$*" >&2; exit 1; }
run_cleanups ()
{
  local i
  for (( i=${#cleanups[@]}-1; i>=0; i-- )); do eval "${cleanups[$i]}" >/dev/null 2>&1 || true; done
}
trap run_cleanups EXIT
# shellcheck source=tests/vcsim/vcsim.sh disable=SC1091
. "$top/tests/vcsim/vcsim.sh"
# shellcheck source=tests/helpers/sshd.sh disable=SC1091
. "$top/tests/helpers/sshd.sh"
[ -x "$VCSIM_BIN" ] || { echo "the simulator is not built (make vcsim)" >&2; exit 1; }

# The disks: NAME.vmdk (a vmfs descriptor) and NAME-flat.vmdk.
mkdir -p "$work/disks"
args=()
: > "$work/vms.txt"
for i in $(seq -w 1 "$vms"); do
  n=batch$i
  mkdir -p "$work/disks/$n"
  truncate -s "${size_mib}M" "$work/disks/$n/$n-flat.vmdk"
  qemu-io -f raw -c "write -P 0x$((10 + 10#$i)) 0 $((size_mib / 2))M" "$work/disks/$n/$n-flat.vmdk" >/dev/null
  printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=fffffffe' 'parentCID=ffffffff' \
    'createType="vmfs"' '' '# Extent description' "RW $((size_mib * 2048)) VMFS \"$n-flat.vmdk\"" \
    > "$work/disks/$n/$n.vmdk"
  args+=(-vm-disk "$n=$work/disks/$n/$n.vmdk")
  printf '%s\n' "$n" >> "$work/vms.txt"
done

# The connection: the password in a file every host reads, never on the
# ssh command line (migrate.mk refuses GOVC_PASSWORD with HOSTS).
password=bench-$RANDOM$RANDOM
printf '%s\n' "$password" > "$work/password"
chmod 600 "$work/password"
start_vcsim -username bench -password "$password" "${args[@]}"
unset GOVC_PASSWORD
export GOVC_URL=$VCSIM_URL GOVC_USERNAME=bench GOVC_INSECURE=1
flags="--no-fix --password-file=$work/password"

sshd_setup "$work/ssh"
sshd_start 127.0.0.2
sshd_start 127.0.0.3
sshd_hosts_file "$work/hosts.txt" 127.0.0.2 127.0.0.3
for a in 127.0.0.2 127.0.0.3; do
  sshd_wait_up 60 "$a" || { echo "sshd on $a does not take the key: $(cat "$work/ssh/sshd-$a.log")" >&2; exit 1; }
done

# tree_rss ROOT...: the RSS in KiB of ROOTs' descendants (not the ROOTs).
tree_rss ()
{
  ps -e -o pid=,ppid=,rss= | awk -v roots=" $* " '
    { parent[$1] = $2; rss[$1] = $3 }
    END {
      for (p in parent) {
        for (q = parent[p]; q != "" && q > 1; q = parent[q])
          if (index(roots, " " q " ")) { sum += rss[p]; break }
      }
      print sum + 0
    }'
}

# sample OUT ROOT...: the largest tree_rss seen, every 0.25 s, into OUT,
# until killed.
sample ()
{
  local out=$1 peak=0 now; shift
  while :; do
    now=$(tree_rss "$@")
    [ "$now" -le "$peak" ] || { peak=$now; echo "$peak" > "$out"; }
    sleep 0.25
  done
}

load1 () { cut -d' ' -f1 /proc/loadavg; }

# measure NAME MAKE-ARGS...: one batch; prints "NAME wall tree-MiB
# largest-MiB load-before load-after".
measure ()
{
  local name=$1 o=$work/out-$1 before after; shift
  rm -rf "$o"
  echo 0 > "$work/$name.peak"
  before=$(load1)
  # The sampler counts the descendants of the runner (time, make and
  # what make starts) and of the two sshd, never itself.
  /usr/bin/time -v -o "$work/$name.time" \
    make -s -f "$top/scripts/migrate.mk" VMS= VMLIST="$work/vms.txt" OUT="$o" \
    H2K_MIGRATE="$top/scripts/h2k-migrate" FLAGS="$flags" "$@" \
    > "$work/$name.out" 2> "$work/$name.err" &
  local runner=$!
  sample "$work/$name.peak" "$runner" "${sshd_pid[127.0.0.2]}" "${sshd_pid[127.0.0.3]}" &
  local sampler=$!
  local st=0
  wait "$runner" || st=$?
  kill "$sampler"
  wait "$sampler" 2>/dev/null || true
  after=$(load1)
  if [ "$st" -ne 0 ] || ! grep -qx "migrate.mk: $vms migrated, 0 failed, 0 skipped (logs in $o/logs/)" "$work/$name.out"; then
    echo "$name failed (exit $st):" >&2
    tail -n 20 "$work/$name.out" "$work/$name.err" >&2
    exit 1
  fi
  awk -v n="$name" -v tree="$(cat "$work/$name.peak")" -v b="$before" -v a="$after" '
    /Elapsed \(wall clock\)/ { split($NF, t, ":"); s = (length(t) == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /Maximum resident set size/ { r = $NF / 1024 }
    END { printf "%s %.1f %.0f %.0f %s %s\n", n, s, tree / 1024, r, b, a }' "$work/$name.time"
}

results=()
for j in 1 2 4; do
  r=$(measure "j$j" -j"$j")
  results+=("$r")
done
r=$(measure hosts HOSTS="$work/hosts.txt" PASS_ENV="PATH GOVC_URL GOVC_USERNAME GOVC_INSECURE")
results+=("$r")
per_host=$(grep -o 'host root@127\.0\.0\.[23]: [0-9]* VMs migrated' "$work/hosts.err" | sed 's/host root@//; s/ VMs migrated//' | tr '\n' ',' | sed 's/,$//; s/,/, /g')

echo "| run | wall (s) | VMs/min | peak RSS, process tree (MiB) | largest process (MiB) | load avg before / after |"
echo "|---|---:|---:|---:|---:|---|"
for r in "${results[@]}"; do
  read -r n s tree big b a <<< "$r"
  case $n in
    hosts) label="HOSTS: 2 sshd on loopback, 1 job each" ;;
    *) label="one host, make ${n/j/-j}" ;;
  esac
  awk -v l="$label" -v s="$s" -v t="$tree" -v m="$big" -v b="$b" -v a="$a" -v v="$vms" \
    'BEGIN { printf "| %s | %s | %.1f | %s | %s | %s / %s |\n", l, s, v * 60 / s, t, m, b, a }'
done
read -r _ s1 _ <<< "${results[0]}"
for r in "${results[@]:1}"; do
  read -r n s _ <<< "$r"
  awk -v n="$n" -v a="$s1" -v b="$s" 'BEGIN { printf "%s: %.2fx the speed of -j1\n", n, a / b }'
done
echo "$vms VMs of $size_mib MiB ($((size_mib / 2)) MiB data each), h2k-migrate --no-fix; $(nproc) CPUs; per host: $per_host"
echo "(work files in $work)"
