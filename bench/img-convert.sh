#!/usr/bin/env bash
# Benchmark: img-convert against qemu-img convert, in the same run, on a
# 4 GiB monolithicSparse VMDK that is 50% allocated with compressible data
# (1 MiB of text-like data, then a 1 MiB hole, repeated).
#
#   bench/img-convert.sh [WORKDIR]     (default: $H2K_CACHE or ~/.cache/h2k-bench)
#   RUNS=N                             runs of each command (default 3)
#   CASES="uncompressed durable floor zlib zstd"   which rows (default all)
#
# Cases: uncompressed qcow2; the same with qemu-img followed by `sync FILE`
# (img-convert always fsyncs before renaming OUTPUT.part into place, qemu-img
# does not wait for the data to reach the disk); zlib (qemu-img convert -c);
# zstd; and the floor for writing those bytes durably: the same data as a
# sparse raw file copied with `cp --sparse=always` and `sync FILE`, against
# img-convert -O raw from the VMDK.  The compressed cases also run img-convert with -j 8, as many
# threads as qemu-img's pool uses at once, which matters on a shared
# machine (see bench/RESULTS.md).  The commands alternate on a warm page
# cache and the fastest run of each is kept.  Every output is checked with
# qemu-img check and compare.  Prints a Markdown table: wall time, CPU
# time (user+sys), peak RSS from /usr/bin/time -v, output size, and the
# wall-time ratio qemu-img / img-convert.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${H2K_BIN:-$top/bin}
work=${1:-${H2K_CACHE:-$HOME/.cache/h2k-bench}}
RUNS=${RUNS:-3}
CASES=${CASES:-uncompressed durable floor zlib zstd}
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

# once CMD...: one run; sets $w $c $r $osize and checks the output
# (OUT=out.raw for the raw rows, compared with the source by qemu-img).
once ()
{
  local out=${OUT:-out.qcow2}
  rm -f "$out"
  /usr/bin/time -v -o time.txt "$@" > /dev/null
  w=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' time.txt)
  c=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.2f", u + s }' time.txt)
  r=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' time.txt)
  osize=$(du -m --apparent-size "$out" | cut -f1)
  [ "$out" = out.raw ] || qemu-img check -q "$out"
  qemu-img compare -q "$src" "$out"
}

faster () { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b == "" || a < b) }'; }

# row CASE QEMU-SHELL-CMD IMG-CONVERT-OPTS...: QEMU-SHELL-CMD gets the input
# and output as $1 $2; each further argument is one set of img-convert
# options ("" for none).
row ()
{
  local case=$1 qcmd=$2; shift 2
  local -a opts=("$@") bw=() bc=() br=() bs=()
  local n=$(( ${#opts[@]} + 1 )) i
  for run in $(seq "$RUNS"); do
    for (( i = 0; i < n; i++ )); do
      if [ "$i" -eq 0 ]; then
        once sh -c "$qcmd" sh "$src" out.qcow2
      else
        # shellcheck disable=SC2086
        once "$bin/img-convert" ${opts[$((i - 1))]} "$src" "${OUT:-out.qcow2}"
      fi
      if faster "$w" "${bw[$i]:-}"; then bw[$i]=$w bc[$i]=$c br[$i]=$r bs[$i]=$osize; fi
    done
  done
  echo "| $case | \`$qcmd\` | ${bw[0]} | ${bc[0]} | ${br[0]} | ${bs[0]} | |"
  for (( i = 1; i < n; i++ )); do
    echo "| $case | \`img-convert ${opts[$((i - 1))]}\` | ${bw[$i]} | ${bc[$i]} | ${br[$i]} | ${bs[$i]} | $(awk -v a="${bw[0]}" -v b="${bw[$i]}" 'BEGIN { printf "%.2fx", a / b }') |"
  done
}

echo "| case | command | wall (s) | CPU (s) | peak RSS (MiB) | output (MiB) | qemu-img / img-convert wall |"
echo "|---|---|---:|---:|---:|---:|---:|"
want () { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
want uncompressed && row "uncompressed" 'qemu-img convert -O qcow2 "$1" "$2"' ""
want durable && row "uncompressed, durable" 'qemu-img convert -O qcow2 "$1" "$2" && sync "$2"' ""
if want floor; then
  [ -f bench-4g-50pct.raw ] || qemu-img convert -O raw "$src" bench-4g-50pct.raw
  OUT=out.raw row "floor (raw, durable)" 'cp --sparse=always bench-4g-50pct.raw "$2" && sync "$2"' "-O raw"
fi
want zlib && row "zlib" 'qemu-img convert -O qcow2 -c "$1" "$2"' "-c" "-c -j 8"
want zstd && row "zstd" 'qemu-img convert -O qcow2 -c -o compression_type=zstd "$1" "$2"' \
  "-c -o compression_type=zstd" "-c -o compression_type=zstd -j 8"
rm -f out.qcow2 out.raw time.txt
