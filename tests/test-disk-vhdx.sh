#!/usr/bin/env bash
# The VHDX reader against qemu-img: fixed and dynamic with several block
# sizes, log replay (checked against qemu-img's own replay with
# `check -r all`), differencing chains (made by tests/readers/mkvhdxdiff.py,
# as qemu-img cannot write them), and the real samples with their
# documented hashes.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/disk.sh"

cd "$tmp"


size=$((37 * 1048576 + 4096))
python3 - "$size" <<'EOF'
import random, sys
size = int(sys.argv[1])
r = random.Random(5)
with open("src.raw", "wb") as f:
    f.truncate(size)
    for i in range(30):
        off = r.randrange(0, size - 70000) // 512 * 512
        f.seek(off)
        f.write(r.randbytes(r.randrange(1, 70000)))
    f.seek(size - 512)
    f.write(b"last sector" * 46)
EOF

for opt in subformat=fixed subformat=dynamic subformat=dynamic,block_size=1M \
           subformat=dynamic,block_size=8M subformat=dynamic,block_size=256M \
           subformat=fixed,block_size=1M subformat=dynamic,log_size=4M \
           subformat=dynamic,block_state_zero=off; do
  qemu-img convert -f raw -O vhdx -o "$opt" src.raw a.vhdx
  compare "vhdx $opt" a.vhdx
done
is "detected as vhdx" "$("$cat" --info a.vhdx | cut -d' ' -f2)" vhdx
qemu-img create -q -f vhdx z.vhdx 0
compare "0-byte vhdx" z.vhdx
qemu-img create -q -f vhdx -o subformat=fixed zf.vhdx 0
compare "0-byte fixed vhdx" zf.vhdx

# Zero blocks and holes in the map.
qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off m.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x55 1M 1M' m.vhdx >/dev/null
is "dynamic vhdx extents" "$("$cat" --map m.vhdx | tr '\n' ' ')" \
  "0 1048576 hole 1048576 1048576 data 2097152 6291456 hole "

# A fixed VHDX: every block present, but the unwritten ones are holes of
# the file and map as zeros.
qemu-img create -q -f vhdx -o subformat=fixed,block_size=1M fx.vhdx 5M
qemu-io -f vhdx -c 'write -P 3 1M 1M' fx.vhdx >/dev/null
compare "fixed vhdx with unwritten blocks" fx.vhdx
is "fixed vhdx: unwritten blocks map as zero" "$("$cat" --map fx.vhdx | tr '\n' ' ')" \
  "0 1048576 zero 1048576 1048576 data 2097152 3145728 zero "

# Log replay, in memory: two entries of the active sequence and a stale
# one that must not be replayed.  qemu-img replays the log itself when it
# may write (check -r all on a copy): both must agree.
qemu-img create -q -f vhdx l.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x55 0 1M' l.vhdx >/dev/null
qemu-img convert -O raw l.vhdx l.raw
cp l.vhdx l-corrupt.vhdx; cp l.vhdx l-trunc.vhdx
python3 "$H2K_TOP/tests/readers/mkvhdxlog.py" l.vhdx l.raw l-exp.raw
cp l.vhdx l-copy.vhdx
orig=$(sha256 l.vhdx)
ok "vhdx with a dirty log reads" "$cat" l.vhdx l-got.raw
same_file "the log is replayed in order, the stale entry is not" l-exp.raw l-got.raw
ok "vhdx with a replayed log passes --check" "$cat" --check l.vhdx
is "the source file is not modified" "$(sha256 l.vhdx)" "$orig"
qemu-img check -q -r all l-copy.vhdx >/dev/null 2>&1 || true
qemu-img convert -O raw l-copy.vhdx l-qemu.raw
same_file "our in-memory replay equals qemu-img's replay" l-qemu.raw l-got.raw
python3 "$H2K_TOP/tests/readers/mkvhdxlog.py" l-corrupt.vhdx l.raw x.raw corrupt
expect_fail "a damaged log is refused, not ignored" \
  'l-corrupt.vhdx: the log holds entries but no valid sequence' "$cat" l-corrupt.vhdx -
