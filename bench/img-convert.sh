#!/usr/bin/env bash
# Benchmark: img-convert against qemu-img convert, in the same run, on a
# 4 GiB monolithicSparse VMDK that is 50% allocated with compressible data
# (1 MiB of text-like data, then a 1 MiB hole, repeated).
#
#   bench/img-convert.sh [WORKDIR]     (default: $H2K_CACHE or ~/.cache/h2k-bench)
#
# Three cases: uncompressed qcow2, zlib-compressed (qemu-img convert -c),
# zstd-compressed.  The tools alternate, RUNS times each (default 3), on a
# warm page cache; the fastest run of each is kept.  Prints a Markdown table: wall time, CPU time (user+sys), peak
# RSS from /usr/bin/time -v, output size, and the wall-time ratio.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${H2K_BIN:-$top/bin}
work=${1:-${H2K_CACHE:-$HOME/.cache/h2k-bench}}
mkdir -p "$work"
cd "$work"

src=bench-4g-50pct.vmdk
if [ ! -f "$src" ]; then
  echo "making $src ..." >&2
  python3 - <<'PY'
import random
random.seed(42)
words = [bytes(random.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(2, 9)))
         for _ in range(4000)]
def block(n):
    out = bytearray()
    while len(out) < n:
        out += b' '.join(random.choice(words) for _ in range(12)) + b' %d\n' % random.getrandbits(32)
    return bytes(out[:n])
blocks = [block(1 << 20) for _ in range(64)]
with open('bench.raw', 'wb') as f:
    f.truncate(4 << 30)
    for i in range(2048):
        f.seek(i * (2 << 20))
        f.write(blocks[i % 64])
PY
  qemu-img convert -f raw -O vmdk -o subformat=monolithicSparse bench.raw "$src"
  rm -f bench.raw
fi

# once CMD...: one run; sets $w $c $r (wall, CPU, peak RSS) and checks
# the output with qemu-img.
once ()
{
  rm -f out.qcow2
  /usr/bin/time -v -o time.txt "$@" > /dev/null
  w=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' time.txt)
  c=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' time.txt)
  r=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' time.txt)
  osize=$(du -m --apparent-size out.qcow2 | cut -f1)
  qemu-img check -q out.qcow2
  qemu-img compare -q "$src" out.qcow2
}

less () { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b == "" || a < b) }'; }

echo "| case | tool | wall (s) | CPU (s) | peak RSS (MiB) | output (MiB) | qemu-img / img-convert wall |"
echo "|---|---|---:|---:|---:|---:|---:|"
# row CASE QEMU-OPTS... -- IMG-CONVERT-OPTS...: the two tools alternate,
# RUNS times each (the machine is shared: alternating spreads the noise
# evenly), and the fastest run of each is reported.
RUNS=${RUNS:-3}
row ()
{
  local case=$1; shift
  local qopts=() iopts=() qw= qc qr qs iw= ic ir is
  while [ "$1" != -- ]; do qopts+=("$1"); shift; done; shift
  iopts=("$@")
  for run in $(seq "$RUNS"); do
    once qemu-img convert -O qcow2 "${qopts[@]}" "$src" out.qcow2
    if less "$w" "$qw"; then qw=$w qc=$c qr=$r qs=$osize; fi
    once "$bin/img-convert" "${iopts[@]}" "$src" out.qcow2
    if less "$w" "$iw"; then iw=$w ic=$c ir=$r is=$osize; fi
  done
  echo "| $case | qemu-img convert ${qopts[*]} | $qw | $qc | $qr | $qs | |"
  echo "| $case | img-convert ${iopts[*]} | $iw | $ic | $ir | $is | $(awk -v a="$qw" -v b="$iw" 'BEGIN { printf "%.2fx", a / b }') |"
}
row "uncompressed" --
row "zlib" -c -- -c
row "zstd" -c -o compression_type=zstd -- -c -o compression_type=zstd
rm -f out.qcow2 time.txt
