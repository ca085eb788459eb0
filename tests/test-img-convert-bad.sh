#!/usr/bin/env bash
# img-convert on malformed input: every case must fail with a clear
# message and exit status 1, without crashing, and leave neither OUTPUT nor
# OUTPUT.part behind.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires python3 --version
requires tar --version

cd "$tmp"
out=$tmp/out.qcow2

# bad DESC PATTERN ARGS...: img-convert ARGS... "$out" fails as it should.
bad ()
{
  local desc=$1 pattern=$2; shift 2
  EXPECT_STATUS=1 expect_fail "$desc" "$pattern" img-convert "$@" "$out"
  if [ -e "$out" ] || [ -e "$out.part" ]; then
    fail "$desc: output left behind"; rm -f "$out" "$out.part"
  else
    pass "$desc: no output left"
  fi
}
# bad_stdin DESC PATTERN FILE [ARGS...]: the same with FILE on stdin.
bad_stdin ()
{
  local desc=$1 pattern=$2 file=$3; shift 3
  EXPECT_STATUS=1 expect_fail "$desc" "$pattern" bash -c 'img-convert "$@" < "$0"' "$file" "$@" - "$out"
  if [ -e "$out" ] || [ -e "$out.part" ]; then
    fail "$desc: output left behind"; rm -f "$out" "$out.part"
  else
    pass "$desc: no output left"
  fi
}

# A generator of streamOptimized VMDKs, right or wrong on purpose.
cat > mkstream.py <<'PY'
import struct, sys, zlib, json
# usage: mkstream.py OUT JSON  (keys: capacity, grain, version, flags,
# overhead, calg, grains: [[lba, fill_byte, (optional) raw_payload_hex,
# (optional) size_override]], markers: [[type, val]], eos: bool, cut: N)
out, spec = sys.argv[1], json.loads(sys.argv[2])
cap = spec.get('capacity', 2048); grain = spec.get('grain', 128)
h = bytearray(512)
h[0:4] = b'KDMV'
struct.pack_into('<IIQQQQIQQQ', h, 4, spec.get('version', 3), spec.get('flags', 0x30001),
                 cap, grain, 0, 0, 512, 0, 0xffffffffffffffff, spec.get('overhead', 1))
h[73:77] = b'\n \r\n'
struct.pack_into('<H', h, 77, spec.get('calg', 1))
body = bytearray(h)
for m in spec.get('markers_before', []):
    body += struct.pack('<QII', m[1], 0, m[0]) + bytes(496) + bytes(512 * m[1])
for g in spec.get('grains', []):
    lba, fill = g[0], g[1]
    if len(g) > 2 and g[2] == 'short':
        payload = zlib.compress(bytes([fill]) * 3)
    elif len(g) > 2 and g[2]:
        payload = bytes.fromhex(g[2])
    else:
        payload = zlib.compress(bytes([fill]) * (grain * 512))
    size = g[3] if len(g) > 3 else len(payload)
    rec = struct.pack('<QI', lba, size) + payload
    rec += bytes(-len(rec) % 512)
    body += rec
for m in spec.get('markers', []):
    body += struct.pack('<QII', m[1], 0, m[0]) + bytes(496) + bytes(512 * m[1])
if spec.get('eos', True):
    body += bytes(512)
if 'cut' in spec:
    body = body[:spec['cut']]
open(out, 'wb').write(body)
PY
mk () { python3 mkstream.py "$1" "$2"; }

# The generator itself makes a good stream (so the failures below are the
# defects, not the generator).
mk good.vmdk '{"grains": [[0, 65], [256, 66]], "markers": [[1, 4], [2, 1], [3, 1]]}'
ok "generated stream converts" img-convert - good.qcow2 < good.vmdk
python3 -c "
import sys
sys.stdout.buffer.write(b'A' * 65536 + bytes(65536) + b'B' * 65536 + bytes(2048 * 512 - 3 * 65536))" > good.raw
ok "generated stream: right contents" qemu-img compare -q good.raw good.qcow2

# Files that do not exist or are not files.
bad "input does not exist" "no-such-file.raw: No such file" no-such-file.raw
mkdir adir
bad "input is a directory" "adir: is a directory" adir
bad "unknown -f format" "unknown format 'nosuch'" -f nosuch good.vmdk

