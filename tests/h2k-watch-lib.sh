# Helpers for the h2k-watch and migrate.mk tests (sourced after
# functions.sh): disk files to drop, and waiting for conditions.

H2K_WATCH=$H2K_TOP/scripts/h2k-watch
export H2K_WATCH

# wait_for SECONDS CMD ARGS...: poll CMD until it succeeds; false after
# SECONDS (generous: the machine is shared and slow).
wait_for ()
{
  local limit=$1 i=0; shift
  while ! "$@" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -lt $((limit * 5)) ] || return 1
    sleep 0.2
  done
}

# pattern FILE BYTE OFFSET...: write 64 KiB of BYTE at each OFFSET of the
# image FILE (format by qemu-io's probing).
pattern ()
{
  local f=$1 b=$2 fmt=$3 o; shift 3
  for o in "$@"; do
    qemu-io -f "$fmt" -c "write -q -P $b $o 64k" "$f" >/dev/null
  done
}

# make_chain DIR NAME: NAME.vmdk (monolithicFlat, NAME-flat.vmdk) and its
# snapshot NAME-000001.vmdk (monolithicSparse), with data in both.
make_chain ()
{
  local d=$1 n=$2
  qemu-img create -q -f vmdk -o subformat=monolithicFlat "$d/$n.vmdk" 8M
  pattern "$d/$n.vmdk" 0x11 vmdk 0 1M
  qemu-img create -q -f vmdk -b "$n.vmdk" -F vmdk "$d/$n-000001.vmdk"
  pattern "$d/$n-000001.vmdk" 0x22 vmdk 1M 4M
}

# make_disk FILE FMT: an 8 MiB disk of format FMT (qemu-img's names) with
# some data.
make_disk ()
{
  local f=$1 fmt=$2
  qemu-img create -q -f raw "$f.src" 8M
  pattern "$f.src" 0x5a raw 0 3M
  qemu-img convert -f raw -O "$fmt" "$f.src" "$f"
  rm -f "$f.src"
}

# make_ovf DIR NAME DISK: NAME.ovf naming DISK (a streamOptimized VMDK made
# beside it), one CPU, 256 MiB.
make_ovf ()
{
  local d=$1 n=$2 disk=$3
  qemu-img create -q -f raw "$d/.ovf.raw" 4M
  pattern "$d/.ovf.raw" 0x33 raw 64k
  qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$d/.ovf.raw" "$d/$disk"
  rm -f "$d/.ovf.raw"
  local href id
  href=$(printf '%s' "$disk" | sed 's/&/\&amp;/g; s/"/\&quot;/g; s/</\&lt;/g')
  id=$(printf '%s' "$n" | sed 's/&/\&amp;/g; s/"/\&quot;/g; s/</\&lt;/g')
  cat > "$d/$n.ovf" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:id="file1" ovf:href="$href"/></References>
  <DiskSection><Info>Virtual disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="4194304" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="$id"><Info>A VM</Info><Name>appliance</Name>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
XML
}

# make_ova FILE: an OVA (ustar: the .ovf first, then its disk).
make_ova ()
{
  local f=$1 d
  d=$(mktemp -d "$tmp/ova.XXXXXX")
  make_ovf "$d" appliance appliance-disk1.vmdk
  tar --format=ustar -C "$d" -cf "$f" appliance.ovf appliance-disk1.vmdk
  rm -rf "$d"
}

# converted OUT NAME: OUT/NAME/result.json exists and says converted.
converted ()
{
  [ -f "$1/$2/result.json" ] && jq -e '.status == "converted"' "$1/$2/result.json" >/dev/null
}

# jtest FILTER FILE: jq -e, quietly.
jtest () { jq -e "$1" "$2" >/dev/null; }

# make_stand_in_migrate FILE: a stand-in for h2k-migrate with its
# interface (h2k-migrate [--out OUT] [OPTIONS] -- VM, writing
# OUT/<safe VM name>/ with a qcow2 disk, domain.xml and migration.json),
# for the batch tests to run make and GNU parallel around.  It appends
# "VM<TAB>the sshd address it ran under" to $MIGRATE_CALLS, and fails at
# its pull step for a VM listed in $MIGRATE_BROKEN.
make_stand_in_migrate ()
{
  cat > "$1" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
out=.
while [ $# -gt 0 ]; do
  case $1 in --out) out=$2; shift 2 ;; --) shift; break ;; -*) shift ;; *) break ;; esac
done
vm=$1
safe=$(printf '%s' "$vm" | LC_ALL=C tr '/[:cntrl:]' '[_*]'; printf x); safe=${safe%x}
[[ $safe != .* ]] || safe=_$safe
d=$out/$safe
mkdir -p "$d"
where=${SSH_CONNECTION:-local}
printf '%s\t%s\n' "$vm" "$(set -- $where; echo "${3:-local}")" >> "$MIGRATE_CALLS"
if [ -f "${MIGRATE_BROKEN:-/nonexistent}" ] && grep -qxF -- "$vm" "$MIGRATE_BROKEN"; then
  jq -n --arg vm "$vm" '{vm: $vm, status: "failed", failed_step: "pull"}' > "$d/migration.json"
  echo "h2k-migrate: $vm: pull: the datastore said no" >&2
  exit 1
fi
qemu-img create -q -f qcow2 "$d/disk.qcow2" 4M
qemu-io -c 'write -q -P 0x42 0 64k' "$d/disk.qcow2" >/dev/null
jq -n --arg vm "$vm" '{kind: "domain", name: $vm}' > "$d/domain.xml"
jq -n --arg vm "$vm" '{vm: $vm, status: "done", disks: [{file: "disk.qcow2"}]}' > "$d/migration.json"
SH
  chmod +x "$1"
}
