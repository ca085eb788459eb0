#!/usr/bin/env bash
# h2k-migrate against the simulator, without a guest (--no-fix): a VM with
# a snapshot chain (a flat base and a COWD delta, -vm-disk) converted
# straight from the pulled chain, checked against qemu-img and the digest
# of the raw disk; a VM with one flat disk streamed from the datastore into
# img-convert with nothing on disk but the output; a powered-on VM
# refused with advice; a missing VM, a wrong password and a failing step,
# each with its message and exit 1.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"

secret=Migrate-pw-0815

# A 64 MiB disk with data at both ends, zeros between, as a chain.
truncate -s 64M "$tmp/web01.raw"
qemu-io -f raw -c 'write -P 0x5a 0 3M' -c 'write -P 0xa5 40M 1M' -c 'write -P 0x11 63M 1M' "$tmp/web01.raw" >/dev/null
leaf=$("$H2K_TOP/tests/guests/vmware-chain.sh" "$tmp/web01.raw" "$tmp/chain" web01)

# A 32 MiB disk as one flat file, no snapshot.
mkdir -p "$tmp/flat"
truncate -s 32M "$tmp/flat/flat01-flat.vmdk"
qemu-io -f raw -c 'write -P 0x77 1M 2M' -c 'write -P 0x78 30M 64k' "$tmp/flat/flat01-flat.vmdk" >/dev/null
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=fffffffe' 'parentCID=ffffffff' \
  'createType="vmfs"' '' '# Extent description' 'RW 65536 VMFS "flat01-flat.vmdk"' > "$tmp/flat/flat01.vmdk"

start_vcsim -username admin -password "$secret" -trace-file "$tmp/trace" \
  -vm-disk "web01=$leaf" -vm-mac web01=00:50:56:9a:0b:1c \
  -vm-disk "flat01=$tmp/flat/flat01.vmdk"
# The password from the variable, not from the URL.
export GOVC_INSECURE=1 GOVC_URL=$VCSIM_URL
mkdir -p "$tmp/out"
cd "$tmp"

# --- The chain -----------------------------------------------------------
ok "a VM with a snapshot chain migrates" \
  sh -c 'h2k-migrate --no-fix --out out web01 > run.out 2> run.err'
is "it prints the run's directory" "$(cat run.out)" "out/web01"
d=out/web01
ok "the disk is named after the base disk" test -f "$d/web01.qcow2"
ok "qemu-img check of the output" qemu-img check -q "$d/web01.qcow2"
ok "the output reads as the raw disk (qemu-img compare)" qemu-img compare -q -f raw -F qcow2 web01.raw "$d/web01.qcow2"
ok "qemu-img reads the original chain as the same disk" qemu-img compare -q -f vmdk -F qcow2 "$leaf" "$d/web01.qcow2"
m=$d/migration.json
jq_ok "migration.json: done, cold, qcow2" '.status == "done" and .mode == "cold" and .format == "qcow2" and .vm == "web01"' "$m"
jq_ok "migration.json: steps inventory, pull, convert, domain, each exit 0 with times and bytes" \
  '[.steps[] | .name] == ["inventory", "pull", "convert", "domain"]
   and all(.steps[]; .status == 0 and (.start | test("Z$")) and (.end | test("Z$")) and .bytes >= 0 and .seconds >= 0)' "$m"
jq_ok "migration.json: the disk's SHA-256 is that of the raw disk" \
  '.disks[0].sha256 == $s and .disks[0].file == "web01.qcow2"' "$m" --arg s "$(sha256 web01.raw)"
jq_ok "migration.json: the source record and the tool versions" \
  '.source.name == "web01" and (.source.disks[0].chain | length) == 2 and (.tool_versions | has("vs-pull") and has("img-convert"))' "$m"
jq_ok "migration.json: peak scratch space at most the pulled files plus the output" \
  '.peak_scratch_bytes <= $pull + $o + 65536' "$m" \
  --argjson pull "$(du -sB1 chain | cut -f1)" --argjson o "$(du -B1 "$d/web01.qcow2" | cut -f1)"
ok "the pulled files are removed when the run is done" test ! -e "$d/pull"
ok "the record is kept" quiet jq -e '.name == "web01"' "$d/source.json"
if command -v virt-xml-validate >/dev/null; then
  ok "domain.xml validates" sh -c 'virt-xml-validate "$1" domain >/dev/null' _ "$d/domain.xml"
fi
ok "domain.xml: the converted disk, the VMware MAC" \
  sh -c 'grep -q "<source file=\"$(realpath "$1")\"/>" "$2" && grep -q "00:50:56:9a:0b:1c" "$2"' _ "$d/web01.qcow2" "$d/domain.xml"
