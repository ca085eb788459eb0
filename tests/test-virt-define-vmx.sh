#!/usr/bin/env bash
# virt-define on VMX files: several disks on several controllers, several
# NICs with generated and static MACs, EFI with secure boot, VMware's
# |XX escapes, a non-UTF-8 .encoding, bios.hddOrder.  Oracles:
# virt-xml-validate, virsh's test driver, xmllint --xpath, jq.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/domain.sh"
requires jq --version

cd "$tmp"
mkdir ovmf out
touch ovmf/OVMF_CODE_4M.secboot.fd ovmf/OVMF_VARS_4M.ms.fd ovmf/OVMF_CODE_4M.fd ovmf/OVMF_VARS_4M.fd
export VIRT_DEFINE_OVMF_DIR=$tmp/ovmf

# As ESXi writes it (CRLF line ends included), with escapes in the name
# and the annotation.
sed 's/$/\r/' > db01.vmx <<'EOF'
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
# controllers and disks
scsi0.present = "TRUE"
scsi0.virtualDev = "pvscsi"
scsi0:0.present = "TRUE"
scsi0:0.fileName = "db01.vmdk"
scsi0:0.deviceType = "scsi-hardDisk"
scsi0:1.present = "TRUE"
scsi0:1.fileName = "db01_1.vmdk"
scsi1.present = "TRUE"
scsi1.virtualDev = "lsisas1068"
scsi1:0.present = "TRUE"
scsi1:0.fileName = "/vmfs/volumes/ds2/db01/db01_2.vmdk"
scsi0:2.present = "FALSE"
scsi0:2.fileName = "gone.vmdk"
sata0.present = "TRUE"
sata0:0.present = "TRUE"
sata0:0.deviceType = "cdrom-image"
sata0:0.fileName = "/vmfs/volumes/iso/debian.iso"
nvme0.present = "TRUE"
nvme0:0.present = "TRUE"
nvme0:0.fileName = "db01_3.vmdk"
ethernet0.present = "TRUE"
ethernet0.virtualDev = "vmxnet3"
ethernet0.networkName = "VM Network"
ethernet0.addressType = "vpx"
ethernet0.generatedAddress = "00:50:56:9a:0b:1c"
ethernet1.present = "TRUE"
ethernet1.virtualDev = "e1000e"
ethernet1.networkName = "Storage"
ethernet1.addressType = "static"
ethernet1.address = "00:50:56:3F:00:01"
ethernet1.generatedAddress = "00:0c:29:00:00:99"
ethernet2.present = "FALSE"
floppy0.present = "FALSE"
EOF
for f in db01 db01_1 db01_2 db01_3; do
  if command -v qemu-img >/dev/null; then qemu-img create -q -f qcow2 out/$f.qcow2 16M
  else printf 'QFI\373' > out/$f.qcow2; fi
done

src=$(virt-define --print-source db01.vmx)
is "escapes decoded in the name" "$(jq -r .name <<<"$src")" 'db01 "primary" | <&>'
is "|0A is a newline" "$(jq -r .annotation <<<"$src")" $'Database server\nowner: dba\rx'
is "uuid.bios normalised" "$(jq -r .uuid <<<"$src")" 4210c8e1-9a7c-4b2d-8e3f-112233445566
is "cpus, cores, memory, firmware" \
  "$(jq -c '[.cpus, .cores_per_socket, .memory_mib, .firmware, .secure_boot, .hw_version]' <<<"$src")" \
  '[8,4,16384,"efi",true,"vmx-19"]'
is "disks in controller order, absent ones left out" \
  "$(jq -c '[.disks[] | .label]' <<<"$src")" '["scsi0:0","scsi0:1","scsi1:0","nvme0:0"]'
is "controllers" "$(jq -c '[.disks[] | .controller]' <<<"$src")" \
  '["pvscsi","pvscsi","lsilogic-sas","nvme"]'
is "NICs: generated and static MACs" "$(jq -c '[.nics[] | .mac]' <<<"$src")" \
  '["00:50:56:9a:0b:1c","00:50:56:3F:00:01"]'
is "NIC types and networks" "$(jq -c '[.nics[] | [.type, .network]]' <<<"$src")" \
  '[["vmxnet3","VM Network"],["e1000e","Storage"]]'
is "the CD-ROM is reported, not carried" "$(jq -c '.removable' <<<"$src")" \
  '[{"type":"cdrom","label":"sata0:0"}]'

ok "domain written" bash -c 'virt-define --disk-dir out --bridge Storage=br-stor \
  --network prod db01.vmx > db01.xml'
d=db01.xml
valid "VMX" $d
is "name XML-escaped and kept" "$(xp $d /domain/name)" 'db01 "primary" | <&>'
is "UUID" "$(xp $d /domain/uuid)" 4210c8e1-9a7c-4b2d-8e3f-112233445566
is "title is the first line" "$(xp $d /domain/title)" "Database server"
is "8 vCPUs as 2 sockets of 4 cores" \
  "$(xp $d 'concat(/domain/vcpu, " ", /domain/cpu/topology/@sockets, "x", /domain/cpu/topology/@cores)')" "8 2x4"
is "16 GiB" "$(xp $d /domain/memory)" 16384
is "secure boot" "$(xp $d /domain/os/loader/@secure)" yes
is "four disks" "$(xp $d 'count(//disk)')" 4
is "disk 3 found by its base name" "$(xp $d '//disk[3]/source/@file')" "$tmp/out/db01_2.qcow2"
is "boot order follows the source" "$(xp $d '//disk[4]/boot/@order')" 4
is "MACs lower-cased" "$(xp $d '//interface[2]/mac/@address')" 00:50:56:3f:00:01
is "Storage on its bridge" "$(xp $d '//interface[2]/source/@bridge')" br-stor
is "the rest on the default network given" "$(xp $d '//interface[1]/source/@network')" prod

