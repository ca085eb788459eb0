#!/usr/bin/env bash
# Malformed VHD, VHDX and qcow2 inputs: each must fail with a message that
# names the file and says what is wrong, exit 1, and never crash (the same
# cases run under ASan/UBSan with make check SANITIZE=1).  Images are made
# by qemu-img and damaged by tests/readers/corrupt.py, one check at a time.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires qemu-io --version
requires python3 --version

cat=$H2K_BIN/tests/bdev-cat
C=$H2K_TOP/tests/readers/corrupt.py
cd "$tmp"

# mk NAME SOURCE OPERATION ARGS...: NAME is a damaged copy of SOURCE.
mk ()
{
  local name=$1 src=$2; shift 2
  cp "$src" "$name"
  python3 "$C" "$name" "$@"
}

# bad DESC PATTERN FILE: reading FILE fails with "FILE: ...PATTERN", exit
# 1, and leaves no output behind.
bad ()
{
  EXPECT_STATUS=1 expect_fail "$1" "$3: .*$2" "$cat" "$3" out.raw
  if [ -e out.raw ] || [ -e out.raw.part ]; then
    fail "$1: output left behind"
  fi
  rm -f out.raw out.raw.part
}

# bad_check DESC PATTERN FILE: the deep check (--check) finds it.
bad_check ()
{
  EXPECT_STATUS=1 expect_fail "$1" "$3: .*$2" "$cat" --check "$3"
}

# good DESC FILE: reading FILE succeeds (a damage that must be tolerated).
good ()
{
  ok "$1" "$cat" "$2" out.raw
  rm -f out.raw
}

# --- VHD -------------------------------------------------------------------
qemu-img create -q -f vpc d.vhd 8M
qemu-io -f vpc -c 'write -P 0x5a 0 3M' d.vhd >/dev/null

head -c 300 d.vhd > v-short.vhd
bad "VHD: file shorter than a footer" 'file too small for a VHD footer' v-short.vhd
mk v-csum.vhd d.vhd vhd-footer-raw 100 0x01
bad "VHD: footer checksum mismatch" 'VHD footer checksum mismatch' v-csum.vhd
mk v-type.vhd d.vhd vhd-footer 60 '>I' 7
bad "VHD: unknown disk type" 'unsupported VHD disk type 7' v-type.vhd
mk v-dynoff.vhd d.vhd vhd-footer 16 '>Q' 0x7fffffffffff
bad "VHD: dynamic header beyond the end" 'dynamic header offset [0-9]+ is beyond the end' v-dynoff.vhd
mk v-dyncsum.vhd d.vhd vhd-dyn-raw 600 0x01
bad "VHD: dynamic header checksum mismatch" 'dynamic header checksum mismatch' v-dyncsum.vhd
mk v-cookie.vhd d.vhd vhd-dyn 0 '>Q' 0
bad "VHD: dynamic header without cookie" 'no "cxsparse" cookie' v-cookie.vhd
mk v-block.vhd d.vhd vhd-dyn 32 '>I' 3000000
bad "VHD: block size not a power of two" 'invalid block size 3000000' v-block.vhd
mk v-batoff.vhd d.vhd vhd-dyn 16 '>Q' 0x100000000
bad "VHD: BAT beyond the end of the file" 'BAT \(offset [0-9]+, [0-9]+ entries\) extends beyond the end' v-batoff.vhd
mk v-batent.vhd d.vhd vhd-bat 1 0x7fffffff
bad "VHD: BAT entry beyond the end of the file" 'BAT entry 1 points outside the file' v-batent.vhd
mk v-entries.vhd d.vhd vhd-dyn 28 '>I' 1
bad "VHD: BAT too small for the disk" 'BAT has 1 entries, too few' v-entries.vhd
mk v-huge.vhd d.vhd vhd-footer 48 '>Q' 0x4000000000000000
python3 "$C" v-huge.vhd vhd-footer 28 '>I' 0x77696e20   # creator "win ": size from current_size
bad "VHD: absurd disk size" 'larger than the VHD limit of 2040 GiB' v-huge.vhd
qemu-img convert -O raw d.vhd d.raw
cp d.vhd loop.vhd
python3 "$H2K_TOP/tests/readers/mkvhddiff.py" loop.vhd loop.vhd d.raw d.raw x.raw
bad "VHD: differencing disk that is its own parent" 'parent chain loops' loop.vhd
cp d.vhd orphan.vhd; cp d.vhd gone.vhd
python3 "$H2K_TOP/tests/readers/mkvhddiff.py" orphan.vhd gone.vhd d.raw d.raw x.raw
rm gone.vhd
bad "VHD: missing parent" 'parent not found: gone.vhd' orphan.vhd