# streamOptimized headers.
head -c 100 good.vmdk > short.vmdk
bad_stdin "VMDK stream: truncated header" "truncated: the stream ends in the VMDK header" short.vmdk -f vmdk
mk v4.vmdk '{"version": 4, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: version 4" "unsupported hosted sparse version 4" v4.vmdk
mk nocomp.vmdk '{"flags": 3, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: not compressed" "not a streamOptimized VMDK" nocomp.vmdk
mk nomark.vmdk '{"flags": 65539, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: compressed without markers" "not a streamOptimized VMDK" nomark.vmdk
mk calg.vmdk '{"calg": 7, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: unknown compression algorithm" "unsupported compression algorithm 7" calg.vmdk
mk incompat.vmdk '{"flags": 1245185, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: unknown incompatible flag" "unsupported incompatible header flags" incompat.vmdk
mk hugecap.vmdk '{"capacity": 18446744073709551615, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: absurd capacity" "capacity of [0-9]+ sectors is absurd" hugecap.vmdk
mk grain0.vmdk '{"grain": 0}'
bad_stdin "VMDK stream: grain size 0" "invalid grain size 0 sectors" grain0.vmdk
mk grain3.vmdk '{"grain": 3}'
bad_stdin "VMDK stream: grain size not a power of 2" "invalid grain size 3 sectors" grain3.vmdk
mk ov0.vmdk '{"overhead": 0}'
bad_stdin "VMDK stream: overHead 0" "overHead of 0 sectors is invalid" ov0.vmdk
mk ovbig.vmdk '{"overhead": 100000, "grains": [[0, 1]]}'
bad_stdin "VMDK stream: overHead past the end" "truncated: the stream ends in the metadata before the first grain" ovbig.vmdk

# streamOptimized grains and markers.
mk cutgrain.vmdk '{"grains": [[0, 65], [128, 66]], "cut": 1200}'
bad_stdin "VMDK stream: truncated grain" "truncated" cutgrain.vmdk
mk noeos.vmdk '{"grains": [[0, 65]], "eos": false}'
bad_stdin "VMDK stream: no end-of-stream marker" "truncated: the stream ends in the marker" noeos.vmdk
mk lbabig.vmdk '{"grains": [[4096, 65]]}'
bad_stdin "VMDK stream: grain beyond the disk" "LBA 4096 is beyond the end of the disk" lbabig.vmdk
mk lbaodd.vmdk '{"grains": [[5, 65]]}'
bad_stdin "VMDK stream: grain not on a grain boundary" "LBA 5 is not at a grain boundary" lbaodd.vmdk
mk order.vmdk '{"grains": [[256, 65], [128, 66]]}'
bad_stdin "VMDK stream: grains out of order" "out of order" order.vmdk
mk dup.vmdk '{"grains": [[128, 65], [128, 66]]}'
bad_stdin "VMDK stream: the same grain twice" "out of order" dup.vmdk
mk badz.vmdk '{"grains": [[0, 65, "789c0102030405060708090a0b0c"]]}'
bad_stdin "VMDK stream: corrupt zlib data" "grain for LBA 0: compressed grain is corrupt" badz.vmdk
mk bigsize.vmdk '{"grains": [[0, 65, "", 4000000000]]}'
bad_stdin "VMDK stream: absurd compressed size" "compressed size 4000000000" bigsize.vmdk
mk short.vmdk '{"grains": [[0, 65, "short"]]}'
bad_stdin "VMDK stream: grain inflates short" "inflates to 3 bytes, expected 65536" short.vmdk
mk mtype.vmdk '{"grains": [[0, 65]], "markers": [[9, 0]]}'
bad_stdin "VMDK stream: unknown marker type" "unknown marker type 9" mtype.vmdk
mk mval.vmdk '{"grains": [[0, 65]], "markers": [[1, 0]], "cut": 99999}'
python3 - <<'PY'
import struct
b = bytearray(open('mval.vmdk', 'rb').read())
# The GT marker after the grain claims an absurd amount of metadata.
i = len(b) - 1024
struct.pack_into('<Q', b, i, 1 << 60)
open('mval.vmdk', 'wb').write(b)
PY
bad_stdin "VMDK stream: absurd metadata length" "metadata of [0-9]+ sectors is impossible" mval.vmdk

