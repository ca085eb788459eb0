#!/usr/bin/env bash
# img-convert on OVAs built at test time (tar of .ovf, .mf and
# streamOptimized disks made by qemu-img), streamOptimized VMDKs on stdin,
# and the sample OVAs.  Oracles: qemu-img check/compare, sha256sum.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires tar --version
requires python3 --version

cd "$tmp"

# Two guest disks with recognisable content.
python3 - <<'PY'
import random
random.seed(3)
with open('d1.raw', 'wb') as f:
    for i in range(700):
        f.write((b'disk one, block %d\n' % i) * 200 if i % 3 else b'\0' * 4000)
    f.write(b'\0' * (-f.tell() % 512))
with open('d2.raw', 'wb') as f:
    f.write(random.randbytes(1 << 20))
    f.seek((9 << 20) - 1); f.write(b'\1')
PY
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized d1.raw disk1.vmdk
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized d2.raw disk2.vmdk

# make_ovf NAME FILE...: an OVF with one Disk per FILE (optionally FILE:gzip).
make_ovf ()
{
  local out=$1; shift
  local refs= disks= i=0 f comp
  for f in "$@"; do
    i=$((i + 1)); comp=
    case $f in *:gzip) f=${f%:gzip}; comp=' ovf:compression="gzip"' ;; esac
    refs+="    <File ovf:id=\"file$i\" ovf:href=\"$f\"$comp/>"$'\n'
    disks+="    <Disk ovf:diskId=\"vmdisk$i\" ovf:fileRef=\"file$i\" ovf:capacity=\"1\" ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>"$'\n'
  done
  cat > "$out" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
$refs  </References>
  <DiskSection>
    <Info>Virtual disks</Info>
$disks  </DiskSection>
  <VirtualSystem ovf:id="vm"><Info>A VM</Info><Name>vm</Name></VirtualSystem>
</Envelope>
XML
}

# make_mf ALG FILE...: an OpenSSL-style manifest.
make_mf ()
{
  local alg=$1; shift
  local f
  for f in "$@"; do
    case $alg in
      SHA256) echo "SHA256($f)= $(sha256sum "$f" | cut -d' ' -f1)" ;;
      SHA1) echo "SHA1($f)= $(sha1sum "$f" | cut -d' ' -f1)" ;;
    esac
  done
}

# ova NAME MEMBER...: a ustar archive with the members in that order.
ova () { local n=$1; shift; tar --format=ustar -cf "$n" "$@"; }

no_output ()
{
  if [ -e "$1" ] || [ -e "$1.part" ]; then fail "$2: no output left"; else pass "$2: no output left"; fi
}

check_against ()
{
  local desc=$1 img=$2 ref=$3 out
  if out=$(qemu-img check "$img" 2>&1); then pass "$desc: check clean"; else fail "$desc: check"; diag "$out"; fi
  ok "$desc: identical to the source" qemu-img compare -q "$ref" "$img"
}

# One disk, SHA256 manifest.
make_ovf vm.ovf disk1.vmdk
make_mf SHA256 vm.ovf disk1.vmdk > vm.mf
ova one.ova vm.ovf vm.mf disk1.vmdk
ok "OVA with one disk" img-convert one.ova one.qcow2
check_against "OVA one disk" one.qcow2 d1.raw
got=$(img-convert --sha256 one.ova one-s.qcow2 | cut -d' ' -f1)
is "OVA --sha256 = sha256sum of the guest" "$got" "$(sha256 d1.raw)"
ok "OVA from stdin" img-convert - stdin.qcow2 < one.ova
same_file "OVA from stdin = from the file" one.qcow2 stdin.qcow2
ok "OVA to raw" img-convert -O raw one.ova one.raw
same_file "OVA to raw = the guest" one.raw d1.raw
ok "OVA zstd" img-convert -c -o compression_type=zstd one.ova onez.qcow2
check_against "OVA zstd" onez.qcow2 d1.raw
mkdir outdir
ok "OVA into an existing directory" img-convert one.ova outdir
check_against "OVA into a directory" outdir/disk1.qcow2 d1.raw
img-convert --progress=3 one.ova p.qcow2 3>progress.txt
is "OVA --progress=FD ends with 100/100" "$(tail -n1 progress.txt)" "100/100"