ok "VHD: a clean image passes --check" "$cat" --check d.vhd
blk0=$(python3 -c 'import struct, sys; d = open("d.vhd", "rb").read(); print(struct.unpack(">I", d[1536:1540])[0])')
mk v-overlap.vhd d.vhd vhd-bat 1 "$blk0"
bad_check "VHD: two blocks at the same place (--check)" 'block 0 and block 1 overlap in the file' v-overlap.vhd
mk v-overbat.vhd d.vhd vhd-bat 0 3
bad_check "VHD: a block over the BAT (--check)" 'the BAT and block 0 overlap in the file' v-overbat.vhd
EXPECT_STATUS=1 expect_fail "VHD read as VHDX (-f) is refused" 'd.vhd: not a VHDX image' "$cat" -f vhdx d.vhd -

# --- qcow2 -----------------------------------------------------------------
qemu-img create -q -f qcow2 q.qcow2 8M
qemu-io -c 'write -P 0x5a 0 3M' q.qcow2 >/dev/null
qemu-img convert -c -O qcow2 q.qcow2 qc.qcow2

head -c 50 q.qcow2 > q-short.qcow2
bad "qcow2: truncated header" 'qcow2 header truncated' q-short.qcow2
mk q-version.qcow2 q.qcow2 qcow2 4 '>I' 4
bad "qcow2: unknown version" 'unsupported qcow2 version 4' q-version.qcow2
mk q-cbits.qcow2 q.qcow2 qcow2 20 '>I' 30
bad "qcow2: absurd cluster size" 'invalid qcow2 cluster_bits 30' q-cbits.qcow2
mk q-feature.qcow2 q.qcow2 qcow2 72 '>Q' 0x400
bad "qcow2: unknown incompatible feature" 'unknown incompatible features: bit 10' q-feature.qcow2
mk q-corrupt.qcow2 q.qcow2 qcow2 72 '>Q' 2
bad "qcow2: image marked corrupt" 'marked corrupt' q-corrupt.qcow2
mk q-dirty.qcow2 q.qcow2 qcow2 72 '>Q' 1
good "qcow2: the dirty bit alone is fine for reading" q-dirty.qcow2
mk q-datafile.qcow2 q.qcow2 qcow2 72 '>Q' 4
bad "qcow2: external data file" 'external data file' q-datafile.qcow2
mk q-crypt.qcow2 q.qcow2 qcow2 32 '>I' 1
bad "qcow2: AES encryption" 'encrypted qcow2 images \(AES\)' q-crypt.qcow2
mk q-ctype.qcow2 q.qcow2 qcow2 104 'B' 7
python3 "$C" q-ctype.qcow2 qcow2 72 '>Q' 8
bad "qcow2: unknown compression type" 'unknown qcow2 compression type 7' q-ctype.qcow2
qemu-img create -q -f qcow2 -o compat=1.1 q104.qcow2 1M
mk q-ctshort.qcow2 q104.qcow2 qcow2 100 '>I' 104
python3 "$C" q-ctshort.qcow2 qcow2 72 '>Q' 8
bad "qcow2: compression bit with a header too short for the type" 'has no compression type' q-ctshort.qcow2
mk q-size.qcow2 q.qcow2 qcow2 24 '>Q' 0x4000000000000001
bad "qcow2: absurd disk size" 'qcow2 disk size [0-9]+ is too large' q-size.qcow2
mk q-l1small.qcow2 q.qcow2 qcow2 24 '>Q' 0x10000000000
bad "qcow2: L1 table too small for the size" 'L1 table too small' q-l1small.qcow2
mk q-l1off.qcow2 q.qcow2 qcow2 40 '>Q' 0x7fff0000
bad "qcow2: L1 table beyond the end" 'L1 table \(offset [0-9]+, [0-9]+ entries\) is beyond the end' q-l1off.qcow2
mk q-l2off.qcow2 q.qcow2 qcow2-l1 0 0x8000010000000000
bad "qcow2: L2 table beyond the end" 'L2 table offset [0-9]+ is beyond the end' q-l2off.qcow2
mk q-l1res.qcow2 q.qcow2 qcow2-l1 0 0x8000000000050001
bad "qcow2: reserved bits in an L1 entry" 'L1 entry 0 has reserved bits set' q-l1res.qcow2
mk q-data.qcow2 q.qcow2 qcow2-l2 0x8000010000000000
bad "qcow2: data cluster beyond the end" 'data offset [0-9]+ is beyond the end' q-data.qcow2
mk q-align.qcow2 q.qcow2 qcow2-l2 0x8000000000050200
bad "qcow2: unaligned data cluster" 'is not cluster-aligned' q-align.qcow2
mk q-ccluster.qcow2 qc.qcow2 qcow2-l2 0x4000000000000000
bad "qcow2: compressed cluster that does not decompress" 'does not decompress' q-ccluster.qcow2
mk q-backing.qcow2 q.qcow2 qcow2 8 '>Q' 512
python3 "$C" q-backing.qcow2 qcow2 16 '>I' 5000
bad "qcow2: backing file name out of bounds" 'backing file name .* out of bounds' q-backing.qcow2
qemu-img create -q -f qcow2 -o extended_l2=on q-ext.qcow2 8M
qemu-io -c 'write -P 0x5a 0 3M' q-ext.qcow2 >/dev/null
mk q-sub.qcow2 q-ext.qcow2 qcow2-l2-word 1 0x0000000100000001
bad "qcow2: subcluster both allocated and zero" 'subcluster 0 is both allocated and zero' q-sub.qcow2
mk q-sub2.qcow2 q-ext.qcow2 qcow2-l2-word 0 0
bad "qcow2: subclusters allocated in an unallocated cluster" 'subclusters allocated in an unallocated cluster' q-sub2.qcow2
mk q-extsmall.qcow2 q-ext.qcow2 qcow2 20 '>I' 12
bad "qcow2: extended L2 with tiny clusters" 'need clusters of at least 16 KiB' q-extsmall.qcow2
qemu-img create -q -f qcow2 -b gone.qcow2 -F qcow2 -u q-nobacking.qcow2 8M
bad "qcow2: missing backing file" 'parent not found: gone.qcow2' q-nobacking.qcow2

