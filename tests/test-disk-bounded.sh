#!/usr/bin/env bash
# Memory stays bounded whatever the disk size: 2 TiB sparse VHDX and qcow2
# images and a 2000 GiB VHD, each with a few MiB of data, are mapped and
# read in full (to a sparse file) with a peak RSS far below 64 MiB: tables
# are cached, never loaded whole in proportion to the disk.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires qemu-io --version
requires /usr/bin/time --version

cat=$H2K_BIN/tests/bdev-cat
cd "$tmp"

for spec in vhdx:2T vpc:2000G qcow2:2T; do
  fmt=${spec%%:*} size=${spec#*:}
  qemu-img create -q -f "$fmt" big.img "$size"
  qemu-io -f "$fmt" -c 'write -P 0x77 1G 4M' -c 'write -P 0x78 1000G 1M' big.img >/dev/null
  # 5 MiB written; the map may round to the host file's pages.
  data=$("$cat" --map big.img | awk '$3 == "data" { n += $2 } END { print n + 0 }')
  ok "$fmt $size: $data bytes of data in the map" \
    test "$data" -ge $((5 << 20)) -a "$data" -lt $((6 << 20))
  if /usr/bin/time -f %M -o rss "$cat" big.img big.raw 2>err; then
    pass "$fmt $size: read in full"
    ok "$fmt $size: the data is where qemu-io wrote it" python3 -c '
import sys
f = open("big.raw", "rb")
for off, n, byte in ((1 << 30, 4 << 20, 0x77), (1000 << 30, 1 << 20, 0x78)):
    f.seek(off)
    if f.read(n) != bytes([byte]) * n:
        sys.exit(1)'
    # ASan's shadow memory makes RSS meaningless in the sanitizer build,
    # and so does valgrind's own memory under H2K_VALGRIND=1.
    if [ "${H2K_SANITIZE:-}" = 1 ]; then
      skip "$fmt $size: peak RSS (sanitizer build)"
    elif [ -n "${H2K_VALGRIND_LOGS:-}" ]; then
      skip "$fmt $size: peak RSS (under valgrind)"
    else
      rss=$(tail -n 1 rss)
      ok "$fmt $size: peak RSS ${rss} KiB < 64 MiB" test "$rss" -lt 65536
    fi
  else
    fail "$fmt $size: read in full"; diag "$(cat err)"
  fi
  rm -f big.img big.raw
done
