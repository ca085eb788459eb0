#!/usr/bin/env bash
# virt-define on the real OVFs and OVAs of the shared samples (see
# SOURCES.md there): what --print-source reads (checked with jq against
# the descriptors' contents) and the domains they give (virt-xml-validate,
# virsh's test driver).  Skipped when the samples are not there.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/domain.sh"
requires jq --version
[ -d "$H2K_SAMPLES/ovf" ] || skip_all "no samples in $H2K_SAMPLES"

cd "$tmp"
jqok () { ok "$1" quiet jq -e "$2" "$3"; }
mkdir out

# ovftool 4.6.3, trimmed by hand: no CPU, memory or disk items at all.
f=$H2K_SAMPLES/ovf/mdx1-ovftool463-000001.ovf
if [ -f "$f" ]; then
  ok "mdx1: read" bash -c "virt-define --print-source '$f' > mdx1.json"
  jqok "mdx1: name, guest, hardware version" \
    '.name == "000_bios" and .guest_id == "otherGuest64" and .hw_version == "vmx-18"' mdx1.json
  jqok "mdx1: nothing invented" '(.cpus, .memory_mib, .firmware) == null and (.disks | length) == 0' mdx1.json
  truncate -s 1M out/extra.raw
  ok "mdx1: domain with --disk for a disk the OVF lacks" \
    bash -c "virt-define --disk out/extra.raw '$f' > mdx1.xml 2>mdx1.err"
  ok "mdx1: the guesses are reported" grep -q "no memory size" mdx1.err
  valid "mdx1" mdx1.xml
fi

# virt-v2v's test OVF, from a real VMware export: Windows, two disks on
# LSI Logic SAS, an E1000 NIC, an IDE CD-ROM.
f=$H2K_SAMPLES/ovf/virt-v2v-test-i-ova-two-disks.ovf
if [ -f "$f" ]; then
  ok "two-disks: read" bash -c "virt-define --print-source '$f' > v2v.json"
  jqok "two-disks: the VM" \
    '.name == "2K8R2EESP1_2_Medium" and .cpus == 1 and .memory_mib == 1024 and .firmware == "bios" and .guest_id == "windows7Server64Guest"' v2v.json
  jqok "two-disks: the disks in order" \
    '[.disks[] | [.file, .capacity, .controller, .unit]] == [["disk1.vmdk", 53687091200, "lsilogic-sas", 0], ["disk2.vmdk", 483183820800, "lsilogic-sas", 1]]' v2v.json
  jqok "two-disks: the NIC and the CD-ROM" \
    '.nics == [{"label":"Network adapter 1","type":"e1000","network":"PG-VLAN60"}] and .removable[0].type == "cdrom"' v2v.json
  truncate -s 1M out/disk1.raw out/disk2.raw
  ok "two-disks: domain" bash -c "virt-define --disk-dir out --network PG-VLAN60=default '$f' > v2v.xml 2>/dev/null"
  valid "two-disks" v2v.xml
  is "two-disks: Windows keeps local time" "$(xmllint --xpath 'string(/domain/clock/@offset)' v2v.xml)" localtime
fi

# govmomi's ttylinux OVA (ovftool 4.0.0): EFI, IDE disk, one NIC.
f=$H2K_SAMPLES/ova/govmomi-ttylinux-pc_i486-16.1.ova
if [ -f "$f" ]; then
  ok "ttylinux: read from the OVA" bash -c "virt-define --print-source '$f' > tty.json"
  jqok "ttylinux: the VM" \
    '.source == "ova" and .name == "ttylinux-pc_i486-16.1" and .firmware == "efi" and .memory_mib == 32 and .cpus == 1' tty.json
  jqok "ttylinux: the disk" \
    '.disks == [{"label":"disk0","file":"ttylinux-pc_i486-16.1-disk1.vmdk","capacity":31457280,"controller":"ide","bus":0,"unit":0}]' tty.json
  truncate -s 30M out/ttylinux-pc_i486-16.1-disk1.raw
  ok "ttylinux: domain" bash -c "virt-define --disk-dir out '$f' > tty.xml 2>/dev/null"
  valid "ttylinux" tty.xml
  is "ttylinux: UEFI" "$(xmllint --xpath 'count(/domain/os/loader)' tty.xml)" 1
fi

# forklift's damaged OVA: the disk is broken, the descriptor is fine,
# and the descriptor is all virt-define reads.
f=$H2K_SAMPLES/ova-invalid/forklift-2nd_disk.ova
if [ -f "$f" ]; then
  ok "forklift: read" bash -c "virt-define --print-source '$f' > fk.json"
  jqok "forklift: the VM" \
    '.name == "2nd-disk-vm" and .memory_mib == 2048 and .disks[0].file == "2nd_disk.vmdk" and .disks[0].capacity == 1073741824' fk.json
  tar xf "$f" 2nd_disk.vmdk
  expect_fail "forklift: its VMDK is refused as a domain disk" "VMDK image, not qcow2 or raw" \
    virt-define --disk 2nd_disk.vmdk "$f"
fi