# A backing file declared raw whose content is a qcow2 image naming a host
# file: following it would read /etc/passwd through guest-written headers.
qemu-img create -q -f qcow2 -o backing_file=/etc/passwd,backing_fmt=raw evil.raw 1M
qemu-img create -q -f qcow2 -b evil.raw -F raw q-evil.qcow2 1M
bad "qcow2: backing file content disagrees with its declared format" \
  'backing file evil.raw is declared raw but its content is qcow2' q-evil.qcow2

# L1 entries that all point at one full L2 table (8 TiB in 320 KiB): the
# deep check walks the table once, and still finds a bad entry in it
# (tests/fuzz/hostile-disks.sh; the fuzz target's regression input is the
# 32 TiB one, which the check used to walk for minutes).
. "$H2K_TOP/tests/fuzz/hostile-disks.sh"
qcow2_shared_l2 q-shared.qcow2 16384
ok "qcow2: L1 entries sharing one L2 table pass --check" "$cat" --check q-shared.qcow2
qcow2_shared_l2 q-shared-bad.qcow2 16384 bad
bad_check "qcow2: a bad entry in a shared L2 table (--check)" \
  'L2 entry for offset 536805376 has reserved bits set' q-shared-bad.qcow2

# --- VHDX ------------------------------------------------------------------
qemu-img create -q -f vhdx -o block_size=1M x.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x5a 0 3M' x.vhdx >/dev/null

