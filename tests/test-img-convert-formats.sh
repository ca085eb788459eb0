#!/usr/bin/env bash
# img-convert on every format and subformat qemu-img writes, and on the
# real sample files.  Inputs are opened through the block-device layer by
# content; a format whose driver is missing is read as raw and FAILS here
# (it is never skipped).  Oracles: qemu-img check (no errors, no leaks),
# qemu-img compare against the input as qemu reads it, sha256sum.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires qemu-io --version
requires python3 --version

cd "$tmp"

# The guest: text, random and zero blocks; 20 MiB + 3 sectors, so not a
# multiple of any cluster size.
python3 - <<'PY'
import random
random.seed(11)
with open('guest.raw', 'wb') as f:
    for i in range(320):
        k = random.randint(0, 4)
        if k == 0: f.write(bytes(65536))
        elif k == 1: f.write(random.randbytes(65536))
        else: f.write(((b'guest block %d ' % i) * 5000)[:65536])
    f.write(b'\x42' * 1536)
PY
want=$(sha256 guest.raw)

# conv DESC FMT INPUT [IMG-CONVERT OPTIONS...]: convert INPUT (which qemu
# reads as FMT) and check the result three ways.  The --sha256 digest is
# left in $d.
conv ()
{
  local desc=$1 fmt=$2 in=$3 o=$tmp/out.qcow2 out got; shift 3
  rm -f "$o"; d=
  if ! got=$(img-convert --sha256 "$@" "$in" "$o" 2>"$tmp/err"); then
    fail "$desc: convert"; diag "$(cat "$tmp/err")"; return 0
  fi
  pass "$desc: convert"
  if out=$(qemu-img check "$o" 2>&1); then pass "$desc: check clean"; else fail "$desc: check"; diag "$out"; fi
  ok "$desc: identical to the input" qemu-img compare -q -f "$fmt" -F qcow2 "$in" "$o"
  d=${got%% *}
}

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
  qemu-img convert -q -f raw -O vmdk -o subformat=$sub guest.raw "vmdk-$sub.vmdk"
  conv "vmdk $sub" vmdk "vmdk-$sub.vmdk"
  is "vmdk $sub: --sha256" "$d" "$want"
done
for sub in fixed dynamic; do
  qemu-img convert -q -f raw -O vpc -o subformat=$sub guest.raw "vpc-$sub.vhd"
  conv "vpc $sub" vpc "vpc-$sub.vhd"
  qemu-img convert -q -f raw -O vhdx -o subformat=$sub guest.raw "vhdx-$sub.vhdx"
  conv "vhdx $sub" vhdx "vhdx-$sub.vhdx"
done
qemu-img convert -q -f raw -O qcow2 guest.raw q.qcow2
conv "qcow2" qcow2 q.qcow2; is "qcow2: --sha256" "$d" "$want"
qemu-img convert -q -f raw -O qcow2 -c guest.raw qc.qcow2
conv "qcow2 compressed, recompressed with zstd" qcow2 qc.qcow2 -c -o compression_type=zstd
is "qcow2 compressed: --sha256" "$d" "$want"
qemu-img convert -q -f raw -O qcow2 -c -o compression_type=zstd guest.raw qz.qcow2
conv "qcow2 zstd-compressed" qcow2 qz.qcow2
qemu-img convert -q -f raw -O qcow2 -o compat=0.10 guest.raw q2.qcow2
conv "qcow2 version 2" qcow2 q2.qcow2
conv "raw" raw guest.raw -c

# Chains: a qcow2 overlay and a VMDK snapshot, each with new data, a
# zeroed range that hides the parent, and a size larger than the parent's.
qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 top.qcow2 24M
qemu-io -f qcow2 -c 'write -P 0x77 1M 192k' -c 'write -z 4M 1M' -c 'write -P 0x11 22M 64k' top.qcow2 >/dev/null
conv "qcow2 chain" qcow2 top.qcow2
qemu-img create -q -f vmdk -b vmdk-monolithicSparse.vmdk -F vmdk snap.vmdk
qemu-io -f vmdk -c 'write -P 0x66 2M 128k' snap.vmdk >/dev/null
conv "vmdk snapshot chain" vmdk snap.vmdk

# Raw output from every format equals the guest.
for f in vmdk-monolithicSparse.vmdk vpc-dynamic.vhd vhdx-dynamic.vhdx qc.qcow2; do
  rm -f back.raw
  if img-convert -O raw "$f" back.raw 2>err; then
    cmp -s <(head -c "$(stat -c %s guest.raw)" back.raw) guest.raw \
      && pass "$f to raw: the guest bytes" || fail "$f to raw: the guest bytes"
  else
    fail "$f to raw"; diag "$(cat err)"
  fi
done

# The sample files (skipped when absent), with the SHA-256 of their
# guest-visible bytes as documented in SOURCES.md.
S=$H2K_SAMPLES
if [ ! -d "$S" ]; then
  skip "no samples in $S"
  exit 0
fi
unpack ()
{
  case $1 in
    *.gz) gzip -dc "$1" ;;
    *.bz2) bzip2 -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