# SHA1 manifest, and the BSD form some ovftool versions write.
make_mf SHA1 vm.ovf disk1.vmdk > vm.mf
ova sha1.ova vm.ovf vm.mf disk1.vmdk
ok "SHA1 manifest" img-convert sha1.ova sha1.qcow2
sed -E 's/^(SHA1)\((.*)\)= /\1 (\2) = /' vm.mf > bsd.mf && mv bsd.mf vm.mf
ova bsd.ova vm.ovf vm.mf disk1.vmdk
ok "BSD-style manifest" img-convert bsd.ova bsd.qcow2

# The manifest after the disks is verified all the same.
make_mf SHA256 vm.ovf disk1.vmdk > vm.mf
ova late.ova vm.ovf disk1.vmdk vm.mf
ok "manifest after the disk" img-convert late.ova late.qcow2
same_file "manifest after the disk: same output" one.qcow2 late.qcow2

# No manifest at all.
ova nomf.ova vm.ovf disk1.vmdk
ok "no manifest" img-convert nomf.ova nomf.qcow2

# A gzip-compressed disk member.
gzip -c disk1.vmdk > disk1.vmdk.gz && cp disk1.vmdk.gz gzdisk.vmdk
make_ovf gz.ovf gzdisk.vmdk:gzip
ova gz.ova gz.ovf gzdisk.vmdk
ok "gzip-compressed disk member" img-convert gz.ova gz.qcow2
check_against "gzip member" gz.qcow2 d1.raw

# Two disks: --disk, --all, and the refusal without either.
make_ovf two.ovf disk1.vmdk disk2.vmdk
make_mf SHA256 two.ovf disk1.vmdk disk2.vmdk > two.mf
ova two.ova two.ovf two.mf disk1.vmdk disk2.vmdk
expect_fail "two disks need --disk or --all" "choose one with --disk" img-convert two.ova t.qcow2
no_output t.qcow2 "two disks without --disk"
ok "--disk 2" img-convert --disk 2 two.ova second.qcow2
check_against "--disk 2" second.qcow2 d2.raw
ok "--all" img-convert --all two.ova all
check_against "--all disk 1" all/disk1.qcow2 d1.raw
check_against "--all disk 2" all/disk2.qcow2 d2.raw
expect_fail "--disk 3 of 2" "lists 2 disks" img-convert --disk 3 two.ova t.qcow2
no_output t.qcow2 "--disk 3"

# spoil_line N: change the last hex digit of line N's digest, whatever it
# is (a fixed substitution is a no-op for some digests, and the disks'
# digests change from run to run).
spoil_line ()
{
  awk -v n="$1" 'NR == n { c = substr ($0, length ($0));
                           $0 = substr ($0, 1, length ($0) - 1) (c == "0" ? "1" : "0") }
                 { print }'
}

# Manifest mismatch: nothing left behind, with --all neither.
make_mf SHA256 two.ovf disk1.vmdk disk2.vmdk | spoil_line 3 > two.mf
ova bad.ova two.ovf two.mf disk1.vmdk disk2.vmdk
expect_fail "manifest mismatch" "checksum mismatch" img-convert --disk 2 bad.ova bad.qcow2
no_output bad.qcow2 "manifest mismatch"
EXPECT_STATUS=1 expect_fail "manifest mismatch, --all" "checksum mismatch" img-convert --all bad.ova badall
no_output badall/disk1.qcow2 "manifest mismatch --all, disk 1"
no_output badall/disk2.qcow2 "manifest mismatch --all, disk 2"
make_mf SHA256 vm.ovf disk1.vmdk | spoil_line 1 > vm.mf
ova badovf.ova vm.ovf vm.mf disk1.vmdk
expect_fail "manifest mismatch on the .ovf" "vm.ovf: SHA256 checksum mismatch" img-convert badovf.ova b.qcow2
no_output b.qcow2 "manifest mismatch on the .ovf"

