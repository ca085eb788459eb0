#!/usr/bin/env bash
# The VHD reader against qemu-img: every subformat qemu-img writes, the real
# samples with their documented hashes, and differencing chains (which
# qemu-img cannot write: tests/readers/mkvhddiff.py makes them).
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/disk.sh"

cd "$tmp"

# Some data at awkward places: block boundaries, the last sector.
fill ()
{
  local f=$1 fmt=$2 size=$3
  qemu-io -f "$fmt" -c "write -P 0x61 0 4k" -c "write -P 0x62 2044k 8k" \
    -c "write -P 0x63 5M 1M" "$f" >/dev/null
  qemu-io -f "$fmt" -c "write -P 0x64 $((size / 512 * 512 - 1024)) 512" "$f" >/dev/null
}


for sub in dynamic fixed; do
  for opt in "" ",force_size=on"; do
    for size in 1M 9437185 37M; do
      rm -f d.vhd
      qemu-img create -q -f vpc -o "subformat=$sub$opt" d.vhd "$size"
      vsize=$(qemu-img info --output=json d.vhd | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
      if [ "$vsize" -gt $((6 << 20)) ]; then fill d.vhd vpc "$vsize"; fi
      compare "vpc $sub$opt $size" d.vhd vpc
      is "vpc $sub$opt $size: detected as vhd" \
        "$("$cat" --info d.vhd | cut -d' ' -f2)" vhd
    done
  done
done

# A 0-byte dynamic VHD (qemu-img cannot reopen a 0-byte fixed one, so that
# case only checks that we read nothing).
qemu-img create -q -f vpc z.vhd 0
compare "0-byte dynamic vhd" z.vhd vpc
qemu-img create -q -f vpc -o subformat=fixed zf.vhd 0
ok "0-byte fixed vhd reads as empty" test "$("$cat" zf.vhd - | wc -c)" -eq 0

# Raw disks stay raw: one ending in a corrupt VHD footer, one ending in
# random bytes.  A file that starts with a footer is a VHD, and one that
# claims more than it holds is refused.
head -c 1048576 /dev/urandom > r1.raw
ok "random raw disk is raw" test "$("$cat" --info r1.raw | cut -d' ' -f2)" = raw
qemu-img create -q -f vpc -o subformat=fixed f.vhd 1M
cp f.vhd r2.raw
printf 'X' | dd of=r2.raw bs=1 seek=$(($(stat -c %s r2.raw) - 512 + 100)) conv=notrunc 2>/dev/null
is "raw ending in a corrupt VHD footer stays raw" \
  "$("$cat" --info r2.raw | cut -d' ' -f2)" raw
tail -c 512 f.vhd > r3.raw
expect_fail "a lone footer claiming 1 MiB is refused" \
  'r3.raw: fixed VHD claims [0-9]+ bytes but the file holds only 0' "$cat" --info r3.raw

# Differencing chains: parent <- child <- grandchild.
qemu-img create -q -f vpc p.vhd 8M
qemu-io -f vpc -c 'write -P 0x11 0 8M' p.vhd >/dev/null
qemu-img create -q -f vpc c.vhd 8M
qemu-io -f vpc -c 'write -P 0x22 1M 3M' -c 'write -P 0x33 6M 100k' c.vhd >/dev/null
qemu-img create -q -f vpc g.vhd 8M
qemu-io -f vpc -c 'write -P 0x44 3M 2M' g.vhd >/dev/null
for f in p c g; do qemu-img convert -O raw $f.vhd $f.raw; done
python3 "$H2K_TOP/tests/readers/mkvhddiff.py" c.vhd p.vhd c.raw p.raw c-exp.raw
ok "differencing vhd reads" "$cat" c.vhd c-got.raw
same_file "differencing vhd: child sectors where the bitmap says, parent elsewhere" c-exp.raw c-got.raw
ok "differencing vhd chain passes --check" "$cat" --check c.vhd
python3 "$H2K_TOP/tests/readers/mkvhddiff.py" g.vhd c.vhd g.raw c-exp.raw g-exp.raw
ok "two-level differencing chain reads" "$cat" g.vhd g-got.raw
same_file "two-level differencing chain" g-exp.raw g-got.raw
is "chain of three layers" "$("$cat" --info g.vhd | wc -l)" 3
# Xen's vhd-util names the parent with a MacX locator (a file URL).
for kind in macx macx-abs; do
  qemu-img create -q -f vpc "x $kind.vhd" 8M
  qemu-io -f vpc -c 'write -P 0x55 2M 1M' "x $kind.vhd" >/dev/null
  qemu-img convert -O raw "x $kind.vhd" x.raw
  cp p.vhd "parent $kind.vhd"
  MKVHDDIFF_LOCATOR=$kind python3 "$H2K_TOP/tests/readers/mkvhddiff.py" "x $kind.vhd" "parent $kind.vhd" x.raw p.raw x-exp.raw
  ok "differencing vhd with a $kind locator reads" "$cat" "x $kind.vhd" x-got.raw
  same_file "differencing vhd with a $kind locator" x-exp.raw x-got.raw
done

mkdir sub && cp g.vhd sub/
expect_fail "missing parent is named" 'sub/g.vhd: parent not found: .*c\.vhd' \
  "$cat" sub/g.vhd -
cp c.vhd sub/ && cp f.vhd sub/p.vhd
expect_fail "wrong parent UUID is refused" 'has UUID .* expected' "$cat" sub/g.vhd -
ok "--ignore-parent-id accepts it" "$cat" --ignore-parent-id sub/g.vhd sub/out.raw
ok "--no-parent reads the top layer alone" "$cat" --no-parent g.vhd top.raw

# Real samples.
S=$H2K_SAMPLES
sample ()
{
  case $1 in
    *.gz) gzip -dc "$1" ;;
    *.bz2) bzip2 -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
