#!/usr/bin/env bash
# h2k-migrate with names vCenter may hold: a two-disk VM called
# `$(touch PWNED) ../../etc "q" 'x'` with a newline and a glob in it, next to
# a VM whose name its glob would match.  Nothing escapes OUT, nothing is
# run, the right VM is taken, both disks are converted, and the domain
# names the VM as it is called.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"

cd "$tmp"
mkdir -p home work
name="\$(touch $tmp/PWNED) ../../etc \"q\" 'x'
second line [a]*"
decoy="\$(touch $tmp/PWNED) ../../etc \"q\" 'x'
second line a-decoy"

truncate -s 8M one.raw two.raw decoy.raw
qemu-io -f raw -c 'write -P 0x61 0 1M' one.raw >/dev/null
qemu-io -f raw -c 'write -P 0x62 2M 1M' two.raw >/dev/null
qemu-io -f raw -c 'write -P 0x63 0 8M' decoy.raw >/dev/null
one=$("$H2K_TOP/tests/guests/vmware-chain.sh" one.raw chain-one sys)
two=$("$H2K_TOP/tests/guests/vmware-chain.sh" two.raw chain-two "data disk")
three=$("$H2K_TOP/tests/guests/vmware-chain.sh" decoy.raw chain-decoy other)
start_vcsim -vm-disk "$name=$one" -vm-disk "$name=$two" -vm-disk "$decoy=$three"
export GOVC_INSECURE=1

is "the simulator holds the VM under its name" \
  "$(vs-ls --vm '*second line \[a\]\**' | jq -r .name)" "$name"
touch "$tmp/stamp"
cd work
ok "h2k-migrate migrates it" \
  quiet env HOME="$tmp/home" h2k-migrate --no-fix --out out -- "$name"
ok "no command in the name was run" test ! -e "$tmp/PWNED"
is "one directory in OUT, the name made safe" \
  "$(cd out && find . -mindepth 1 -maxdepth 1 | od -c | head -n 3)" \
  "$(printf '%s\n' "./\$(touch ${tmp//\//_}_PWNED) .._.._etc \"q\" 'x'_second line [a]*" | od -c | head -n 3)"
ok "nothing was written outside the work directory" \
  sh -c 'found=$(find "$1" -newer "$1/stamp" -not -path "$1/work*" -not -path "$1/vcsim*" -not -name ".stderr.*" -not -path "$1");
         [ -z "$found" ] || { echo "$found" >&2; exit 1; }' _ "$tmp"
d=$(find out -mindepth 1 -maxdepth 1 -type d)
jq_ok "the record is the VM's, not the decoy's" '.name == $n and (.disks | length) == 2' "$d/source.json" --arg n "$name"
ok "disk 1 is right" qemu-img compare -q -f raw -F qcow2 ../one.raw "$d/sys.qcow2"
ok "disk 2 is right (a name with a space)" qemu-img compare -q -f raw -F qcow2 ../two.raw "$d/data_disk.qcow2"
jq_ok "migration.json names the VM as it is" '.vm == $n and .status == "done" and ([.disks[].file] == ["sys.qcow2", "data_disk.qcow2"])' \
  "$d/migration.json" --arg n "$name"
if command -v virt-xml-validate >/dev/null; then
  ok "domain.xml validates" sh -c 'virt-xml-validate "$1" domain >/dev/null' _ "$d/domain.xml"
fi
ok "domain.xml has both disks, in order" \
  sh -c 'grep -o "<source file=\"[^\"]*\"" "$1" | sed "s|.*/||" | tr "\n" " " | grep -qx "sys.qcow2\" data_disk.qcow2\" "' _ "$d/domain.xml"
EXPECT_STATUS=2 expect_fail "a name that looks like an option needs --" "" h2k-migrate --no-fix --out out --oops
EXPECT_STATUS=1 expect_fail "the glob of the name is not taken as one" "no VM named" \
  h2k-migrate --no-fix --out out2 -- "\$(touch $tmp/PWNED) ../../etc \"q\" 'x'
second line *"