# A missing disk member, and a manifest naming a missing member.
make_mf SHA256 two.ovf disk1.vmdk > two.mf
ova missing.ova two.ovf two.mf disk1.vmdk
expect_fail "missing disk member" "disk2.vmdk .*missing" img-convert --all missing.ova miss
no_output miss/disk1.qcow2 "missing member"
make_mf SHA256 vm.ovf disk1.vmdk disk2.vmdk > vm.mf
ova mfextra.ova vm.ovf vm.mf disk1.vmdk
expect_fail "manifest names a missing member" "disk2.vmdk, which is not in the archive" img-convert mfextra.ova m.qcow2
no_output m.qcow2 "manifest names a missing member"

# The descriptor must come first.
ova order.ova disk1.vmdk vm.ovf
expect_fail ".ovf not first" "not the OVF descriptor" img-convert -f ova order.ova o.qcow2
no_output o.qcow2 ".ovf not first"

# Member names are never used as paths: an OVF naming ../x is refused.
make_ovf evil.ovf ../disk1.vmdk
ova evil.ova evil.ovf disk1.vmdk
expect_fail "OVF href with ../" "not a plain file name" img-convert --all evil.ova evilout
[ ! -e disk1.qcow2 ] && pass "nothing written outside OUTPUT" || fail "something written outside OUTPUT"
python3 - <<'PY'
import tarfile, io
with tarfile.open('dotdot.ova', 'w', format=tarfile.USTAR_FORMAT) as t:
    for name, path in (('vm.ovf', 'vm.ovf'), ('../../disk1.vmdk', 'disk1.vmdk')):
        data = open(path, 'rb').read()
        ti = tarfile.TarInfo(name); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
expect_fail "member named ../../disk1.vmdk is not the disk" "missing from the archive" img-convert dotdot.ova dd.qcow2
no_output dd.qcow2 "member named ../../"

# streamOptimized VMDKs on stdin (a pipe: decoded without seeking).
ok "streamOptimized VMDK on stdin" img-convert - sv.qcow2 < disk2.vmdk
check_against "streamOptimized on stdin" sv.qcow2 d2.raw
cat disk1.vmdk | img-convert -f vmdk -O raw - sv.raw
same_file "streamOptimized through a pipe to raw" sv.raw d1.raw

# The samples (skipped when absent).
S=$H2K_SAMPLES
if [ -d "$S/vmdk-streamoptimized" ]; then
  for f in "$S"/vmdk-streamoptimized/*.vmdk; do
    ok "sample $(basename "$f") on stdin" img-convert - smp.qcow2 < "$f"
    ok "sample $(basename "$f"): identical" qemu-img compare -q "$f" smp.qcow2
  done
  bzcat "$S/vmdk-streamoptimized/qemu-iotest-version3.vmdk.bz2" > v3.vmdk
  got=$(img-convert --sha256 - v3.qcow2 < v3.vmdk | cut -d' ' -f1)
  is "sample iotest-version3 (ovftool layout, 16 GiB): documented sha256" "$got" \
    0859bb3397bc1d30fa979c80a289ce98bfd6c1141a64594d6f3cc8cd68218faf
  check_against "sample iotest-version3" v3.qcow2 v3.vmdk
else
  skip "no samples in $S"
fi
if [ -d "$S/ova" ]; then
  expect_fail "sample govmomi OVA: its disk is truncated" "truncated" \
    img-convert "$S/ova/govmomi-ttylinux-pc_i486-16.1.ova" gv.qcow2
  no_output gv.qcow2 "sample govmomi OVA"
  expect_fail "sample forklift OVA: damaged disk" "2nd_disk.vmdk: invalid grain size" \
    img-convert "$S/ova-invalid/forklift-2nd_disk.ova" fk.qcow2
  no_output fk.qcow2 "sample forklift OVA"
else
  skip "no sample OVAs in $S"
fi