# Other input formats, as the block-device drivers on main see them.
qemu-img create -q -f qcow2 q.qcow2 1M
python3 - <<'PY'
import struct
b = bytearray(open('q.qcow2', 'rb').read())
struct.pack_into('>Q', b, 72, 1 << 40)     # an unknown incompatible feature
open('q-incompat.qcow2', 'wb').write(b)
PY
bad "qcow2 input with an unknown incompatible feature" "incompatible" q-incompat.qcow2
head -c 50 q.qcow2 > q-short.qcow2
bad "qcow2 input with a truncated header" "q-short.qcow2" -f qcow2 q-short.qcow2

# VHD, VHDX and VMDK inputs whose checksums or tables lie.
qemu-img create -q -f vpc -o subformat=dynamic v.vhd 10M
qemu-io -f vpc -c 'write -P 1 0 1M' v.vhd > /dev/null
qemu-img create -q -f vhdx v.vhdx 10M
qemu-img create -q -f vmdk -o subformat=monolithicSparse m.vmdk 10M
qemu-io -f vmdk -c 'write -P 1 0 1M' m.vmdk > /dev/null
python3 - <<'PY'
import struct
b = bytearray(open('v.vhd', 'rb').read())
for off in (0, len(b) - 512):           # both copies of the footer
    b[off + 64] ^= 0xff
open('v-sum.vhd', 'wb').write(b)
b = bytearray(open('v.vhd', 'rb').read())
dyn = struct.unpack_from('>Q', b, 16)[0]
bat = struct.unpack_from('>Q', b, dyn + 16)[0]
struct.pack_into('>I', b, bat, 0x7ffffff0)   # block 0 far beyond the file
open('v-bat.vhd', 'wb').write(b)
b = bytearray(open('v.vhdx', 'rb').read())
for off in (64 << 10, 128 << 10):       # both headers
    b[off + 4] ^= 0xff
open('v-crc.vhdx', 'wb').write(b)
b = bytearray(open('m.vmdk', 'rb').read())
gd = struct.unpack_from('<Q', b, 56)[0]
gt = struct.unpack_from('<I', b, gd * 512)[0]
struct.pack_into('<I', b, gt * 512, 0x7ffffff0)  # grain 0 far beyond the file
open('m-gte.vmdk', 'wb').write(b)
PY
bad "VHD with a bad footer checksum" "v-sum.vhd: VHD footer checksum mismatch" v-sum.vhd
bad "VHD with a BAT entry out of bounds" "v-bat.vhd" v-bat.vhd
bad "VHDX with both headers' CRC-32C wrong" "v-crc.vhdx: no valid VHDX header" v-crc.vhdx
bad "VMDK with a grain table entry out of bounds" "m-gte.vmdk" m-gte.vmdk
bad "VMDK with a grain table entry out of bounds, compressed output" "m-gte.vmdk" -c m-gte.vmdk

# OVAs.
mkovf () { # mkovf FILE [EXTRA-FILE-ATTRS] [HREF]
  cat > "$1" <<XML
<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References><File ovf:id="f1" ovf:href="${3:-good.vmdk}" $2/></References>
  <DiskSection><Info>d</Info><Disk ovf:diskId="d1" ovf:fileRef="f1" ovf:capacity="1"/></DiskSection>
</Envelope>
XML
}
mkovf vm.ovf
tar --format=ustar -cf ok.ova vm.ovf good.vmdk
ok "a good OVA converts" img-convert ok.ova ok.qcow2

