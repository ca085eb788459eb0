#!/usr/bin/env bash
# vs-pull --skip-zero with VM records, from the allocation the server
# reports: with CBT on, QueryChangedDiskAreas (changeId "*", paged) says
# which areas of a flat disk are in use, only those are fetched and the
# rest is left as holes.  Checked against the simulator: the file is
# bit-identical (sha256), sparse, the bytes fetched are those of the
# in-use blocks (counted by an independent reading of the source file),
# the query paged, and the VM was not changed.  CBT off, a record that
# says CBT is on when it no longer is, and a disk the server does not
# know fall back to zero-block detection, with the same bytes.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires curl --version
requires python3 --version
export GOVC_INSECURE=1

block=65536
size=$(( 8 * 1048576 + 40960 ))    # 8 MiB + 40 KiB: not a multiple of the block
trace=$tmp/trace
start_vcsim -cbt-block $block -cbt-span 1048576 -disk-size $size -trace-file "$trace"
jar=$tmp/jar

soap ()
{
  printf '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$1" \
    | curl -sk -b "$jar" -c "$jar" "$VCSIM_URL" -H 'Content-Type: text/xml; charset=utf-8' \
        -H 'SOAPAction: "urn:vim25/6.5"' --data-binary @-
}
soap "<Login xmlns=\"urn:vim25\"><_this type=\"SessionManager\">SessionManager</_this><userName>$GOVC_USERNAME</userName><password>$GOVC_PASSWORD</password></Login>" >/dev/null
power_off ()  # VM-NAME
{
  local moref
  moref=$(vs-ls --vm "$1" | jq -r .moref)
  soap "<PowerOffVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this></PowerOffVM_Task>" >/dev/null
}
set_cbt ()  # VM-NAME true|false
{
  local moref
  moref=$(vs-ls --vm "$1" | jq -r .moref)
  soap "<ReconfigVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this><spec><changeTrackingEnabled>$2</changeTrackingEnabled></spec></ReconfigVM_Task>" >/dev/null
}

# A disk behind VM: data areas, large zero areas, a block holding one
# byte, data across a block boundary and in the short last block.
put_disk ()  # VM-NAME PATTERN(data|zero)
{
  local dir=$VCSIM_DS_0_DIR/$1
  truncate -s 0 "$dir/disk1-flat.vmdk"
  truncate -s $size "$dir/disk1-flat.vmdk"
  if [ "$2" = data ]; then
    head -c 1M /dev/urandom | dd of="$dir/disk1-flat.vmdk" conv=notrunc status=none
    head -c 100K /dev/urandom | dd of="$dir/disk1-flat.vmdk" bs=1K seek=$(( 3 * 1024 + 30 )) conv=notrunc status=none
    printf x | dd of="$dir/disk1-flat.vmdk" bs=1 seek=$(( 5 * 1048576 + 65535 )) conv=notrunc status=none
    head -c 20K /dev/urandom | dd of="$dir/disk1-flat.vmdk" bs=1K seek=$(( 8 * 1024 + 10 )) conv=notrunc status=none
  fi
  cat > "$dir/disk1.vmdk" <<EOF
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW $(( size / 512 )) VMFS "disk1-flat.vmdk"

# The Disk Data Base
ddb.adapterType = "lsilogic"
ddb.virtualHWVersion = "13"
EOF
}

# The bytes of the blocks that are not all zero: what CBT "*" reports on
# the simulator, computed here from the file itself.
in_use ()
{
  python3 - "$1" $block <<'EOF'
import sys
path, block = sys.argv[1], int(sys.argv[2])
n = 0
with open(path, 'rb') as f:
    while True:
        b = f.read(block)
        if not b:
            break
        if b.count(0) != len(b):
            n += len(b)
print(n)
EOF
}

fetched () { sed -n 's/.*fetched .* (\([0-9]*\) bytes).*/\1/p' "$1" | tail -1; }
qcda_calls () { grep -c '<QueryChangedDiskAreas' "$trace" || true; }
blocks_kib () { du -k "$1" | cut -f1; }

vm=DC0_H0_VM0
flat=$VCSIM_DS_0_DIR/$vm/disk1-flat.vmdk
put_disk $vm data
set_cbt $vm true
vs-ls --chain --vm $vm > "$tmp/rec-on"
used=$(in_use "$flat")
desc=$(stat -c %s "$VCSIM_DS_0_DIR/$vm/disk1.vmdk")
diag "disk $size bytes, $used in use"

# Powered on: the server would only answer for a snapshot; not asked.
before=$(qcda_calls)
ok "CBT on, VM powered on" eval 'vs-pull --skip-zero -v --dir "$tmp/on" < "$tmp/rec-on" 2> "$tmp/on.err" >/dev/null'
ok "powered on: -v says zero-block detection and why" \
  grep -q 'disk1-flat.vmdk: --skip-zero by zero-block detection (the VM is poweredOn: ' "$tmp/on.err"
