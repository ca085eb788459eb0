#!/usr/bin/env bash
# virt-define on VM records (DESIGN.md section 2) as vs-ls writes them and
# vs-pull extends them: the "local" paths, --disk-dir naming, several
# records with --out-dir, odd names (<&'", non-ASCII, ../../x), other
# kinds skipped, and --print-source output fed back as a record.
# Oracles: virt-xml-validate, virsh's test driver, xmllint, jq.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/domain.sh"
requires jq --version

cd "$tmp"
qcow2 ()
{
  if command -v qemu-img >/dev/null; then qemu-img create -q -f qcow2 "$1" 16M
  else printf 'QFI\373' > "$1"; fi
}
mkdir -p ovmf work/web01 out
touch ovmf/OVMF_CODE_4M.fd ovmf/OVMF_VARS_4M.fd
export VIRT_DEFINE_OVMF_DIR=$tmp/ovmf

# A record as vs-ls | vs-pull write it, with the converted disks beside.
jq -c . > web01.json <<EOF
{"kind":"vm","name":"web01","moref":"vm-42","uuid":"4210C8E1-9A7C-4B2D-8E3F-112233445566","datacenter":"DC0",
 "dc_path":"F0/DC0","host":"esx-01","power_state":"poweredOn","guest_id":"rhel8_64Guest","firmware":"bios",
 "secure_boot":false,"cpus":4,"cores_per_socket":2,"memory_mib":8192,"hw_version":"vmx-19","cbt":true,
 "disks":[{"key":2000,"label":"Hard disk 1","file":"[ds1] web01/web01-000001.vmdk","datastore":"ds1",
           "capacity":21474836480,"controller":"pvscsi","bus":0,"unit":0,"thin":true,"mode":"persistent",
           "chain":["[ds1] web01/web01.vmdk","[ds1] web01/web01-000001.vmdk"],
           "local":"work/web01/web01-000001.vmdk"},
          {"key":2001,"label":"Hard disk 2","file":"[ds1] web01/web01_1.vmdk","capacity":1073741824,
           "controller":"pvscsi","bus":0,"unit":1,"local":"work/web01/web01_1.vmdk"}],
 "nics":[{"mac":"00:50:56:9a:0b:1c","type":"vmxnet3","network":"VM Network"},
         {"mac":"00:50:56:9a:0b:1d","type":"vmxnet3","network":"DMZ"}],
 "snapshots":[{"moref":"snapshot-70","name":"before-upgrade","created":"2026-11-01T10:00:00Z"}]}
EOF
qcow2 out/web01-000001.qcow2
qcow2 out/web01_1.qcow2

ok "the DESIGN.md pipeline: --disk-dir < record" \
  bash -c 'virt-define --disk-dir out --network DMZ=dmz < web01.json > web01.xml'
valid "record" web01.xml
is "name" "$(xp web01.xml /domain/name)" web01
is "UUID lower-cased" "$(xp web01.xml /domain/uuid)" 4210c8e1-9a7c-4b2d-8e3f-112233445566
is "BIOS: no loader" "$(xp web01.xml 'count(/domain/os/loader)')" 0
is "topology" "$(xp web01.xml 'concat(/domain/cpu/topology/@sockets, "x", /domain/cpu/topology/@cores)')" 2x2
is "disk 1 named after the local file" "$(xp web01.xml '//disk[1]/source/@file')" "$tmp/out/web01-000001.qcow2"
is "disk 2" "$(xp web01.xml '//disk[2]/source/@file')" "$tmp/out/web01_1.qcow2"
is "MAC kept for guest-fix" "$(xp web01.xml '//interface[1]/mac/@address')" 00:50:56:9a:0b:1c
is "DMZ mapped" "$(xp web01.xml '//interface[2]/source/@network')" dmz
is "unmapped NIC on 'default'" "$(xp web01.xml '//interface[1]/source/@network')" default

# Without --disk-dir, the records' "local" paths are used; a VMDK there
# is refused (it would be handed to the guest as raw bytes).
printf 'KDMV' > work/web01/web01-000001.vmdk
printf 'KDMV' > work/web01/web01_1.vmdk
expect_fail "a VMDK as a disk is refused" "VMDK image, not qcow2 or raw" \
  virt-define < web01.json
jq -c '.disks[0].local = "out/web01-000001.qcow2" | .disks[1].local = "out/web01_1.qcow2"' \
  web01.json > local.json
ok "local paths" bash -c 'virt-define < local.json > local.xml'
is "local path made absolute" "$(xp local.xml '//disk[2]/source/@file')" "$tmp/out/web01_1.qcow2"

# --disk in order overrides.
truncate -s 1M a.raw b.img
ok "--disk" bash -c 'virt-define --disk a.raw --disk b.img < web01.json > disk.xml'
is "--disk 1" "$(xp disk.xml '//disk[1]/source/@file')" "$tmp/a.raw"
is "--disk 2 detected raw" "$(xp disk.xml '//disk[2]/driver/@type')" raw

