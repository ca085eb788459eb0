#!/usr/bin/env bash
# Bad input to virt-define: each gets a clear message, exit status 1 (2
# for usage errors), no crash, and no output at all (nothing on stdout,
# no file, no .part left in --out-dir).
. "$(dirname "$0")/functions.sh"
requires jq --version

cd "$tmp"
NS='xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"'

# bad DESC PATTERN ARGS... [< input via $STDIN]: exit 1, the message, and
# nothing written to stdout.
bad ()
{
  local desc=$1 pattern=$2; shift 2
  EXPECT_STATUS=1 expect_fail "$desc" "$pattern" bash -c \
    'virt-define "$@" < "${STDIN:-/dev/null}" > stdout.txt' virt-define "$@"
  if [ -s stdout.txt ]; then fail "$desc: nothing on stdout"; else pass "$desc: nothing on stdout"; fi
}
ovf ()
{
  # ovf FILE HARDWARE-ITEMS [EXTRA-SECTIONS]
  cat > "$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<Envelope $NS>
  <References><File ovf:id="file1" ovf:href="d1.vmdk"/></References>
  <DiskSection><Info>d</Info>$3</DiskSection>
  <VirtualSystem ovf:id="vm1"><Info>v</Info><Name>vm1</Name>
    <VirtualHardwareSection><Info>h</Info>$2</VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
EOF
}
mem () { echo "<Item><rasd:AllocationUnits>$1</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>$2</rasd:VirtualQuantity></Item>"; }
disk () { echo "<Item><rasd:ElementName>Hard disk 1</rasd:ElementName><rasd:HostResource>$1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>"; }

# OVF.
printf '<Envelope %s><References>\n<File ovf:id="a"' "$NS" > trunc.ovf
bad "malformed XML" "trunc.ovf: malformed XML: line 2" trunc.ovf
printf '<?xml version="1.0"?>\n<Envelope %s><References/>\n<DiskSection/></Envelope>\n' "$NS" > novs.ovf
bad "an OVF without a VirtualSystem" "no VirtualSystem in the OVF" novs.ovf
printf '<Envelope xmlns="urn:other"><VirtualSystem/></Envelope>' > other.ovf
bad "another namespace" "not an OVF descriptor" other.ovf
printf '<html><body>hello</body></html>' > page.ovf
bad "not OVF at all" "not an OVF descriptor" page.ovf
ovf units.ovf "$(mem furlongs 4)"
bad "unknown memory units, named" 'allocation units "furlongs" not understood' units.ovf
ovf units2.ovf "$(mem 'byte * 3^20' 4)"
bad "byte * 3^20 is not understood" 'allocation units "byte \* 3\^20"' units2.ovf
ovf qty.ovf "$(mem 'byte * 2^20' lots)"
bad "memory quantity not a number" 'VirtualQuantity "lots" is not a number' qty.ovf
ovf cap.ovf "$(disk ovf:/disk/vmdisk1)" \
  '<Disk ovf:capacity="${disk.size}" ovf:diskId="vmdisk1" ovf:fileRef="file1"/>'
bad "disk capacity not a number" 'capacity "\$\{disk.size\}" is not a number' cap.ovf
ovf capu.ovf "$(disk ovf:/disk/vmdisk1)" \
  '<Disk ovf:capacity="4" ovf:capacityAllocationUnits="parsecs" ovf:diskId="vmdisk1" ovf:fileRef="file1"/>'
bad "disk capacity units" 'allocation units "parsecs"' capu.ovf
ovf nodisk.ovf "$(disk ovf:/disk/vmdisk9)" ''
bad "HostResource naming no disk" 'HostResource "ovf:/disk/vmdisk9" names no Disk' nodisk.ovf
ovf host.ovf "$(disk 'nfs://server/disk')" ''
bad "HostResource not understood" 'HostResource "nfs://server/disk" not understood' host.ovf
ovf fw.ovf '<vmw:Config xmlns:vmw="http://www.vmware.com/schema/ovf" vmw:key="firmware" vmw:value="coreboot"/>'
bad "unknown firmware" 'firmware "coreboot" not understood' fw.ovf
sed 's#</VirtualSystem>#&<VirtualSystem ovf:id="vm2"><Info>v</Info><VirtualHardwareSection><Info>h</Info></VirtualHardwareSection></VirtualSystem>#' \
  novs.ovf > /dev/null