# bios.hddOrder puts the boot disk first.
sed 's/^memsize.*/&\nbios.hddOrder = "nvme0:0"/' db01.vmx > boot.vmx
is "bios.hddOrder" "$(virt-define --print-source boot.vmx | jq -r '.disks[0].label')" nvme0:0

# A Workstation VMX: no displayName (the file name is used), no firmware
# key (BIOS), IDE disk, connection types instead of network names.
cat > 'My VM.vmx' <<'EOF'
.encoding = "windows-1252"
guestOS = "windows9-64"
memsize = "4096"
numvcpus = "2"
ide0:0.present = "TRUE"
ide0:0.fileName = "My VM-0.vmdk"
ide1:0.present = "TRUE"
ide1:0.deviceType = "atapi-cdrom"
ethernet0.present = "TRUE"
ethernet0.connectionType = "nat"
ethernet0.addressType = "generated"
ethernet0.generatedAddress = "00:0c:29:12:34:56"
EOF
# The annotation holds "Café" in windows-1252: one byte 0xE9.
printf 'annotation = "Caf\351 cr\350me"\n' >> 'My VM.vmx'
src=$(virt-define --print-source 'My VM.vmx')
is "name from the file name" "$(jq -r .name <<<"$src")" "My VM"
is "BIOS when the VMX does not say" "$(jq -r .firmware <<<"$src")" bios
is "windows-1252 converted to UTF-8" "$(jq -r .annotation <<<"$src")" "Café crème"
is "connection type as the network" "$(jq -r '.nics[0].network' <<<"$src")" nat
if command -v qemu-img >/dev/null; then qemu-img create -q -f qcow2 "out/My VM-0.qcow2" 16M
else printf 'QFI\373' > "out/My VM-0.qcow2"; fi
ok "Workstation VMX domain" quiet virt-define --disk-dir out --network nat=default \
  --out-dir doms 'My VM.vmx'
d="doms/My_VM.xml"
valid "Workstation VMX" "$d"
is "Windows keeps local time" "$(xp "$d" /domain/clock/@offset)" localtime
is "Hyper-V enlightenments" "$(xp "$d" '/domain/features/hyperv/relaxed/@state')" on
is "no UEFI loader for BIOS" "$(xp "$d" 'count(/domain/os/loader)')" 0
is "space in the disk path kept" "$(xp "$d" '//disk/source/@file')" "$tmp/out/My VM-0.qcow2"

# bios.bootOrder (VMware KB 2011654): ethernetN, hdd (every disk, in
# bios.hddOrder's order), cdrom, floppy.  Each NIC's pciSlotNumber is kept.
sed -e 's/^memsize.*/&\nbios.bootOrder = "cdrom,ethernet1,hdd"\nbios.hddOrder = "nvme0:0"/' \
    -e 's/^ethernet1.present.*/&\nethernet1.pciSlotNumber = "224"/' db01.vmx > bootorder.vmx
src=$(virt-define --print-source bootorder.vmx)
is "bios.bootOrder in the source" "$(jq -c '.boot_order' <<<"$src")" \
  '[{"type":"cdrom"},{"type":"ethernet","label":"ethernet1"},{"type":"disk","label":"nvme0:0"},{"type":"disk","label":"scsi0:0"},{"type":"disk","label":"scsi0:1"},{"type":"disk","label":"scsi1:0"}]'
is "pciSlotNumber as pci_slot" "$(jq -c '[.nics[] | .pci_slot]' <<<"$src")" '[null,224]'
ok "bios.bootOrder: domain" bash -c 'virt-define --disk-dir out bootorder.vmx > bootorder.xml 2>bootorder.err'
valid "bios.bootOrder" bootorder.xml
is "bios.bootOrder: ethernet1 first, then the disks in hddOrder's order" \
  "$(xp bootorder.xml 'concat(//interface[2]/boot/@order, " ", //disk[1]/boot/@order, " ", //disk[2]/boot/@order, " ", count(//interface[1]/boot))')" \
  "1 2 3 0"
is "bios.bootOrder: the first disk is nvme0:0's" "$(xp bootorder.xml '//disk[1]/source/@file')" "$tmp/out/db01_3.qcow2"
ok "bios.bootOrder: the CD-ROM's place dropped, said" grep -q "entry 1, the CD-ROM, left out" bootorder.err
# Fed back as a record (with each disk's converted copy as "local"), the
# boot order by labels gives the same domain but for its origin.
ok "bios.bootOrder: print-source fed back" \
  bash -c 'virt-define --print-source bootorder.vmx | jq -c ".disks[] |= (.local = \"out/\" + (.file | sub(\".*/\"; \"\") | sub(\"[.]vmdk$\"; \".qcow2\")))" | virt-define > bootorder2.xml 2>/dev/null'
ok "bios.bootOrder: the same domain but for its origin" \
  cmp <(grep -v '<h2k:source origin=' bootorder.xml) <(grep -v '<h2k:source origin=' bootorder2.xml)
sed 's/^memsize.*/&\nbios.bootOrder = "ethernet7,hdd"/' db01.vmx > noeth.vmx
ok "bios.bootOrder: a NIC the VM does not have, said" \
  bash -c 'virt-define --print-source noeth.vmx 2>&1 >/dev/null | grep -q "bios.bootOrder: ethernet7 is not a NIC of this VM"'