# Several records, odd names, and a datastore record that is skipped.
odd1='<&'"'"'"> Grüße 日本'
odd2='../../x'
# Each VM has its own disks: two domains on one image are refused.
for i in 1 2 3 4 5; do truncate -s 1M out/vm$i.raw; done
{
  jq -c --arg n "$odd1" '.name = $n | del(.uuid) | .disks = [{"local":"out/vm1.raw"}]' local.json
  echo '{"kind":"datastore","name":"ds1","capacity":1}'
  jq -c --arg n "$odd2" '.name = $n | .firmware = "efi" | del(.uuid) | .disks = [{"local":"out/vm2.raw"}]' local.json
  jq -c '.name = "same" | del(.uuid) | .disks = [{"local":"out/vm3.raw"}]' local.json
  jq -c '.name = "same" | del(.uuid) | .annotation = "second VM called same" | .disks = [{"local":"out/vm4.raw"}]' local.json
  jq -c '.name = ".hidden" | del(.uuid) | .disks = [{"local":"out/vm5.raw"}]' local.json
} > many.jsonl
expect_fail "several records need --out-dir" "use --out-dir" virt-define < many.jsonl
ok "several records with --out-dir" bash -c 'virt-define --out-dir doms < many.jsonl 2>warn.txt'
ok "the datastore record is skipped with a warning" grep -q 'a "datastore" record, not a VM: skipped' warn.txt
ok "the '/' in a name is reported" grep -q "does not allow '/'" warn.txt
is "one file per VM" "$(cd doms && ls | LC_ALL=C sort | tr '\n' ' ')" \
  "_._.._x.xml ______Grüße_日本.xml _hidden.xml same-2.xml same.xml "
ok "nothing left as .part" bash -c '! ls doms | grep -q part'
for f in doms/*.xml; do valid "$(basename "$f")" "$f"; done
is "odd name kept exactly" "$(xp 'doms/______Grüße_日本.xml' /domain/name)" "$odd1"
is "'/' escaped as vSphere does" "$(xp doms/_._.._x.xml /domain/name)" "..%2f..%2fx"
is "a clash does not overwrite" "$(xp doms/same-2.xml /domain/description)" "second VM called same"
ok "no file outside --out-dir" bash -c '! ls x.xml ../x.xml 2>/dev/null'
expect_fail "--name with several records is a usage error" "describe one VM" \
  virt-define --name x --out-dir doms2 < many.jsonl

# --print-source is a record: fed back, it gives the same domain.
ok "--print-source of a record" bash -c 'virt-define --print-source < local.json > src.json'
ok "the printed record keeps what the source said" \
  quiet jq -e '.name == "web01" and .cpus == 4 and .firmware == "bios" and .disks[1].local == "out/web01_1.qcow2" and .nics[0].mac == "00:50:56:9a:0b:1c"' src.json
ok "print-source, fed back" bash -c 'virt-define < src.json > again.xml'
ok "same domain both ways" cmp local.xml again.xml

# A record that leaves things out gets defaults, with warnings.
echo '{"name":"bare"}' > bare.json
ok "a bare record still makes a domain" bash -c 'virt-define < bare.json > bare.xml 2>bare.err'
valid "bare record" bare.xml
is "default memory" "$(xp bare.xml /domain/memory)" 1024
ok "and says so" grep -q "no memory size" bare.err
expect_fail "--strict refuses the guesses" "no memory size" virt-define --strict < bare.json

# vs-ls's boot_order: the devices it names boot first, in its order (a NIC
# there boots from the network), the other disks after them; a CD-ROM in
# it is dropped with the drive, said; an entry naming no device is left
# out, said.  Without boot_order the disks boot in their order (above).
jq -c '.nics[0].key = 4000 | .nics[1].key = 4001
       | .disks += [{"key":2002,"label":"Hard disk 3","local":"out/vm1.raw"}]
       | .boot_order = [{"type":"cdrom"},{"type":"disk","key":2001},{"type":"ethernet","key":4001},{"type":"disk","key":2999}]' \
  local.json > boot.json
ok "boot_order: a domain" bash -c 'virt-define < boot.json > boot.xml 2>boot.err'
valid "boot_order" boot.xml
is "boot_order: Hard disk 2 first, the NIC on DMZ second, then disks 1 and 3" \
  "$(xp boot.xml 'concat(//disk[2]/boot/@order, " ", //interface[2]/boot/@order, " ", //disk[1]/boot/@order, " ", //disk[3]/boot/@order)')" \
  "1 2 3 4"
is "boot_order: the NIC not named does not boot" "$(xp boot.xml 'count(//interface[1]/boot)')" 0
ok "boot_order: the CD-ROM dropped, said" grep -q "boot order: entry 1, the CD-ROM, left out" boot.err
ok "boot_order: a key no disk has, said" grep -q "boot_order\[3\]: the record has no disk with key 2999: left out" boot.err
ok "boot_order: --print-source keeps it, and the keys" \
  quiet jq -e '.boot_order == [{"type":"cdrom"},{"type":"disk","key":2001},{"type":"ethernet","key":4001}] and .disks[1].key == 2001 and .nics[1].key == 4001' \
  <(virt-define --print-source < boot.json 2>/dev/null)
ok "boot_order: print-source, fed back" \
  bash -c 'virt-define --print-source < boot.json 2>/dev/null | virt-define > boot2.xml 2>/dev/null'
ok "boot_order: same domain both ways" cmp boot.xml boot2.xml
jq -c '.boot_order = []' boot.json > empty.json
ok "boot_order []: the firmware's order, so the disks' own" \
  bash -c 'virt-define < empty.json > empty.xml'
is "boot_order []: disks 1, 2, 3 in order, no NIC boots" \
  "$(xp empty.xml 'concat(//disk[1]/boot/@order, //disk[2]/boot/@order, //disk[3]/boot/@order, count(//interface/boot))')" "1230"
jq -c '.boot_order = [{"type":"tape"}]' boot.json > tape.json
ok "boot_order: an unknown type is left out, said" \
  bash -c 'virt-define < tape.json 2>&1 >/dev/null | grep -q "boot device type \"tape\" not understood"'
jq -c '.boot_order = {"type":"disk"}' boot.json > notarray.json
expect_fail "boot_order that is not a list" '"boot_order" is not an array' virt-define < notarray.json
