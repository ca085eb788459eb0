#!/usr/bin/env bash
# Benchmark: the block-device readers (VHD, VHDX, qcow2) against qemu-img,
# in the same run.  Each image is read whole into a sparse raw file, by
# tests' bdev-cat (h2k_chain_open + h2k_bdev_extents/pread, the path
# img-convert takes) and by `qemu-img convert -O raw`; wall time, CPU and
# peak RSS come from /usr/bin/time.  Prints one Markdown table row per
# image; ratios above 1 mean h2k is faster.  The raw output goes to OUT_DIR (default /dev/shm, a tmpfs), so
# that the disk's write speed does not hide the readers' own cost.
#
#   bench/readers.sh [WORKDIR]     (default: a directory under /tmp)
# Environment: SIZE_GIB (1), RUNS (3, the best run of each is reported),
# OUT_DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cat=$top/bin/tests/bdev-cat
size_gib=${SIZE_GIB:-1}
runs=${RUNS:-3}
work=${1:-$(mktemp -d /tmp/h2k-bench-readers.XXXXXX)}
mkdir -p "$work"
out=${OUT_DIR:-/dev/shm}/h2k-bench-readers.$$.raw
trap 'rm -f "$out"' EXIT
cd "$work"
for c in qemu-img python3 /usr/bin/time "$cat"; do
  command -v "$c" >/dev/null || { echo "bench: $c is missing (make check builds bdev-cat)" >&2; exit 1; }
done

if [ ! -f src.raw ]; then
  echo "building a ${size_gib} GiB source, half allocated, compressible ..." >&2
  python3 - "$size_gib" <<'PY'
import random, sys
gib = int(sys.argv[1])
r = random.Random(7)
words = [bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(r.randrange(2, 9))) for _ in range(2000)]
with open("src.raw", "wb") as f:
    f.truncate(gib << 30)
    for mib in range(0, gib << 10, 2):      # 1 MiB of text in every 2 MiB
        f.seek(mib << 20)
        buf = b" ".join(r.choice(words) for _ in range(200000))[:1 << 20]
        f.write(buf.ljust(1 << 20, b"."))
PY
fi
make_img ()
{
  [ -f "$1" ] || qemu-img convert -q -f raw "${@:2}" src.raw "$1"
}
make_img vhd-dynamic.vhd -O vpc -o subformat=dynamic,force_size=on
make_img vhd-fixed.vhd -O vpc -o subformat=fixed,force_size=on
make_img vhdx-dynamic.vhdx -O vhdx
make_img qcow2.qcow2 -O qcow2
make_img qcow2-zlib.qcow2 -O qcow2 -c
make_img qcow2-zstd.qcow2 -O qcow2 -c -o compression_type=zstd

# best CMD...: the fastest of $runs runs as "wall cpu rss_mib".
best ()
{
  local b="" i
  for ((i = 0; i < runs; i++)); do
    rm -f "$out"
    /usr/bin/time -f '%e %U %S %M' -o t "$@" >/dev/null 2>&1
    local line
    line=$(awk '{ printf "%.2f %.2f %.1f", $1, $2 + $3, $4 / 1024 }' t)
    if [ -z "$b" ] || awk -v a="${line%% *}" -v c="${b%% *}" 'BEGIN { exit !(a < c) }'; then
      b=$line
    fi
  done
  echo "$b"
}

echo "| image | bdev-cat wall (s) | CPU (s) | RSS (MiB) | qemu-img wall (s) | CPU (s) | RSS (MiB) | wall ratio | CPU ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for spec in vhd-dynamic.vhd:vpc vhd-fixed.vhd:vpc vhdx-dynamic.vhdx:vhdx \
            qcow2.qcow2:qcow2 qcow2-zlib.qcow2:qcow2 qcow2-zstd.qcow2:qcow2; do
  img=${spec%%:*} fmt=${spec#*:}
  read -r hw hc hr <<<"$(best "$cat" "$img" "$out")"
  sum_h=$(sha256sum < "$out")
  # -f: qemu-img detects a fixed VHD as raw.
  read -r qw qc qr <<<"$(best qemu-img convert -f "$fmt" -O raw "$img" "$out")"
  sum_q=$(sha256sum < "$out")
  [ "$sum_h" = "$sum_q" ] || { echo "bench: $img: outputs differ" >&2; exit 1; }
  ratio=$(awk -v a="$qw" -v b="$hw" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  cratio=$(awk -v a="$qc" -v b="$hc" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  echo "| $img ($(du -h "$img" | cut -f1)) | $hw | $hc | $hr | $qw | $qc | $qr | ${ratio}x | ${cratio}x |"
done
