#!/usr/bin/env bash
# virt-define on the records vs-ls writes from the vCenter simulator's
# odd-names inventory (tests/vcsim/odd.go): EFI with secure boot, three
# disks on three controllers, three NICs, names like "web 01 ünïcødé ☃",
# `a/b & <c> "q" 'x'` and "../../x".  The disks' "local" paths are set
# the way vs-pull and img-convert would leave them.  Oracles: vs-ls's own
# records (jq), virt-xml-validate, virsh's test driver, xmllint.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/domain.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version

start_vcsim -odd
export GOVC_INSECURE=1
cd "$tmp"
mkdir ovmf
touch ovmf/OVMF_CODE_4M.secboot.fd ovmf/OVMF_VARS_4M.ms.fd ovmf/OVMF_CODE_4M.fd ovmf/OVMF_VARS_4M.fd
export VIRT_DEFINE_OVMF_DIR=$tmp/ovmf

vs-ls > vms.jsonl
is "four VMs listed" "$(wc -l < vms.jsonl)" 4

# Every VM's disks converted into conv/MOREF/NAME.qcow2, as a per-VM
# pipeline would leave them.
jq -c '.moref as $m | .disks |= map(.local = "conv/\($m)/" + (.file | sub(".*/"; "") | sub("\\.vmdk$"; ".qcow2")))' \
  vms.jsonl > pulled.jsonl
jq -r '.disks[].local' pulled.jsonl | while read -r f; do
  mkdir -p "$(dirname "$f")"
  printf 'QFI\373' > "$f"
  truncate -s 1M "$f"
done

ok "--print-source reads every record" bash -c 'virt-define --print-source < pulled.jsonl > src.jsonl'
is "same names as vs-ls" "$(jq -r .name src.jsonl)" "$(jq -r .name vms.jsonl)"
is "same MACs as vs-ls" "$(jq -c '[.nics[].mac]' src.jsonl)" "$(jq -c '[.nics[].mac]' vms.jsonl)"
is "same disks as vs-ls" "$(jq -c '[.disks[] | [.file, .capacity, .controller]]' src.jsonl)" \
  "$(jq -c '[.disks[] | [.file, .capacity, .controller]]' vms.jsonl)"

ok "one domain per VM" bash -c 'virt-define --out-dir doms < pulled.jsonl 2>warn.txt'
is "four files" "$(ls doms | wc -l)" 4
for f in doms/*.xml; do
  ok "$(basename "$f"): virt-xml-validate" bash -c "virt-xml-validate '$f' domain >/dev/null"
  ok "$(basename "$f"): virsh define (test driver)" \
    bash -c "virsh -c test:///default define '$f' >/dev/null"
done

# The VM with everything: EFI and secure boot, three disks, three NICs.
web=$(ls doms | grep '^web_01')
d="doms/$web"
is "name kept exactly" "$(xp "$d" /domain/name)" "web 01 ünïcødé ☃"
is "UUID from the record" "$(xp "$d" /domain/uuid)" \
  "$(jq -r 'select(.name == "web 01 ünïcødé ☃") | .uuid | ascii_downcase' vms.jsonl)"
is "secure boot" "$(xp "$d" /domain/os/loader/@secure)" yes
is "SMM" "$(xp "$d" /domain/features/smm/@state)" on
is "three disks in order" \
  "$(xmllint --xpath '//disk/source/@file' "$d" | sed 's#.*/##; s#"##g' | tr '\n' ' ')" \
  "disk1.qcow2 data.qcow2 scratch.qcow2 "
is "three NICs with the MACs vs-ls saw" \
  "$(xmllint --xpath '//interface/mac/@address' "$d" | sed 's/.*="//; s/"//' | tr '\n' ' ')" \
  "$(jq -r 'select(.name == "web 01 ünïcødé ☃") | .nics[].mac' vms.jsonl | tr '\n' ' ')"

# The odd names.
slash=$(ls doms | grep '^a_b')
is "'/' escaped, the rest kept" "$(xp "doms/$slash" /domain/name)" "a%2fb & <c> \"q\" 'x'"
is "../../x stays in --out-dir" "$(ls doms | grep -c '^_\._\.\._x\.xml$')" 1
ok "no file escaped --out-dir" bash -c '! ls x.xml ../x.xml ../../x.xml 2>/dev/null'

# A shared --disk-dir where two VMs both have a disk1.vmdk would put two
# domains on one image: refused.
mkdir shared
printf 'QFI\373' > shared/disk1.qcow2
expect_fail "two VMs on one image are refused" "are both .*shared/disk1.qcow2" \
  virt-define --disk-dir shared --out-dir doms2 < vms.jsonl
ok "... and nothing was written" bash -c '[ ! -e doms2 ] || [ -z "$(ls -A doms2)" ]'

# A --disk-dir that mirrors the datastore layout (DIR/VMDIR/NAME.qcow2)
# gives each VM its own disk1.
jq -r '.disks[].file' vms.jsonl | sed 's/^\[[^]]*\] //; s/\.vmdk$/.qcow2/' | while read -r f; do
  mkdir -p "mirror/$(dirname "$f")"
  printf 'QFI\373' > "mirror/$f"
done
ok "a mirrored --disk-dir" bash -c 'virt-define --disk-dir mirror --out-dir doms3 < vms.jsonl 2>/dev/null'
is "each VM on its own disk1" \
  "$(xmllint --xpath 'string(//disk[1]/source/@file)' "doms3/$web")" \
  "$tmp/mirror/$(jq -r 'select(.name == "web 01 ünïcødé ☃") | .disks[0].file | sub("^\\[[^]]*\\] "; "") | sub("\\.vmdk$"; ".qcow2")' vms.jsonl)"
