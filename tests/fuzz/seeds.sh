#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made from valid files at build time
# (never committed): qemu-img's images, tests/tools/vmdk-gen's forms the
# qemu-img cannot write, ../shared/samples when present, and small texts.
# Usage: tests/fuzz/seeds.sh OUTDIR   (H2K_BIN: where vmdk-gen is)
# Disk seeds are cut to their first MiB: the headers and tables the
# parsers read are there, and libFuzzer works best on small inputs.  VHDX
# seeds are cut to 4 MiB: every VHDX region starts on a MiB boundary past
# the 1 MiB header area, so a VHDX of one MiB has no BAT nor metadata
# (the first runs never got past the region table); the qemu-img images
# are made compact (tests/fuzz/vhdx-compact.py: no log, metadata at 1 MiB,
# BAT at 2 MiB, blocks from 3 MiB).
set -euo pipefail
out=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${H2K_BIN:-$top/bin}
samples=${H2K_SAMPLES:-$top/../shared/samples}
# A worktree under /work/wt/NAME keeps the samples two levels up.
[ -d "$samples" ] || [ -n "${H2K_SAMPLES:-}" ] || samples=$top/../../shared/samples
gen=$bin/tests/vmdk-gen
rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/h2k-seeds.XXXXXX")
trap 'rm -rf "$work"' EXIT

for t in vmdk vhd vhdx qcow2 probe vmdk-desc vmdk-stream ova ovf vmx jsonl soap http-range; do
  mkdir -p "$out/$t"
done

# seed TARGET NAME: stdin (its first MiB, 4 for VHDX) becomes a seed of
# TARGET.
seed () { if [ "$1" = vhdx ]; then head -c 4M; else head -c 1M; fi > "$out/$1/$2"; }

# A raw disk with a little data at a few places.
raw=$work/data.raw
truncate -s 4M "$raw"
printf 'h2k fuzz seed %.0s' $(seq 200) | dd of="$raw" conv=notrunc status=none
printf 'more data' | dd of="$raw" bs=64k seek=17 conv=notrunc status=none
printf 'end' | dd of="$raw" bs=4k seek=1023 conv=notrunc status=none

if command -v qemu-img >/dev/null; then
  q () { qemu-img convert -q -O "$@"; }
  for sub in monolithicSparse streamOptimized; do
    q vmdk -o subformat=$sub "$raw" "$work/$sub.vmdk"
    seed vmdk "qemu-$sub" < "$work/$sub.vmdk"
  done
  q vmdk -o subformat=streamOptimized "$raw" "$work/s.vmdk"
  seed vmdk-stream qemu-stream < "$work/s.vmdk"
  q vmdk -o subformat=monolithicFlat "$raw" "$work/flat.vmdk"
  seed vmdk qemu-desc-flat < "$work/flat.vmdk"
  seed vmdk-desc qemu-desc-flat < "$work/flat.vmdk"
  q vmdk -o subformat=twoGbMaxExtentSparse "$raw" "$work/split.vmdk"
  seed vmdk-desc qemu-desc-split < "$work/split.vmdk"
  for sub in dynamic fixed; do
    q vpc -o subformat=$sub "$raw" "$work/$sub.vhd"
    seed vhd "qemu-$sub" < <(if [ $sub = fixed ]; then tail -c 512 "$work/$sub.vhd"; else cat "$work/$sub.vhd"; fi)
  done
  q vhdx "$raw" "$work/d.vhdx"
  seed vhdx qemu-dynamic < "$work/d.vhdx"
  q vhdx -o block_size=1M,log_size=1M "$raw" "$work/d2.vhdx"
  seed vhdx qemu-small-blocks < "$work/d2.vhdx"
  # Compact ones, whole: a disk of 1 MiB + 64 KiB whose second, short
  # block holds data (3 MiB + 64 KiB), and one of a full block (4 MiB).
  if command -v python3 >/dev/null; then
    truncate -s 1088K "$work/v1.raw"
    printf 'short block' | dd of="$work/v1.raw" bs=1K seek=1030 conv=notrunc status=none
    truncate -s 1M "$work/v2.raw"
    printf 'full block' | dd of="$work/v2.raw" bs=1K seek=3 conv=notrunc status=none
    for v in v1 v2; do
      q vhdx -o block_size=1M,log_size=1M "$work/$v.raw" "$work/$v.vhdx"
      python3 "$top/tests/fuzz/vhdx-compact.py" "$work/$v.vhdx" "$work/$v-compact.vhdx"
      seed vhdx "qemu-compact-$v" < "$work/$v-compact.vhdx"
    done
  fi
  q qcow2 -o compat=0.10 "$raw" "$work/v2.qcow2"
  seed qcow2 qemu-v2 < "$work/v2.qcow2"
  q qcow2 -o compat=1.1,cluster_size=4096 "$raw" "$work/v3.qcow2"
  seed qcow2 qemu-v3-4k < "$work/v3.qcow2"
  q qcow2 -c "$raw" "$work/c.qcow2"
  seed qcow2 qemu-compressed < "$work/c.qcow2"
  if qemu-img create -q -f qcow2 -o compression_type=zstd "$work/z.qcow2" 4M 2>/dev/null; then
    q qcow2 -c -o compression_type=zstd "$raw" "$work/z.qcow2"
    seed qcow2 qemu-zstd < "$work/z.qcow2"
  fi
  qemu-img create -q -f qcow2 -b v3.qcow2 -F qcow2 "$work/top.qcow2"
  seed qcow2 qemu-backing < "$work/top.qcow2"