while read -r rel sum; do
  [ -f "$S/$rel" ] || { skip "$rel not in the samples"; continue; }
  name=$(basename "$rel"); name=${name%.gz}; name=${name%.bz2}
  unpack "$S/$rel" > "$name"
  rm -f s.qcow2
  if got=$(img-convert --sha256 "$name" s.qcow2 2>err); then
    is "sample $rel: sha256 of the guest" "${got%% *}" "$sum"
    if out=$(qemu-img check s.qcow2 2>&1); then pass "sample $rel: check clean"; else fail "sample $rel: check"; diag "$out"; fi
  else
    fail "sample $rel: convert"; diag "$(cat err)"
  fi
  rm -f "$name"
done <<'LIST'
vhd-fixed/dissect-fixed.vhd.gz 459325ab1fcd1d5ec9854cba790ee26378317cda177ffc1072008a1df88e6463
vhd-dynamic/dissect-dynamic.vhd.gz ecff2ef6615a3cddc6a6885f1c6d9cf13a232697e1dc6575f2c2f01f57247784
vhd-dynamic/qemu-d2v-zerofilled.vhd.bz2 1ba076be94a8a64541c25aae8d5a5f8b0da758c3797af597e03acb431ff8d143
vhdx-fixed/dissect-fixed.vhdx.gz bc0be4623b15aa84216fb31ba24e3b621ec7f1c72d198c990ac0eced222d9f62
vhdx-dynamic/dissect-dynamic.vhdx.gz 8e2b5e9265d694b42b81819e3bff29770eff4ed0f4f9f311693ff3dbdc93efac
vhdx-dynamic/qemu-iotest-dynamic-1G.vhdx.bz2 d3d112d8dab7fd360609f7d5a7b769904b7a2a7d7b6b8c535f65a23293c05478
vhdx-dynamic/qemu-test-disk2vhd.vhdx.bz2 96d964042be9b58dda1725567abfb0cf9fd8380e2118754afa979c2ad445938a
vmdk-streamoptimized/qemu-iotest-version3.vmdk.bz2 0859bb3397bc1d30fa979c80a289ce98bfd6c1141a64594d6f3cc8cd68218faf
vmdk-streamoptimized/mdx1-ovftool463-1mb.vmdk 30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58
vmdk-streamoptimized/mdx1-open-vmdk-64KiB.vmdk de2f256064a0af797747c2b97505dc0b9f3df0de4f489eac731c23ae9ca9cc31
vmdk-streamoptimized/xo-virtualbox-test.vmdk bb9f8df61474d25e71fa00722318cd387396ca1736605e1248821cc0de3d3af8
LIST

# Two huge, fully unallocated VHDs (127 GiB): tiny output, quickly.
for rel in vhd-dynamic/qemu-hyperv2012r2-dynamic.vhd.bz2 vhd-dynamic/qemu-virtualpc-dynamic.vhd.bz2; do
  [ -f "$S/$rel" ] || continue
  unpack "$S/$rel" > big.vhd
  rm -f s.qcow2
  ok "sample $rel: convert" img-convert big.vhd s.qcow2
  ok "sample $rel: check clean" qemu-img check -q s.qcow2
  [ "$(stat -c %s s.qcow2)" -lt 1048576 ] && pass "sample $rel: tiny output" || fail "sample $rel: output size $(stat -c %s s.qcow2)"
done

# Samples that must be refused: a VHDX with a log to replay is either
# replayed (then it reads as documented) or refused -- never ignored.
if [ -f "$S/vhdx-dirtylog/qemu-iotest-dirtylog-10G-4M.vhdx.bz2" ]; then
  unpack "$S/vhdx-dirtylog/qemu-iotest-dirtylog-10G-4M.vhdx.bz2" > dirty.vhdx
  rm -f s.qcow2
  if got=$(img-convert --sha256 dirty.vhdx s.qcow2 2>err); then
    is "dirty-log VHDX: replayed, documented sha256" "${got%% *}" \
      179cefe8b0587f123393eedf2aa7aa8d25798591178e6bc3950a09762f38f96f
  else
    grep -qi 'log' err && pass "dirty-log VHDX: refused with a message about the log" \
      || { fail "dirty-log VHDX refused without naming the log"; diag "$(cat err)"; }
    [ ! -e s.qcow2 ] && [ ! -e s.qcow2.part ] && pass "dirty-log VHDX: no output" || fail "dirty-log VHDX: output left"
  fi
fi
if [ -f "$S/vmdk-invalid/qemu-afl9.vmdk.bz2" ]; then
  unpack "$S/vmdk-invalid/qemu-afl9.vmdk.bz2" > afl9.vmdk
  rm -f s.qcow2
  EXPECT_STATUS=1 expect_fail "fuzzed VMDK (afl9) refused" "afl9.vmdk" img-convert afl9.vmdk s.qcow2
  [ ! -e s.qcow2 ] && [ ! -e s.qcow2.part ] && pass "afl9: no output" || fail "afl9: output left"
fi