python3 "$H2K_TOP/tests/readers/mkvhdxlog.py" l-trunc.vhdx l.raw x.raw truncated
expect_fail "a log that says the file was longer is refused" \
  'l-trunc.vhdx: the file is truncated' "$cat" l-trunc.vhdx -

# Differencing: parent <- child <- grandchild.
qemu-img create -q -f vhdx -o block_size=1M p.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x11 0 8M' p.vhdx >/dev/null
qemu-img create -q -f vhdx -o block_size=1M c.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x22 0 3M' -c 'write -P 0x33 6M 100k' -c 'write -z 4M 1M' c.vhdx >/dev/null
qemu-img create -q -f vhdx -o block_size=1M,block_state_zero=off g.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x44 2M 3M' g.vhdx >/dev/null
for f in p c g; do qemu-img convert -O raw $f.vhdx $f.raw; done
python3 "$H2K_TOP/tests/readers/mkvhdxdiff.py" c.vhdx p.vhdx c.raw p.raw c-exp.raw
ok "differencing vhdx reads" "$cat" c.vhdx c-got.raw
same_file "differencing vhdx: partially present blocks follow the bitmap" c-exp.raw c-got.raw
ok "differencing vhdx passes --check" "$cat" --check c.vhdx
python3 "$H2K_TOP/tests/readers/mkvhdxdiff.py" g.vhdx c.vhdx g.raw c-exp.raw g-exp.raw
ok "two-level differencing vhdx chain reads" "$cat" g.vhdx g-got.raw
same_file "two-level differencing vhdx chain" g-exp.raw g-got.raw
is "three layers" "$("$cat" --info g.vhdx | cut -d' ' -f1,2 | tr '\n' ' ')" "0 vhdx 1 vhdx 2 vhdx "
# 4 KiB logical sectors: the chunk ratio grows 8 times and each bitmap bit
# covers 4 KiB (pitfall 7 of docs/formats.md).
qemu-img create -q -f vhdx -o block_size=1M c4.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x66 0 3M' c4.vhdx >/dev/null
qemu-img convert -O raw c4.vhdx c4.raw
cp p.vhdx p4.vhdx
MKVHDXDIFF_SECTOR=4096 python3 "$H2K_TOP/tests/readers/mkvhdxdiff.py" c4.vhdx p4.vhdx c4.raw p.raw c4-exp.raw
expect_fail "parent and child must have the same sector size" \
  'c4.vhdx: parent p4.vhdx has 512-byte logical sectors, the child 4096' "$cat" c4.vhdx -
python3 "$H2K_TOP/tests/readers/corrupt.py" p4.vhdx vhdx-meta-item 8141bf1d-a96f-4709-ba47-f233a8faab5f 0 '<I' 4096
ok "differencing vhdx with 4 KiB sectors reads" "$cat" c4.vhdx c4-got.raw
same_file "differencing vhdx with 4 KiB sectors" c4-exp.raw c4-got.raw

mkdir sub && cp g.vhdx sub/ && cp p.vhdx sub/c.vhdx
expect_fail "parent with another DataWriteGuid is refused" \
  'sub/g.vhdx: parent sub/c.vhdx has DataWriteGuid .* expected' "$cat" sub/g.vhdx -
ok "--ignore-parent-id accepts it" "$cat" --ignore-parent-id sub/g.vhdx sub/g.raw
rm sub/c.vhdx
expect_fail "missing parent is named" 'sub/g.vhdx: parent not found: sub/c.vhdx' "$cat" sub/g.vhdx -