ok "the password is in no file" sh -c '! grep -rqF -- "$1" out run.out run.err' _ "$secret"
ok "a second run finds everything done and does nothing" \
  sh -c 'h2k-migrate --no-fix --out out web01 >/dev/null 2>again.err && grep -q "pull: done already" again.err'

ok "--format raw" sh -c 'h2k-migrate --no-fix --format raw --out raw web01 >/dev/null 2>&1'
ok "--format raw: the raw disk" cmp raw/web01/web01.raw web01.raw
EXPECT_STATUS=1 expect_fail "another --format on a finished run is refused" "format" \
  h2k-migrate --no-fix --format qcow2 --out raw web01

# --- The streaming path -----------------------------------------------------
: > "$tmp/trace"
ok "a VM with one flat disk migrates" sh -c 'h2k-migrate --no-fix --out out flat01 >/dev/null 2>stream.err'
d=out/flat01
jq_ok "it was streamed: no pull step" '[.steps[] | .name] == ["inventory", "convert", "domain"] and .disks[0].source == "[LocalDS_0] flat01/flat01-flat.vmdk"' "$d/migration.json"
is "nothing on disk but the output and the run's records" \
  "$(cd "$d" && find . -type f ! -path './logs/*' | sort | tr '\n' ' ')" \
  "./.lock ./domain.xml ./flat01.qcow2 ./migration.json ./source.json "
ok "the streamed disk is the flat file" qemu-img compare -q -f raw -F qcow2 flat/flat01-flat.vmdk "$d/flat01.qcow2"
jq_ok "its digest is the flat file's" '.disks[0].sha256 == $s' "$d/migration.json" --arg s "$(sha256 flat/flat01-flat.vmdk)"
ok "only the flat extent was read, once, and no descriptor was fetched" \
  sh -c '[ "$(grep -c "GET /folder/flat01/flat01-flat.vmdk" "$1")" -ge 1 ] && ! grep -q "GET /folder/flat01/flat01.vmdk" "$1"' _ "$tmp/trace"

# --- Refusals and failures --------------------------------------------------
on=$(vs-ls --power-state poweredOn | jq -r .name | head -n 1)
EXPECT_STATUS=1 expect_fail "a powered-on VM is refused, offering --warm and --power-off" \
  "is poweredOn.*--power-off.*--warm" h2k-migrate --no-fix --out out "$on"
ok "nothing was pulled or converted for it" \
  sh -c '! [ -e "out/$1/pull" ] && ! ls "out/$1/"*.qcow2 2>/dev/null | grep -q .' _ "$on"
EXPECT_STATUS=1 expect_fail "a missing VM" "no VM named 'no-such-vm'.*|step 'inventory' failed" \
  h2k-migrate --no-fix --out out no-such-vm
ok "the missing VM's failure names the step" \
  sh -c 'h2k-migrate --no-fix --out out no-such-vm 2>&1 | grep -q "step .inventory. failed"'
EXPECT_STATUS=1 expect_fail "a wrong password" "inventory.*failed" \
  env GOVC_PASSWORD=Wrong-pw-1234 h2k-migrate --no-fix --out wrong web01
ok "a wrong password: the server's refusal is shown, the password is not" \
  sh -c 'env GOVC_PASSWORD=Wrong-pw-1234 h2k-migrate --no-fix --out wrong web01 > /dev/null 2> wrong.err;
         grep -qi -e login -e password -e "not authorized" -e "401" wrong.err && ! grep -q Wrong-pw-1234 wrong.err'

mkdir -p fake
printf '#!/bin/sh\necho "virt-define: cannot write the domain: disk on fire" >&2\nexit 1\n' > fake/virt-define
chmod +x fake/virt-define
EXPECT_STATUS=1 expect_fail "a failing step: its name, the program's message, how to resume" \
  "disk on fire" env PATH="$tmp/fake:$PATH" h2k-migrate --no-fix --out failing web01
ok "the failure says which step and how to resume" \
  sh -c 'env PATH="$1:$PATH" h2k-migrate --no-fix --out failing web01 2>&1 >/dev/null |
         grep -q "step .domain. failed" && env PATH="$1:$PATH" h2k-migrate --no-fix --out failing web01 2>&1 >/dev/null | grep -q "run the same command again"' _ "$tmp/fake"
jq_ok "migration.json records the failure" \
  '.status == "failed" and .failed_step == "domain" and (.steps[] | select(.name == "domain") | .status == 1 and (.error | test("disk on fire")))' failing/web01/migration.json
ok "no domain.xml is left half written" sh -c '! ls failing/web01/domain.xml* 2>/dev/null | grep -q .'