head -c $((150 * 1024)) x.vhdx > x-short.vhdx
bad "VHDX: truncated before the region table" 'region table \(offset [0-9]+, [0-9]+ bytes\) is beyond the end of the file' x-short.vhdx
head -c 70000 x.vhdx > x-short2.vhdx
bad "VHDX: truncated in the headers" 'reading VHDX header' x-short2.vhdx
mk x-hdr.vhdx x.vhdx vhdx-header-raw 200 0x01
bad "VHDX: CRC-32C mismatch in both headers" 'no valid VHDX header' x-hdr.vhdx
mk x-hdr1.vhdx x.vhdx vhdx-header-raw 200 0x01
python3 - <<'EOF'
# Repair only the first header copy: one good copy is enough.
d = bytearray(open("x-hdr1.vhdx", "rb").read())
d[64 * 1024 + 200] ^= 1
open("x-hdr1.vhdx", "wb").write(d)
EOF
good "VHDX: one damaged header copy is tolerated" x-hdr1.vhdx
mk x-ver.vhdx x.vhdx vhdx-header 66 '<H' 2
bad "VHDX: unknown version" 'unsupported VHDX version 2' x-ver.vhdx
mk x-reg.vhdx x.vhdx vhdx-region-raw 100 0x01
bad "VHDX: CRC-32C mismatch in both region tables" 'no valid VHDX region table' x-reg.vhdx
mk x-regreq.vhdx x.vhdx vhdx-region-add 01234567-89ab-cdef-0123-456789abcdef 1
bad "VHDX: unknown required region" 'unknown required VHDX region \{01234567-89ab-cdef-0123-456789abcdef\}' x-regreq.vhdx
mk x-regopt.vhdx x.vhdx vhdx-region-add 01234567-89ab-cdef-0123-456789abcdef 0
good "VHDX: unknown optional region is ignored" x-regopt.vhdx
mk x-metareq.vhdx x.vhdx vhdx-meta-add 11111111-2222-3333-4444-555555555555 4
bad "VHDX: unknown required metadata item" 'unknown required VHDX metadata item \{11111111-2222-3333-4444-555555555555\}' x-metareq.vhdx
mk x-metaopt.vhdx x.vhdx vhdx-meta-add 11111111-2222-3333-4444-555555555555 0
good "VHDX: unknown optional metadata item is ignored" x-metaopt.vhdx
mk x-bs.vhdx x.vhdx vhdx-meta-item caa16737-fa36-4d43-b3b6-33f0aa44e76b 0 '<I' 3145728
bad "VHDX: invalid block size" 'invalid VHDX block size 3145728' x-bs.vhdx
mk x-ss.vhdx x.vhdx vhdx-meta-item 8141bf1d-a96f-4709-ba47-f233a8faab5f 0 '<I' 1000
bad "VHDX: invalid logical sector size" 'invalid VHDX logical sector size 1000' x-ss.vhdx
mk x-size.vhdx x.vhdx vhdx-meta-item 2fa54224-cd1b-4876-b211-5dbed83bf4b8 0 '<Q' 0x1000000000000000
bad "VHDX: absurd disk size" 'larger than the 64 TiB limit' x-size.vhdx
mk x-batlen.vhdx x.vhdx vhdx-region-len 2dc27766-f623-4200-9d64-115e9bfd4a08 8
bad "VHDX: BAT region too small" 'BAT region \(8 bytes\) is too small' x-batlen.vhdx
mk x-batoff.vhdx x.vhdx vhdx-bat 0 0x10000000006
bad "VHDX: BAT entry beyond the end of the file" 'BAT entry for block 0 points outside the file' x-batoff.vhdx
mk x-state.vhdx x.vhdx vhdx-bat 1 4
bad "VHDX: invalid block state" 'BAT entry for block 1 has the invalid state 4' x-state.vhdx
mk x-partial.vhdx x.vhdx vhdx-bat 0 0x300007
bad "VHDX: partially present block without a parent" 'block 0 is partially present in a disk without a parent' x-partial.vhdx
ok "VHDX: a clean image passes --check" "$cat" --check x.vhdx
blk0=$(python3 - <<'EOF'
import struct, uuid
d = open("x.vhdx", "rb").read()
r = 192 * 1024
for i in range(struct.unpack("<I", d[r + 8:r + 12])[0]):
    e = r + 16 + 32 * i
    if str(uuid.UUID(bytes_le=d[e:e + 16])) == "2dc27766-f623-4200-9d64-115e9bfd4a08":
        bat = struct.unpack("<Q", d[e + 16:e + 24])[0]
print(struct.unpack("<Q", d[bat:bat + 8])[0])
EOF
)
mk x-overlap.vhdx x.vhdx vhdx-bat 1 "$blk0"
bad_check "VHDX: two blocks at the same place (--check)" 'block 0 and block 1 overlap in the file' x-overlap.vhdx
EXPECT_STATUS=1 expect_fail "VHDX read as qcow2 (-f) is refused" 'x.vhdx: not a qcow2 image' "$cat" -f qcow2 x.vhdx -
mk x-log.vhdx x.vhdx vhdx-header 48 '<Q' 1
python3 "$C" x-log.vhdx vhdx-header 72 '<Q' 12345
bad "VHDX: log at an invalid place" 'invalid log location' x-log.vhdx