is "powered on: no QueryChangedDiskAreas" "$(( $(qcda_calls) - before ))" 0
same_file "powered on: bit-identical" "$tmp/on/$vm/disk1-flat.vmdk" "$flat"

# CBT on, powered off: only the areas in use come down.
power_off $vm
vs-ls --chain --vm $vm > "$tmp/rec"
jq_ok "the VM record carries what the query needs" \
  '.cbt == true and .power_state == "poweredOff" and .moref and (.disks[0] | .key and .capacity == '$size' and .change_id and .backing == "flat")' "$tmp/rec"
reconfigs=$(grep -c '<ReconfigVM_Task' "$trace")
before=$(qcda_calls)
lines=$(wc -l < "$trace")
ok "vs-ls --chain | vs-pull --skip-zero --sha256 -v" \
  eval 'vs-pull --skip-zero --sha256 -v --dir "$tmp/cbt" < "$tmp/rec" > "$tmp/cbt.out" 2> "$tmp/cbt.err"'
diag "$(cat "$tmp/cbt.err")"
out=$tmp/cbt/$vm/disk1-flat.vmdk
same_file "the pulled disk is bit-identical" "$out" "$flat"
is "sha256 of the pulled file" "$(sha256 "$out")" "$(sha256 "$flat")"
jq_ok "the record's digest of the flat file is the source's" \
  '.disks[0].local_files[] | select(.file | endswith("-flat.vmdk")) | .sha256 == "'"$(sha256 "$flat")"'" and .size == '$size "$tmp/cbt.out"
ok "the pulled file is sparse (du: $(blocks_kib "$out") KiB of $(( size / 1024 )))" \
  test "$(blocks_kib "$out")" -lt $(( size / 1024 / 4 ))
is "bytes fetched: the in-use blocks and the descriptor, not the disk" \
  "$(fetched "$tmp/cbt.err")" $(( used + desc ))
ok "-v says CBT was used for the flat file" \
  grep -q 'disk1-flat.vmdk: --skip-zero from CBT: .* in [0-9]* areas .* ([0-9]* QueryChangedDiskAreas calls)' "$tmp/cbt.err"
calls=$(( $(qcda_calls) - before ))
ok "QueryChangedDiskAreas paged ($calls calls, 1 MiB spans)" test "$calls" -eq $(( (size + 1048575) / 1048576 ))
is "the VM was not reconfigured" "$(grep -c '<ReconfigVM_Task' "$trace")" "$reconfigs"
is "no snapshot was taken" "$(grep -c '<CreateSnapshot_Task' "$trace" || true)" 0
is "vs-pull called only read-only methods" \
  "$(tail -n +$(( lines + 1 )) "$trace" | grep -o '<[A-Za-z_]*[ >]' | tr -d '<> ' \
     | grep -vxE 'soapenv:Envelope|soapenv:Body|_this|deviceKey|startOffset|changeId|userName|password|locale' \
     | sort -u | tr '\n' ' ')" "Login Logout QueryChangedDiskAreas RetrieveServiceContent "

# Again into the same directory: the .part is fresh each time, but an
# interrupted earlier whole-file pull left bytes where the areas now say
# holes: those must read as zeros (they are zeros in the source too).
mkdir -p "$tmp/again/$vm"
head -c $size /dev/urandom > "$tmp/again/$vm/disk1-flat.vmdk.part"
ok "a second pull over a stale .part" \
  quiet vs-pull --skip-zero --dir "$tmp/again" < "$tmp/rec"
same_file "still bit-identical" "$tmp/again/$vm/disk1-flat.vmdk" "$flat"

# Resuming a .part that holds other bytes everywhere (its state names no
# chunk yet): the gaps between the areas, and the zero blocks inside them,
# must end up zeros.
lastmod=$(curl -skI "https://$VCSIM_HOSTPORT/folder/$vm/disk1-flat.vmdk?dcPath=DC0&dsName=LocalDS_0" \
  | tr -d '\r' | sed -n 's/^[Ll]ast-[Mm]odified: //p')
mkdir -p "$tmp/resume/$vm"
head -c $size /dev/urandom > "$tmp/resume/$vm/disk1-flat.vmdk.part"
jq -nc --arg v "$lastmod" --arg n "[LocalDS_0] $vm/disk1-flat.vmdk" \
  '{h2k_pull_state: 2, name: $n, size: '$size', validator: $v, chunk: 1048576, done: []}' \
  > "$tmp/resume/$vm/disk1-flat.vmdk.part.state"
ok "resuming over a .part full of other bytes" \
  quiet vs-pull --skip-zero --dir "$tmp/resume" < "$tmp/rec"