echo '<Envelope><References>' > vm.ovf
tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: OVF not well-formed" "malformed XML: line [0-9]+: Premature end of data" t.ova
echo '<html/>' > vm.ovf; tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: OVF without an Envelope" "the root element is not an Envelope in the OVF 1.x or 2.x namespace" t.ova
# The elements are matched by namespace, as virt-define reads them (one
# reader for both): an Envelope of another namespace is no OVF.
sed 's|schemas.dmtf.org/ovf/envelope/1|example.org/not-ovf|g' <(mkovf /dev/stdout) > vm.ovf
tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: an Envelope outside the OVF namespace" "not an OVF descriptor: the root element is not an Envelope" t.ova
echo '<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>' > vm.ovf
tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: OVF with no disks" "lists no disks" t.ova
sed 's/fileRef="f1"/fileRef="nope"/' <(mkovf /dev/stdout) > vm.ovf
tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: disk refers to an unknown file" "refers to file 'nope'" t.ova
mkovf vm.ovf 'ovf:chunkSize="1000"'; tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: chunked disk" "chunkSize" t.ova
mkovf vm.ovf 'ovf:compression="lzma"'; tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: unknown member compression" "unknown ovf:compression 'lzma'" t.ova
mkovf vm.ovf 'ovf:compression="gzip"'; tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: member said gzip but is not" "corrupt gzip data" t.ova
mkovf vm.ovf "" "/etc/passwd"; tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad "OVA: absolute href" "not a plain file name" t.ova
mkovf vm.ovf
echo "MD5(good.vmdk)= 0123" > vm.mf; tar --format=ustar -cf t.ova vm.ovf vm.mf good.vmdk
bad "OVA: malformed manifest" "vm.mf: line 1: not a manifest line" t.ova
echo "SHA256(good.vmdk)= $(sha256sum vm.ovf | cut -d' ' -f1)" > vm.mf
tar --format=ustar -cf t.ova vm.ovf vm.mf good.vmdk
bad "OVA: manifest mismatch" "good.vmdk: SHA256 checksum mismatch" t.ova
cp vm.mf vm2.mf; : > vm.mf; tar --format=ustar -cf t.ova vm.ovf vm.mf vm2.mf good.vmdk
bad "OVA: two manifests" "two manifests" t.ova
python3 - <<'PY'
import tarfile
with tarfile.open('t.ova', 'w', format=tarfile.USTAR_FORMAT) as t:
    for name in ('vm.ovf', 'good.vmdk', 'good.vmdk'):
        with open(name, 'rb') as f:
            ti = t.gettarinfo(name); t.addfile(ti, f)
PY
bad "OVA: a member twice" "appears twice" t.ova
tar --format=ustar -cf t.ova good.vmdk vm.ovf
bad "OVA: descriptor not first" "not the OVF descriptor" -f ova t.ova
tar --format=ustar -cf t.ova vm.ovf
bad "OVA: disk member missing" "good.vmdk .*missing from the archive" t.ova
tar --format=ustar -cf t.ova vm.ovf good.vmdk
head -c 2000 t.ova > cut.ova
bad "OVA: truncated archive" "cut.ova" -f ova cut.ova
head -c 65536 /dev/urandom > notvmdk.vmdk
mkovf vm.ovf "" notvmdk.vmdk; tar --format=ustar -cf t.ova vm.ovf notvmdk.vmdk
bad "OVA: disk member not a VMDK" "no KDMV magic" t.ova
head -c 10240 /dev/zero > empty.ova
bad "OVA: empty archive" "" -f ova empty.ova
tar --format=ustar -cf t.ova vm.ovf good.vmdk
bad_stdin "OVA on stdin: truncated" "stdin" cut.ova -f ova

# Files that are plainly not disks are not taken as raw ones: the OVF
# instead of its disk, a compressed image.  (A tar archive is read as an
# OVA.)  Given as raw, they are converted.
bad "an OVF descriptor is not a disk" "vm.ovf: an XML document \\(an OVF descriptor\\?\\), not a disk image" vm.ovf
gzip -c good.raw > good.raw.gz
bad "a gzip file is not a disk" "a gzip-compressed file.*give its format: raw" good.raw.gz
ok "the OVF as raw, when asked for" img-convert -f raw vm.ovf "$out"
rm -f "$out"

# Output that cannot be written.
EXPECT_STATUS=1 expect_fail "output in a missing directory" "no-such-dir/x.qcow2.part: No such file" \
  img-convert good.raw no-such-dir/x.qcow2
EXPECT_STATUS=2 expect_fail "qcow2 to stdout is a usage error" "seekable" img-convert good.vmdk -
