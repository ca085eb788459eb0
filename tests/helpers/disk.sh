# Sourced by the disk-reader tests after functions.sh: bdev-cat (the test
# tool that reads a disk through lib/disk) against qemu-img.
requires qemu-img --version
requires qemu-io --version
requires python3 --version

cat=$H2K_BIN/tests/bdev-cat

# compare DESC FILE [QEMU-FORMAT]: bdev-cat and qemu-img give the same
# bytes (in the current directory: want.raw, got.raw, err).
compare ()
{
  local desc=$1 f=$2 fmt=${3:-}
  rm -f want.raw got.raw
  if ! qemu-img convert ${fmt:+-f "$fmt"} -O raw "$f" want.raw; then
    fail "$desc: qemu-img convert"; return
  fi
  if ! "$cat" "$f" got.raw 2>err; then
    fail "$desc: bdev-cat failed"; diag "$(cat err)"; return
  fi
  # qemu 7.2 shows one sector more than the footer of a fixed VHD whose
  # requested size was not a whole CHS geometry (it reads the footer as the
  # last sector); the footer's own size is what we show.
  local ws gs
  ws=$(stat -c %s want.raw) gs=$(stat -c %s got.raw)
  if [ "$fmt" = vpc ] && [ "$ws" -eq $((gs + 512)) ]; then
    diag "$desc: qemu-img shows the footer as a last sector; comparing $gs bytes"
    truncate -s "$gs" want.raw
  fi
  same_file "$desc" want.raw got.raw
}