printf '<Envelope %s><VirtualSystemCollection ovf:id="c"><VirtualSystem ovf:id="a"/><VirtualSystem ovf:id="b"/></VirtualSystemCollection></Envelope>' "$NS" > two.ovf
bad "two virtual systems" "2 virtual systems; only single-VM" two.ovf
printf '<Envelope %s><VirtualSystem ovf:id="a"><Name>a</Name></VirtualSystem></Envelope>' "$NS" > nohw.ovf
bad "no VirtualHardwareSection" "no VirtualHardwareSection" nohw.ovf
# An external entity is not fetched, and entity bombs are refused.
cat > xxe.ovf <<EOF
<?xml version="1.0"?>
<!DOCTYPE Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<Envelope $NS><VirtualSystem ovf:id="a"><Name>n&x;</Name><VirtualHardwareSection/></VirtualSystem></Envelope>
EOF
# A DTD is refused whole (lib/util/xmlread.h), before any entity is read.
bad "external entities are not read: a DOCTYPE is refused" "xxe.ovf: refused: the document has a DOCTYPE" xxe.ovf
{
  echo '<?xml version="1.0"?>'
  echo '<!DOCTYPE Envelope ['
  echo '<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
  prev=a
  for e in b c d e f g h; do
    printf '<!ENTITY %s "%s">\n' $e "$(for i in $(seq 20); do printf '&%s;' $prev; done)"
    prev=$e
  done
  echo ']>'
  echo "<Envelope $NS><VirtualSystem ovf:id=\"a\"><Name>&h;</Name><VirtualHardwareSection/></VirtualSystem></Envelope>"
} > lol.ovf
bad "an entity expansion bomb" "lol.ovf: refused: the document has a DOCTYPE" lol.ovf

# OVA.
printf 'not a tar at all\n' > junk.ova
bad "not an archive" "junk.ova: not a readable archive|junk.ova: " junk.ova
printf 'x\n' > disk.vmdk
tar cf empty.ova disk.vmdk
bad "an OVA without a descriptor" "no .ovf descriptor in the archive" empty.ova
cp trunc.ovf inner.ovf
tar cf badinner.ova inner.ovf
bad "an OVA with a malformed descriptor" "badinner.ova: inner.ovf: malformed XML" badinner.ova

# VMX.
printf 'displayName = "x"\nmemsize = "512"\nthis is garbage\n' > garbage.vmx
bad "a VMX with a garbage line, numbered" 'garbage.vmx: line 3: "this is garbage"' garbage.vmx
printf 'displayName = "a|2"\n' > esc.vmx
bad "a bad |XX escape" "line 1: displayName: bad escape" esc.vmx
printf 'displayName = "unterminated\n' > quote.vmx
bad "an unterminated quote" "line 1: displayName: unterminated quoted value" quote.vmx
printf 'displayName = "x" trailing\n' > trail.vmx
bad "text after the value" "line 1: displayName: trailing characters" trail.vmx
printf 'displayName = "x"\nnumvcpus = "many"\n' > num.vmx
bad "a number that is not one" 'numvcpus = "many": not a positive number' num.vmx
printf 'displayName = "x"\nfirmware = "openfirmware"\n' > fw.vmx
bad "unknown VMX firmware" 'firmware = "openfirmware" not understood' fw.vmx
printf '.encoding = "no-such-charset"\ndisplayName = "x"\n' > enc.vmx
bad "unknown .encoding" 'no-such-charset' enc.vmx
printf 'displayName = "x"\nscsi0:0.present = "TRUE"\nscsi0:0.deviceType = "scsi-hardDisk"\n' > nofile.vmx
bad "a disk without fileName" "scsi0:0: disk without a fileName" nofile.vmx
printf 'a = "\0"\n' > nul.vmx
bad "a binary file" "NUL bytes" nul.vmx
: > empty.vmx
bad "an empty VMX" "empty VMX file" empty.vmx