same_file "resumed: bit-identical" "$tmp/resume/$vm/disk1-flat.vmdk" "$flat"
ok "resumed: sparse again" test "$(blocks_kib "$tmp/resume/$vm/disk1-flat.vmdk")" -lt $(( size / 1024 / 4 ))

# A disk with nothing in use: no data request at all, a file of holes.
vm2=DC0_C0_RP0_VM0
put_disk $vm2 zero
set_cbt $vm2 true
power_off $vm2
vs-ls --chain --vm $vm2 > "$tmp/rec2"
ok "an unused disk" eval 'vs-pull --skip-zero --sha256 -v --dir "$tmp/empty" < "$tmp/rec2" 2> "$tmp/empty.err" > "$tmp/empty.out"'
jq_ok "an unused disk: its digest is that of the zeros" \
  '.disks[0].local_files[] | select(.file | endswith("-flat.vmdk")) | .sha256 == "'"$(sha256 "$VCSIM_DS_0_DIR/$vm2/disk1-flat.vmdk")"'"' "$tmp/empty.out"
same_file "an unused disk: identical (all zeros)" "$tmp/empty/$vm2/disk1-flat.vmdk" "$VCSIM_DS_0_DIR/$vm2/disk1-flat.vmdk"
is "an unused disk: only the descriptor fetched" "$(fetched "$tmp/empty.err")" \
  "$(stat -c %s "$VCSIM_DS_0_DIR/$vm2/disk1.vmdk")"
is "an unused disk: no blocks" "$(blocks_kib "$tmp/empty/$vm2/disk1-flat.vmdk")" 0

# CBT off: zero-block detection, same bytes.
vm3=DC0_H0_VM1
put_disk $vm3 data
cp "$flat" "$VCSIM_DS_0_DIR/$vm3/disk1-flat.vmdk"
power_off $vm3
before=$(qcda_calls)
vs-ls --chain --vm $vm3 > "$tmp/rec3"
ok "CBT off" eval 'vs-pull --skip-zero -v --dir "$tmp/off" < "$tmp/rec3" 2> "$tmp/off.err" >/dev/null'
same_file "CBT off: bit-identical" "$tmp/off/$vm3/disk1-flat.vmdk" "$flat"
ok "CBT off: -v says zero-block detection and why" \
  grep -q 'disk1-flat.vmdk: --skip-zero by zero-block detection (CBT is off on the VM)' "$tmp/off.err"
is "CBT off: the whole disk was fetched" "$(fetched "$tmp/off.err")" $(( size + desc ))
ok "CBT off: still sparse" test "$(blocks_kib "$tmp/off/$vm3/disk1-flat.vmdk")" -lt $(( size / 1024 / 4 ))
is "CBT off: no QueryChangedDiskAreas" "$(( $(qcda_calls) - before ))" 0

# Faults: a disk the server does not know (InvalidArgument), and a record
# that says CBT is on when it has been turned off since (FileFault).  The
# pull goes on with zero-block detection and says why on stderr.
jq -c '.disks[0].key = 12345' "$tmp/rec" > "$tmp/badkey"
ok "an unknown device key" eval 'vs-pull --skip-zero --dir "$tmp/badkey.d" < "$tmp/badkey" 2> "$tmp/badkey.err" >/dev/null'
ok "an unknown device key: the message names the VM, the disk and the fault" \
  grep -q "VM $vm: disk 12345: CBT areas unavailable, falling back to zero-block detection: .*QueryChangedDiskAreas: InvalidArgument" "$tmp/badkey.err"
same_file "an unknown device key: bit-identical anyway" "$tmp/badkey.d/$vm/disk1-flat.vmdk" "$flat"
set_cbt $vm false
ok "CBT turned off after vs-ls" eval 'vs-pull --skip-zero --dir "$tmp/stale" < "$tmp/rec" 2> "$tmp/stale.err" >/dev/null'
ok "CBT turned off after vs-ls: FileFault, named" \
  grep -q "VM $vm: disk [0-9]*: CBT areas unavailable.*FileFault" "$tmp/stale.err"
same_file "CBT turned off after vs-ls: bit-identical anyway" "$tmp/stale/$vm/disk1-flat.vmdk" "$flat"

# Without --skip-zero nothing asks the server about areas.
set_cbt $vm true
vs-ls --chain --vm $vm > "$tmp/rec"
before=$(qcda_calls)
ok "without --skip-zero" quiet vs-pull --dir "$tmp/plain" < "$tmp/rec"
same_file "without --skip-zero: bit-identical" "$tmp/plain/$vm/disk1-flat.vmdk" "$flat"
is "without --skip-zero: no QueryChangedDiskAreas" "$(( $(qcda_calls) - before ))" 0
