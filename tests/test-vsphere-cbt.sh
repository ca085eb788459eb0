#!/usr/bin/env bash
# The simulator's Changed Block Tracking, which vs-cbt will rely on:
# changeId stamping on ReconfigVM_Task and CreateSnapshot_Task, and
# QueryChangedDiskAreas computed from the disk's flat file, in spans that
# clients must page through.  Driven with curl and checked with xmllint
# and vs-ls.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires curl --version
requires xmllint --version
export GOVC_INSECURE=1

start_vcsim -cbt-block 65536 -cbt-span 262144
jar=$tmp/jar

soap ()
{
  printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$1" \
    | curl -sk -b "$jar" -c "$jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
        -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @-
}
xpath () { xmllint --xpath "$1" - 2>/dev/null || true; }
local_name () { printf "*[local-name()='%s']" "$1"; }

soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$GOVC_USERNAME</userName><password>$GOVC_PASSWORD</password></Login>" >/dev/null

vm=$(vs-ls --vm DC0_H0_VM0)
moref=$(jq -r .moref <<<"$vm")
key=$(jq -r '.disks[0].key' <<<"$vm")
flat=$VCSIM_DS_0_DIR/DC0_H0_VM0/disk1-flat.vmdk

# 1 MiB of disk with data in two 64 KiB blocks.
truncate -s 1M "$flat"
printf 'A%.0s' $(seq 4096) | dd of="$flat" bs=4096 seek=16 conv=notrunc status=none   # 65536
printf 'B%.0s' $(seq 4096) | dd of="$flat" bs=4096 seek=208 conv=notrunc status=none  # 851968

qcda ()  # SNAPSHOT START CHANGEID
{
  local snap=""
  [ -n "$1" ] && snap="<snapshot type=\"VirtualMachineSnapshot\">$1</snapshot>"
  soap "<QueryChangedDiskAreas xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this>$snap<deviceKey>$key</deviceKey><startOffset>$2</startOffset><changeId>$3</changeId></QueryChangedDiskAreas>"
}

# All the areas from START on, paging by the reply's startOffset + length.
areas ()  # SNAPSHOT CHANGEID
{
  local off=0 reply starts lengths
  while [ "$off" -lt 1048576 ]; do
    reply=$(qcda "$1" "$off" "$2")
    starts=$(xpath "//$(local_name changedArea)/$(local_name start)/text()" <<<"$reply")
    lengths=$(xpath "//$(local_name changedArea)/$(local_name length)/text()" <<<"$reply")
    paste -d: <(printf '%s\n' $starts) <(printf '%s\n' $lengths) | grep -v '^:$' || true
    off=$(( $(xpath "//$(local_name returnval)/$(local_name startOffset)/text()" <<<"$reply")
          + $(xpath "//$(local_name returnval)/$(local_name length)/text()" <<<"$reply") ))
  done
}

reply=$(qcda "" 0 '*')
ok "QueryChangedDiskAreas before CBT is enabled: FileFault" grep -q 'FileFaultFault' <<<"$reply"
jq_ok "no change id before CBT" '.disks[0] | has("change_id") | not' <(echo "$vm")

# Enable CBT.
soap "<ReconfigVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this><spec><changeTrackingEnabled>true</changeTrackingEnabled></spec></ReconfigVM_Task>" >/dev/null
vm=$(vs-ls --vm DC0_H0_VM0)
id1=$(jq -r '.disks[0].change_id' <<<"$vm")
jq_ok "CBT on stamps change id /1" '.cbt == true and (.disks[0].change_id | test("^52 .*/1$"))' <(echo "$vm")

# The first snapshot freezes /1 and the VM moves to /2.
soap "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this><name>s1</name><memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>" >/dev/null
vm=$(vs-ls --vm DC0_H0_VM0)
snap1=$(jq -r .current_snapshot <<<"$vm")
is "the VM's change id advances" "$(jq -r '.disks[0].change_id' <<<"$vm")" "${id1%/1}/2"

snapdisk=$(soap "<RetrievePropertiesEx xmlns=\"urn:vim25\"><_this type=\"PropertyCollector\">propertyCollector</_this><specSet><propSet><type>VirtualMachineSnapshot</type><pathSet>config.hardware.device</pathSet></propSet><objectSet><obj type=\"VirtualMachineSnapshot\">$snap1</obj></objectSet></specSet><options/></RetrievePropertiesEx>")
is "the snapshot keeps the change id it froze" \
  "$(xpath "//$(local_name backing)/$(local_name changeId)/text()" <<<"$snapdisk")" "$id1"

reply=$(qcda "$snap1" 0 '*')
is "one reply covers one span" \
  "$(xpath "//$(local_name returnval)/$(local_name length)/text()" <<<"$reply")" 262144
is "changeId * pages to every written block" "$(areas "$snap1" '*' | tr '\n' ' ')" "65536:65536 851968:65536 "

# More data, a second snapshot: only the new block changed since /1.
printf 'C%.0s' $(seq 100) | dd of="$flat" bs=1 seek=200000 conv=notrunc status=none    # block 3
soap "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this><name>s2</name><memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>" >/dev/null
snap2=$(vs-ls --vm DC0_H0_VM0 | jq -r .current_snapshot)
is "changes since /1" "$(areas "$snap2" "$id1" | tr '\n' ' ')" "196608:65536 "
is "changes since /2 (nothing written since)" "$(areas "$snap2" "${id1%/1}/2" | tr '\n' ' ')" ""

ok "startOffset past the end: InvalidArgument" grep -q 'InvalidArgumentFault' <<<"$(qcda "$snap2" 1048576 '*')"
ok "an unknown change id: FileFault" grep -q 'FileFaultFault' <<<"$(qcda "$snap2" 0 '52 00/9')"
ok "an unknown disk: InvalidArgument" grep -q 'invalidProperty>deviceKey' \
  <<<"$(key=12345 qcda "$snap2" 0 '*')"