# Records.
STDIN=<(echo '{"name": "x", "cpus": ') bad "truncated JSON" "<stdin>: line 1: not valid JSON"
echo '{"name":"x","cpus":"four"}' > r1.json
STDIN=r1.json bad "a field of the wrong type" '<stdin>: line 1: "cpus" is not an integer'
echo '{"name":"x","firmware":"uefi2"}' > r2.json
STDIN=r2.json bad "an unknown firmware" 'firmware "uefi2" not understood'
echo '{"name":"x","disks":[{"capacity":-5}]}' > r3.json
STDIN=r3.json bad "a negative capacity" 'disks\[0\]: "capacity" is -5'
echo '{"name":"x","nics":"eth0"}' > r4.json
STDIN=r4.json bad "nics not an array" '"nics" is not an array'
echo '{"name":"line\nbreak"}' > r5.json
STDIN=r5.json bad "a name with a line break" "control characters or line breaks"
printf '{"name":"bad\xff\xfeutf8"}\n' > r6.json
STDIN=r6.json bad "a name that is not UTF-8" "not valid UTF-8"
echo '{"disks":[]}' > r7.json
STDIN=r7.json bad "no name at all" "gives no name: use --name"
STDIN=/dev/null bad "no record" "<stdin>: no VM record"
echo '{"kind":"host","name":"esx"}' > r8.json
STDIN=r8.json bad "only non-VM records" "no VM record"
printf '{"name":"a"}\n{"name":"b"}\n' > two.json
STDIN=two.json bad "two records to stdout" "2 VM records: .* use --out-dir"

# Disks.
echo '{"name":"d","disks":[{"file":"[ds] d/d.vmdk","local":"nowhere/d.qcow2"}]}' > d.json
ok "a missing disk is a warning" bash -c 'virt-define < d.json 2>err >out.xml'
ok "... naming the file" grep -q "nowhere/d.qcow2: No such file or directory" err
ok "... and the domain is written" grep -q "<domain" out.xml
STDIN=d.json bad "--strict: a missing disk is an error" "d: disk 1: .*nowhere/d.qcow2: No such file" --strict
echo '{"name":"d","disks":[{"label":"Hard disk 1"}]}' > nodisk.json
STDIN=nodisk.json bad "a disk with no path at all" "disk 1 \(Hard disk 1\): no path for the converted disk"
STDIN=nodisk.json bad "--disk-dir but nothing to name the disk by" "names no file to find the converted disk by" --disk-dir .
mkdir adir
STDIN=d.json bad "a directory as a disk" "not a regular file or a block device" --disk adir
printf 'vhdxfile' > x.vhdx
STDIN=d.json bad "a VHDX as a disk" "a VHDX image, not qcow2 or raw" --disk x.vhdx
printf '# Disk DescriptorFile\nversion=1\n' > x.vmdk
STDIN=d.json bad "a VMDK descriptor as a disk" "a VMDK descriptor, not qcow2 or raw" --disk x.vmdk
STDIN=d.json bad "--disk-dir that is not a directory" "--disk-dir: x.vmdk: not a directory" --disk-dir x.vmdk

# UEFI firmware missing: a warning, an error with --strict.
mkdir noovmf
echo '{"name":"e","firmware":"efi","cpus":1,"memory_mib":512}' > efi.json
ok "missing OVMF is a warning" bash -c \
  'VIRT_DEFINE_OVMF_DIR=$PWD/noovmf virt-define < efi.json 2>err >/dev/null'
ok "... naming the package" grep -q "install Debian's ovmf package" err
VIRT_DEFINE_OVMF_DIR=$PWD/noovmf STDIN=efi.json bad "--strict: missing OVMF" "UEFI firmware .* not found" --strict

# Nothing half-written: a batch with one bad record writes no file.
printf '{"name":"good1"}\n{"name":"good2"}\n{"name":"bad","cpus":"x"}\n' > batch.json
STDIN=batch.json bad "a bad record in a batch" 'line 3: "cpus" is not an integer' --out-dir outdir
ok "... and no domain of the batch was written" bash -c '[ -z "$(ls -A outdir 2>/dev/null)" ]'
printf '{"name":"good1"}\n{"name":"bad","disks":[{"local":"x.vmdk"}]}\n' > batch2.json
STDIN=batch2.json bad "a bad disk in a batch" 'bad: disk 1: .*VMDK descriptor' --out-dir outdir2
ok "... nothing written either" bash -c '[ -z "$(ls -A outdir2 2>/dev/null)" ]'

# Usage errors exit 2.
for args in "--bus ide" "--machine isapc" "--graphics sdl" "--virt-type xen" \
            "--firmware coreboot" "--vcpus 0" "--memory lots" "--network =x" \
            "--bridge a=" "a.ovf b.ovf"; do
  # shellcheck disable=SC2086
  EXPECT_STATUS=2 expect_fail "usage error: $args" "" virt-define $args
done