# Real samples.
S=$H2K_SAMPLES
sample ()
{
  case $1 in
    *.gz) gzip -dc "$1" ;;
    *.bz2) bzip2 -dc "$1" ;;
    *.zip) python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read(z.namelist()[0]))' "$1" ;;
    *) cat "$1" ;;
  esac
}
check_sample ()
{
  local f=$S/$1 want=$2
  if [ ! -f "$f" ]; then skip "$1: samples not available"; return; fi
  sample "$f" > s.vhdx
  if "$cat" s.vhdx s.raw 2>err; then
    is "$1: sha256 of the guest bytes" "$(sha256 s.raw)" "$want"
  else
    fail "$1"; diag "$(cat err)"
  fi
  rm -f s.raw
}
check_sample vhdx-fixed/dissect-fixed.vhdx.gz bc0be4623b15aa84216fb31ba24e3b621ec7f1c72d198c990ac0eced222d9f62
check_sample vhdx-dynamic/dissect-dynamic.vhdx.gz 8e2b5e9265d694b42b81819e3bff29770eff4ed0f4f9f311693ff3dbdc93efac
check_sample vhdx-dynamic/qemu-test-disk2vhd.vhdx.bz2 96d964042be9b58dda1725567abfb0cf9fd8380e2118754afa979c2ad445938a
# Dirty logs: the hashes SOURCES.md gives after qemu-img check -r all.
check_sample vhdx-dirtylog/discutils-vhdx-log-replay.zip 3ba3b309425b7ff5e8e0199edceed95226250f880c53b24e8eae93865f3fad5e

# Large mostly-empty samples: hashing gigabytes of zeros is too slow for a
# test, so check their documented content instead: the map (data only
# where the documentation puts it) and the bytes of the data part.
check_content ()
{
  local name=$1 size=$2 map=$3; shift 3
  local f=$S/$name
  if [ ! -f "$f" ]; then skip "$name: samples not available"; return; fi
  sample "$f" > s.vhdx
  is "$name: size" "$("$cat" --info s.vhdx | cut -d' ' -f3)" "$size"
  is "$name: data only where documented" \
    "$("$cat" --map s.vhdx | awk '$3 == "data" { print $1, $2 }' | tr '\n' ' ')" "$map"
  ok "$name: documented bytes" python3 -c '
import subprocess, sys
p = subprocess.Popen([sys.argv[1], "s.vhdx", "-"], stdout=subprocess.PIPE)
pos = 0
for spec in sys.argv[2:]:
    n, byte = (int(x, 0) for x in spec.split(":"))
    while n:
        k = min(n, 1 << 20)
        if p.stdout.read(k) != bytes([byte]) * k:
            sys.exit("mismatch near %d" % pos)
        n -= k
        pos += k
p.kill()
p.wait()' "$cat" "$@"
}
# iotest 064: 0xA5 for 33 MiB, 0x96 for 33 MiB, zeros to 1 GiB (the rest
# of the third 32 MiB block is stored zeros, the remainder holes).
check_content vhdx-dynamic/qemu-iotest-dynamic-1G.vhdx.bz2 1073741824 "0 100663296 " \
  $((33 << 20)):0xa5 $((33 << 20)):0x96 $((30 << 20)):0
# iotest 070, after replay: 0xA5 for 18 MiB, zeros to 10 GiB.
check_content vhdx-dirtylog/qemu-iotest-dirtylog-10G-4M.vhdx.bz2 10737418240 "0 18874368 " \
  $((18 << 20)):0xa5 $((64 << 20)):0

f=$S/vhdx-differencing/dissect-differencing.avhdx.gz
if [ -f "$f" ]; then
  sample "$f" > diff.avhdx
  expect_fail "Hyper-V checkpoint without its parent" \
    'diff.avhdx: parent not found: Generation 1_49C4BAF3-4B25-4406-8C4B-D39E65C32385.avhdx' \
    "$cat" diff.avhdx -
  is "Hyper-V checkpoint alone: 8 GiB" "$("$cat" --no-parent --info diff.avhdx | cut -d' ' -f3)" 8589934592
else
  skip "Hyper-V checkpoint sample not available"
fi
