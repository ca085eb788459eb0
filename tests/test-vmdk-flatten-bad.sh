#!/usr/bin/env bash
# Malformed input: each case must fail with exit 1, a message naming what is
# wrong, no crash (the sanitizer build runs this too), and no OUTPUT or
# OUTPUT.part left behind.
. "$(dirname "$0")/functions.sh"
requires_vmdk_gen
cd "$tmp"

# poke FILE OFFSET HEXBYTES: overwrite bytes in place.
poke ()
{
  printf "$(printf '%s' "$3" | sed 's/../\\x&/g')" \
    | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
le32 () { printf '%08x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)/\4\3\2\1/'; }
le64 () { printf '%016x' "$1" | sed 's/\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)\(..\)/\8\7\6\5\4\3\2\1/'; }
u32at () { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u64at () { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }

n=0
# bad DESC PATTERN FILE [OPTIONS...]: flattening FILE fails as described.
bad ()
{
  local desc=$1 pattern=$2 file=$3; shift 3
  n=$((n + 1))
  EXPECT_STATUS=1 expect_fail "$desc" "$pattern" vmdk-flatten "$@" "$file" "out$n.raw"
  if [ -e "out$n.raw" ] || [ -e "out$n.raw.part" ]; then
    fail "$desc: output left behind"
  fi
}

# bad_check DESC PATTERN FILE: --check finds what is wrong.
bad_check ()
{
  n=$((n + 1))
  EXPECT_STATUS=1 expect_fail "$1" "$2" vmdk-flatten --check "$3"
}

# fresh NAME: a copy of the good fixture to damage.
fresh () { cp "$1" "$2"; }

truncate -s 8M known.raw
qemu-io -f raw -c 'write -P 0x61 0 1M' -c 'write -P 0x62 5M 1M' known.raw >/dev/null
qemu-img convert -q -O vmdk known.raw good.vmdk
ok "the undamaged fixture flattens" vmdk-flatten good.vmdk good.raw
gd=$(u64at good.vmdk 56)
gt=$(u32at good.vmdk $((gd * 512)))
grain0=$(u32at good.vmdk $((gt * 512)))

# Hosted sparse (KDMV) headers.
head -c 100 good.vmdk > b.vmdk;                 bad "truncated header" "header is truncated" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 4 09000000; bad "version 9" "unsupported hosted sparse version 9" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 8 03000400; bad "unknown incompatible flag" "unsupported incompatible header flags 0x00040003" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 8 03000200; bad "markers without compression" "markers but grains are not compressed" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 20 "$(le64 3)"; bad "grain size not a power of 2" "invalid grain size 3 sectors" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 20 "$(le64 0)"; bad "grain size 0" "invalid grain size 0 sectors" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 20 "$(le64 $((1 << 40)))"; bad "absurd grain size" "invalid grain size 1099511627776" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 44 "$(le32 100)"; bad "100 entries per grain table" "invalid number of entries per grain table 100" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 12 "$(le64 $((1 << 60)))"; bad "absurd capacity" "capacity of 1152921504606846976 sectors is absurd" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 12 "$(le64 $((1 << 36)))"; bad "capacity the file cannot hold (header lies)" "grain directory \([0-9]+ entries at sector $gd\) extends beyond the end of the file" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 56 "$(le64 999999)"; bad "grain directory beyond the end" "grain directory .* extends beyond the end of the file" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 56 "$(le64 0)"; poke b.vmdk 8 01000000; bad "no grain directory" "header gives no grain directory" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk $((gd * 512)) "$(le32 2147483647)"; bad "grain directory entry beyond the end" "grain directory entry 0 points beyond the end of the file" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk $((gt * 512)) "$(le32 4000000000)"; bad "grain table entry beyond the end" "grain table entry of grain 0 points beyond the end of the file" b.vmdk
fresh good.vmdk b.vmdk; truncate -s $((grain0 * 512 + 65536)) b.vmdk; bad "truncated data" "grain table entry of grain [0-9]+ points beyond the end of the file" b.vmdk
bad_check "truncated data, --check" "grain table entry of grain [0-9]+ points beyond the end of the file" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 73 0a0a0a0a; bad "newline check characters damaged" "newline check characters are damaged" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 77 0700; bad "unknown compression" "unsupported compression algorithm 7" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 36 "$(le64 99999)"; bad "absurd descriptor size" "invalid embedded descriptor size 99999" b.vmdk
fresh good.vmdk b.vmdk; poke b.vmdk 540 0102030405; bad "embedded descriptor not text" "embedded descriptor: descriptor is not text \(control byte 0x01" b.vmdk
fresh good.vmdk b.vmdk; sed -i 's/^parentCID=ffffffff/parentCID=12345678/' b.vmdk
bad "parentCID without a parentFileNameHint" "parentCID=12345678 but no parentFileNameHint" b.vmdk

# streamOptimized, ovftool layout (first grain record at byte 65536).
"$gen" stream stream.vmdk known.raw
ok "the undamaged stream flattens" vmdk-flatten stream.vmdk stream.raw
size=$(stat -c %s stream.vmdk)
fresh stream.vmdk b.vmdk; truncate -s $((size - 1536)) b.vmdk; bad "stream without its footer" "no footer and end-of-stream marker \(truncated\?\)" b.vmdk
fresh stream.vmdk b.vmdk; poke b.vmdk $((65536 + 12 + 40)) ffffffffffffffff; bad "corrupt compressed grain" "grain 0 at byte 65536: compressed grain is (corrupt|truncated)" b.vmdk
fresh stream.vmdk b.vmdk; poke b.vmdk 65536 "$(le64 999)"; bad "grain marker for another sector" "grain marker at byte 65536 is for sector 999" b.vmdk
fresh stream.vmdk b.vmdk; poke b.vmdk $((65536 + 8)) "$(le32 4000000000)"; bad "absurd compressed size" "compressed grain 0 at byte 65536 has an invalid size" b.vmdk
fresh stream.vmdk b.vmdk; poke b.vmdk $((size - 512 + 12)) "$(le32 9)"; bad "unknown marker type at the end" "no footer and end-of-stream marker" b.vmdk
fresh stream.vmdk c.vmdk; poke c.vmdk $((65536 + 12 + 40)) ffffffffffffffff
bad_check "a corrupt grain found by --check" "compressed grain is (corrupt|truncated)" c.vmdk

# COWD (header fields at 4.., grain directory at sector 4).
truncate -s 8M spec.raw
qemu-io -f raw -c 'write -P 0x63 1M 64k' spec.raw >/dev/null
"$gen" cowd cowd.vmdk spec.raw 1
ok "the undamaged COWD flattens" vmdk-flatten cowd.vmdk cowd.raw
fresh cowd.vmdk b.vmdk; poke b.vmdk 4 "$(le32 2)"; bad "COWD version 2" "unsupported COWD version 2" b.vmdk
fresh cowd.vmdk b.vmdk; poke b.vmdk 16 "$(le32 3)"; bad "COWD grain size 3" "invalid COWD grain size 3 sectors" b.vmdk
fresh cowd.vmdk b.vmdk; poke b.vmdk 24 "$(le32 0)"; bad "COWD grain directory too small" "COWD grain directory has 0 entries, the capacity of 16384 sectors needs 4" b.vmdk
fresh cowd.vmdk b.vmdk; poke b.vmdk 2048 "$(le32 4000000000)"; bad "COWD grain directory entry beyond the end" "grain directory entry 0 points beyond the end of the file" b.vmdk
head -c 1000 cowd.vmdk > b.vmdk; bad "truncated COWD header" "COWD header is truncated" b.vmdk

# seSparse (volatile header at 512, grain directory at 4096, table at 4608).
"$gen" sesparse ses.vmdk spec.raw
ok "the undamaged seSparse flattens" vmdk-flatten ses.vmdk ses.raw
"$gen" sesparse b.vmdk spec.raw dirty; bad "seSparse journal needs replay" "journal needs replaying" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk 8 "$(le64 3)"; bad "seSparse version" "unsupported seSparse version 0x3" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk 24 "$(le64 16)"; bad "seSparse grain size" "unsupported seSparse grain size 16" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk 4096 "$(le64 $((0x2000000000000000)))"; bad "seSparse grain directory entry" "invalid grain directory entry 0 \(0x2000000000000000\)" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk $((4608 + 256 * 8)) 0000000000000070; bad "seSparse grain table entry state 7" "invalid grain table entry 0x7000000000000000 for grain 256" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk $((4608 + 256 * 8)) ffff0f0000000030; bad "seSparse grain beyond the end" "grain table entry of grain 256 points beyond the end of the file" b.vmdk
fresh ses.vmdk b.vmdk; poke b.vmdk $((16 * 8)) "$(le64 99999999)"; bad "seSparse grain directory beyond the end" "seSparse grain directory .* is beyond the end of the file" b.vmdk

# Descriptors.
desc () { printf '# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\ncreateType="monolithicFlat"\n'; printf '%s\n' "$@"; }
truncate -s 1M flat.bin
desc 'RW 2048 FLAT "flat.bin" 0' > d.vmdk
ok "the undamaged descriptor flattens" vmdk-flatten d.vmdk d.raw
{ printf '# Disk DescriptorFile\nversion=1\n'; head -c 200 /dev/urandom; printf '\0\0\1binary'; } > b.vmdk
bad "descriptor with binary data" "descriptor is not text" b.vmdk
desc 'RW 2048 FOO "flat.bin" 0' > b.vmdk;   bad "unknown extent type" 'descriptor line 6: unknown extent type "FOO"' b.vmdk
desc 'RW many FLAT "flat.bin" 0' > b.vmdk;  bad "extent size not a number" "descriptor line 6: extent size is not a number" b.vmdk
desc 'RW 2048 FLAT "flat.bin' > b.vmdk;     bad "unterminated file name" "unterminated file name" b.vmdk
desc 'RW 2048 FLAT' > b.vmdk;               bad "flat extent without a file" "FLAT extent has no file name" b.vmdk
desc 'RW 2048 SPARSE "flat.bin" 8' > b.vmdk; bad "offset on a sparse extent" "an offset is only valid on flat extents" b.vmdk
desc 'RW 2048 FLAT "missing.bin" 0' > b.vmdk; bad "missing extent file" "missing.bin: No such file or directory" b.vmdk
desc 'RW 4096 FLAT "flat.bin" 0' > b.vmdk;  bad "flat extent file too short" "flat.bin: flat extent is 1048576 bytes, the descriptor needs 2097152" b.vmdk
desc 'RW 2048 FLAT "flat.bin" 1024' > b.vmdk; bad "flat extent offset past the end" "flat extent is 1048576 bytes, the descriptor needs 1572864" b.vmdk
desc 'RW 2048 SPARSE "flat.bin"' > b.vmdk;  bad "sparse extent that is not sparse" "flat.bin: not a sparse extent" b.vmdk
desc '# no extents at all' > b.vmdk;        bad "no extent lines" "descriptor has no extent lines" b.vmdk
desc 'RW 2048 VMFSRDM "lun-rdm.vmdk"' > b.vmdk; bad "raw device mapping" "raw device mappings\) point to a LUN" b.vmdk
{ desc 'RW 2048 FLAT "flat.bin" 0' | sed 's/^version=1/encoding="klingon"/'; } > b.vmdk; bad "unknown encoding" 'unsupported encoding "klingon"' b.vmdk
desc 'RW 137438953472 FLAT "flat.bin" 0' 'RW 2048 FLAT "flat.bin" 0' > b.vmdk; bad "extents larger than 64 TiB" "the extents add up to more than 64 TiB" b.vmdk
desc 'RW 2048 FLAT "flat.bin" 0' | sed 's/^CID=.*/CID=xyz/' > b.vmdk; bad "CID not hex" 'CID "xyz" is not 8 hex digits' b.vmdk
desc 'RW 2048 FLAT "flat.bin" 0' | sed 's/^version=1/version=7/' > b.vmdk; bad "descriptor version 7" 'unsupported version "7"' b.vmdk
head -c 65536 /dev/urandom > b.vmdk;         bad "random bytes" "not a VMDK" b.vmdk
: > b.vmdk;                                  bad "empty file" "not a VMDK" b.vmdk
mkdir adir;                                  bad "a directory" "is a directory" adir

# Chains.
qemu-img create -q -f vmdk cbase.vmdk 8M
qemu-img create -q -f vmdk -b cbase.vmdk -F vmdk ctop.vmdk
mv cbase.vmdk cbase-moved.vmdk
bad "missing parent" "parent not found: cbase.vmdk" ctop.vmdk
cp known.raw cbase.vmdk
bad "parent that is not a VMDK" "parent cbase.vmdk is not a VMDK \(it reads as raw\)" ctop.vmdk
desc 'RW 2048 FLAT "flat.bin" 0' 'parentFileNameHint="loop.vmdk"' | sed 's/^parentCID=.*/parentCID=11111111/' > loop.vmdk
bad "a delta that is its own parent" "parent chain loops" loop.vmdk
desc 'RW 2048 FLAT "flat.bin" 0' 'parentFileNameHint="loopb.vmdk"' | sed 's/^parentCID=.*/parentCID=11111111/' > loopa.vmdk
desc 'RW 2048 FLAT "flat.bin" 0' 'parentFileNameHint="loopa.vmdk"' | sed 's/^parentCID=.*/parentCID=11111111/' > loopb.vmdk
bad "two deltas that name each other" "parent chain loops: .*loopa.vmdk is already in the chain" loopa.vmdk
qemu-img create -q -f vmdk -o subformat=monolithicFlat cidbase.vmdk 8M
qemu-img create -q -f vmdk -b cidbase.vmdk -F vmdk cidtop.vmdk
sed -i 's/^CID=.*/CID=0badc0de/' cidbase.vmdk
bad "parentCID mismatch" "parentCID [0-9a-f]{8} does not match the CID 0badc0de of parent" cidtop.vmdk
qemu-img create -q -f vmdk -o subformat=monolithicFlat bigbase.vmdk 16M
qemu-img create -q -f vmdk -b bigbase.vmdk -F vmdk small.vmdk 8M
bad_check "--check: a delta smaller than its parent" "size 8388608 differs from the size 16777216 of its parent" small.vmdk

# Writing fails: a full disk on stdout, an OUTPUT in a missing directory.
if [ -w /dev/full ]; then
  n=$((n + 1))
  EXPECT_STATUS=1 expect_fail "stdout on a full disk" "No space left on device" \
    bash -c 'vmdk-flatten good.vmdk - > /dev/full'
fi
n=$((n + 1))
EXPECT_STATUS=1 expect_fail "OUTPUT in a missing directory" "nodir/x.raw.part: No such file or directory" \
  vmdk-flatten good.vmdk nodir/x.raw

n=$((n + 1))
cp good.vmdk self.vmdk
EXPECT_STATUS=1 expect_fail "OUTPUT is the input" "self.vmdk: OUTPUT is a file of the chain being read" \
  vmdk-flatten self.vmdk self.vmdk
cmp -s good.vmdk self.vmdk && pass "the input is untouched" || fail "the input is untouched"
n=$((n + 1))
EXPECT_STATUS=1 expect_fail "OUTPUT is a parent" "OUTPUT is a file of the chain being read \(cidbase.vmdk\)" \
  vmdk-flatten --ignore-cid cidtop.vmdk cidbase.vmdk

# Directory entries that all point at one full grain table (8 TiB in
# 1.1 MB): the deep check walks the table once, and still finds a bad
# entry in it (tests/fuzz/hostile-disks.sh; the same file is a regression
# input of the fuzz targets, which the check used to walk for minutes).
. "$H2K_TOP/tests/fuzz/hostile-disks.sh"
vmdk_shared_gt shared.vmdk 262144
ok "directory entries sharing one grain table pass --check" vmdk-flatten --check shared.vmdk
vmdk_shared_gt shared-bad.vmdk 262144 bad
bad_check "--check: a bad entry in a shared grain table" \
  "grain table entry of grain 511 points beyond the end of the file" shared-bad.vmdk

# Usage errors exit 2.
EXPECT_STATUS=2 expect_fail "--map with an OUTPUT" "OUTPUT is not used" vmdk-flatten --map good.vmdk x.raw
EXPECT_STATUS=2 expect_fail "no INPUT" "expected INPUT" vmdk-flatten
EXPECT_STATUS=2 expect_fail "bad --progress" "not a file descriptor" vmdk-flatten --progress=x good.vmdk x.raw

diag "$n malformed-input cases"
[ "$n" -ge 30 ] && pass "at least 30 malformed-input cases ($n)" || fail "at least 30 malformed-input cases ($n)"
