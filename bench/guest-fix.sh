#!/usr/bin/env bash
# guest-fix against virt-v2v on the same disk, in one run.
#
#   bench/guest-fix.sh [WORKDIR]
#
# Both start from the same qcow2 copy of the VMware-like Debian test guest
# (tests/guests/, built and cached if needed).  guest-fix fixes its copy in
# place; virt-v2v -i disk -o local converts its copy into WORKDIR/v2v (it
# also copies the disk, which is part of what a user waits for; its own
# timeline gives the conversion phase alone too).  Wall time
# and peak RSS (the largest process, qemu included, from /usr/bin/time -v)
# are printed as a Markdown table for bench/RESULTS.md.  Both use TCG
# unless H2K_TEST_KVM=1, as the tests do.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$top/bin:$PATH
. "$top/tests/guests/common.sh"
command -v virt-v2v >/dev/null || { echo "virt-v2v is not installed" >&2; exit 1; }
command -v guest-fix >/dev/null || { echo "build guest-fix first (make)" >&2; exit 1; }

work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/h2k-bench-guest-fix.XXXXXX")}
mkdir -p "$work/v2v"
img=$("$top/tests/guests/guest.sh" debian-vmware)
qemu-img convert -O qcow2 "$img" "$work/gf.qcow2"
cp "$work/gf.qcow2" "$work/v2v-in.qcow2"

# measure NAME CMD...: wall seconds and peak RSS in MiB, from time -v.
measure ()
{
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" ||
    { echo "$name failed:" >&2; tail -n 20 "$work/$name.err" >&2; exit 1; }
  awk -v n="$name" '
    /Elapsed \(wall clock\)/ { split($NF, t, ":"); s = (length(t) == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /Maximum resident set size/ { r = $NF / 1024 }
    END { printf "%s %.1f %.0f\n", n, s, r }' "$work/$name.time"
}

gf=$(measure guest-fix guest-fix "$work/gf.qcow2")
v2v=$(measure virt-v2v virt-v2v -i disk "$work/v2v-in.qcow2" -o local -os "$work/v2v" -of raw)
# virt-v2v prints its own timeline: the guest conversion (what guest-fix
# does) ends where it starts mapping the data it will copy.
v2v_conv=$(sed -n 's/^\[ *\([0-9.]*\)\] Mapping filesystem data.*/\1/p' "$work/virt-v2v.out")
read -r _ gf_s gf_m <<< "$gf"
read -r _ v_s v_m <<< "$v2v"
echo "| tool | wall (s) | peak RSS (MiB) |"
echo "|---|---:|---:|"
echo "| guest-fix | $gf_s | $gf_m |"
echo "| virt-v2v -i disk -o local | $v_s | $v_m |"
echo "| virt-v2v, conversion phase only (its own timeline) | ${v2v_conv:-?} | |"
awk -v a="$gf_s" -v b="$v_s" 'BEGIN { printf "\nguest-fix / virt-v2v wall time: %.2f\n", a / b }'
echo "(work files in $work)"