fi

if [ -x "$gen" ]; then
  spec=$work/spec.raw
  truncate -s 1M "$spec"
  printf 'grain' | dd of="$spec" bs=4k seek=3 conv=notrunc status=none
  "$gen" cowd "$work/cowd.vmdk" "$spec"
  "$gen" sesparse "$work/se.vmdk" "$spec" zero=0:4096
  "$gen" stream "$work/gs.vmdk" "$spec"
  "$gen" compressed "$work/gc.vmdk" "$spec"
  for f in cowd se gs gc; do seed vmdk "gen-$f" < "$work/$f.vmdk"; done
  seed vmdk-stream gen-stream < "$work/gs.vmdk"
fi

# The shared samples, decompressed, cut to their first MiB.
unpack () {
  case $1 in
    *.gz) gzip -dc "$1" ;;
    *.bz2) bzip2 -dc "$1" ;;
    *.zip) unzip -p "$1" 2>/dev/null ;;
    *) cat "$1" ;;
  esac
}
sample () {   # sample TARGET GLOB...
  local t=$1 f; shift
  for f in "$@"; do
    [ -f "$f" ] || continue
    { unpack "$f" || true; } | seed "$t" "sample-$(basename "$f")"
  done
}
if [ -d "$samples" ]; then
  sample vmdk "$samples"/vmdk-*/*
  sample vmdk-desc "$samples"/vmdk-descriptor/*
  sample vmdk-stream "$samples"/vmdk-streamoptimized/*
  sample vhd "$samples"/vhd-*/* "$samples"/fragments-libvhdi/file_footer.1
  sample vhdx "$samples"/vhdx-*/*
  sample ova "$samples"/ova/* "$samples"/ova-invalid/*
  sample ovf "$samples"/ovf/*
  for f in "$samples"/ova/*.ova; do
    [ -f "$f" ] || continue
    tar -xOf "$f" --wildcards '*.ovf' 2>/dev/null | seed ovf "from-$(basename "$f").ovf" || true
  done
fi

# A small OVA of our own: descriptor first, the stream disk, a manifest.
if [ -f "$work/gs.vmdk" ] || [ -f "$work/s.vmdk" ]; then
  d=$work/ova; mkdir -p "$d"
  cp "$( [ -f "$work/s.vmdk" ] && echo "$work/s.vmdk" || echo "$work/gs.vmdk")" "$d/disk1.vmdk"
  cat > "$d/vm.ovf" <<'OVF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References><File ovf:id="file1" ovf:href="disk1.vmdk"/></References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="4" ovf:capacityAllocationUnits="byte * 2^20" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="vm1"><Info>a VM</Info><Name>vm1</Name>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:ElementName>2 CPUs</rasd:ElementName><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>mem</rasd:ElementName><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
      <Item><rasd:ElementName>scsi</rasd:ElementName><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>disk</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:AutomaticAllocation>true</rasd:AutomaticAllocation><rasd:Connection>VM Network</rasd:Connection><rasd:ElementName>eth0</rasd:ElementName><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
OVF
  (cd "$d" && for f in vm.ovf disk1.vmdk; do printf 'SHA256(%s)= %s\n' "$f" "$(sha256sum "$f" | cut -d' ' -f1)"; done > vm.mf)
  tar -C "$d" -cf "$work/own.ova" vm.ovf disk1.vmdk vm.mf
  seed ova own < "$work/own.ova"
  seed ovf own < "$d/vm.ovf"
fi

cat > "$out/vmx/db01" <<'VMX'
.encoding = "UTF-8"
config.version = "8"
virtualHW.version = "19"
displayName = "db01 |22primary|22 |7C <&>"
annotation = "Database server|0Aowner: dba|0Dx"
guestOS = "debian11-64"
firmware = "efi"
uefi.secureBoot.enabled = "TRUE"
numvcpus = "8"
cpuid.coresPerSocket = "4"
memsize = "16384"
uuid.bios = "42 10 c8 e1 9a 7c 4b 2d-8e 3f 11 22 33 44 55 66"
bios.hddOrder = "scsi0:1"
bios.bootOrder = "hdd,cdrom"
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "db01.vmdk"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "db01_1.vmdk"
sata0.present = "TRUE"
sata0:0.present = "TRUE"
sata0:0.deviceType = "cdrom-image"
sata0:0.fileName = "/vmfs/volumes/iso/debian.iso"
nvme0.present = "TRUE"
nvme0:0.present = "TRUE"
nvme0:0.fileName = "db01_3.vmdk"
ide0:0.present = "TRUE"
ide0:0.fileName = "ide.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "vpx"
ethernet0.generatedAddress = "00:50:56:9a:0b:1c"
ethernet1.present = "TRUE"
ethernet1.virtualDev = "e1000e"
ethernet1.addressType = "static"
ethernet1.address = "00:50:56:3F:00:01"
floppy0.present = "FALSE"
VMX
printf '.encoding = "windows-1252"\ndisplayName = "caf\351"\nmemsize = "1024"\n' > "$out/vmx/latin1"
printf 'displayName = "x"\n' > "$out/vmx/empty"

cat > "$out/jsonl/records" <<'JSON'
{"kind":"vm","name":"w","moref":"vm-1","uuid":"42100000-0000-0000-0000-000000000001","cpus":2,"memory_mb":2048,"firmware":"efi","guest_id":"debian11_64Guest","disks":[{"key":2000,"label":"Hard disk 1","file":"[ds1] w/w.vmdk","capacity":4194304,"controller":"pvscsi","bus":0,"unit":0,"chain":["[ds1] w/w.vmdk"],"local":["/tmp/w/w.vmdk"]}],"nics":[{"key":4000,"type":"vmxnet3","mac":"00:50:56:00:00:01","network":"VM Network"}]}
{"kind":"extent","file":"[ds1] w/w-flat.vmdk","offset":0,"length":65536}
JSON
printf '{"kind":"vm","name":"a","disks":[{"key":1,"file":"[d] a/a.vmdk","chain":[1]}]}\n[1,2]\n{"x":\n' > "$out/jsonl/bad"

cat > "$out/soap/retrieve" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>1</token><objects><obj type="VirtualMachine">vm-1</obj><propSet><name>name</name><val xsi:type="xsd:string">w</val></propSet><propSet><name>config.hardware.device</name><val xsi:type="ArrayOfVirtualDevice"><VirtualDevice xsi:type="VirtualDisk"><key>2000</key><capacityInBytes>4194304</capacityInBytes></VirtualDevice></val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>
XML
cat > "$out/soap/fault" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete login due to an incorrect user name or password.</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>
XML
cat > "$out/soap/task" <<'XML'
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="Task">task-1</obj><propSet><name>info</name><val xsi:type="TaskInfo"><state>error</state><error><localizedMessage>boom</localizedMessage></error><result xsi:type="xsd:int">7</result></val></propSet></objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>
XML

printf 'HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1023/4096\r\nContent-Type: application/octet-stream\r\nETag: "abc"\r\nLast-Modified: Tue, 01 Dec 2026 00:00:00 GMT\r\n\r\n' > "$out/http-range/206"
printf 'HTTP/1.1 503 Busy\r\nRetry-After: 2.5\r\nContent-Range: bytes 5-9/*\r\n\r\n' > "$out/http-range/503"
printf 'HTTP/1.1 200 OK\r\nContent-Type: multipart/byteranges; boundary=x\r\nContent-Range: junk\r\n' > "$out/http-range/multi"

# The probe target sees every disk seed.
for t in vmdk vhd vhdx qcow2; do
  cp "$out/$t"/* "$out/probe/" 2>/dev/null || true
done
for t in "$out"/*/; do
  printf '%s: %s seeds\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done