check_sample ()
{
  local f=$S/$1 want=$2
  if [ ! -f "$f" ]; then skip "$1: samples not available"; return; fi
  sample "$f" > s.vhd
  if "$cat" s.vhd s.raw 2>err; then
    is "$1: sha256 of the guest bytes" "$(sha256 s.raw)" "$want"
  else
    fail "$1"; diag "$(cat err)"
  fi
}
check_sample vhd-fixed/dissect-fixed.vhd.gz 459325ab1fcd1d5ec9854cba790ee26378317cda177ffc1072008a1df88e6463
check_sample vhd-dynamic/dissect-dynamic.vhd.gz ecff2ef6615a3cddc6a6885f1c6d9cf13a232697e1dc6575f2c2f01f57247784
check_sample vhd-dynamic/qemu-d2v-zerofilled.vhd.bz2 1ba076be94a8a64541c25aae8d5a5f8b0da758c3797af597e03acb431ff8d143

# The two 127 GiB images: sizes from CHS (Virtual PC) or current_size
# (Hyper-V), as iotest 146 documents, and nothing allocated.
for s in virtualpc:136363130880 hyperv2012r2:136365211648; do
  f=$S/vhd-dynamic/qemu-${s%%:*}-dynamic.vhd.bz2
  if [ ! -f "$f" ]; then skip "$s: samples not available"; continue; fi
  sample "$f" > big.vhd
  is "${s%%:*}: virtual size" "$("$cat" --info big.vhd | cut -d' ' -f3)" "${s#*:}"
  is "${s%%:*}: all unallocated" "$("$cat" --map big.vhd)" "0 ${s#*:} hole"
done

# The dfvfs differencing disk: its parent is not in the samples; the error
# must say so (qemu-img silently reads zeros instead).
f=$S/vhd-differencing/dfvfs-fat-differential.vhd
if [ -f "$f" ]; then
  cp "$f" diff.vhd
  expect_fail "dfvfs differencing disk without its parent" \
    'diff.vhd: parent not found: fat-parent.vhd' "$cat" diff.vhd -
  is "dfvfs differencing disk: --no-parent gives 4 MiB" \
    "$("$cat" --no-parent diff.vhd - | wc -c)" 4194304
else
  skip "dfvfs differencing sample not available"
fi
