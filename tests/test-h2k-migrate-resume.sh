#!/usr/bin/env bash
# h2k-migrate resumes: a run whose domain step fails (virt-define made to
# fail) is run again; the steps that were done (inventory, pull, convert)
# are not redone, by their recorded times and by the simulator's trace (no
# file fetched again, vs-ls not run again), and the failed step is.  Then a
# run whose conversion fails half way (img-convert killed on its second
# disk) resumes with the disk that was done kept; and --restart starts over.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"

truncate -s 16M "$tmp/a.raw" "$tmp/b.raw"
qemu-io -f raw -c 'write -P 0x31 0 1M' -c 'write -P 0x32 8M 1M' "$tmp/a.raw" >/dev/null
qemu-io -f raw -c 'write -P 0x41 1M 1M' -c 'write -P 0x42 15M 1M' "$tmp/b.raw" >/dev/null
a=$("$H2K_TOP/tests/guests/vmware-chain.sh" "$tmp/a.raw" "$tmp/chain-a" app)
b=$("$H2K_TOP/tests/guests/vmware-chain.sh" "$tmp/b.raw" "$tmp/chain-b" data)
start_vcsim -trace-file "$tmp/trace" -vm-disk "app01=$a" -vm-disk "app01=$b"
export GOVC_INSECURE=1
cd "$tmp"

# fake_dir NAME SCRIPT: a directory with a failing NAME in it, for PATH.
fake_dir ()
{
  mkdir -p "fake-$1"
  printf '#!/bin/bash\n%s\n' "$2" > "fake-$1/$1"
  chmod +x "fake-$1/$1"
}
fake_dir virt-define 'echo "virt-define: injected failure" >&2; exit 1'

EXPECT_STATUS=1 expect_fail "run 1: the domain step fails" "step 'domain' failed" \
  env PATH="$tmp/fake-virt-define:$PATH" h2k-migrate --no-fix --out out app01
m=out/app01/migration.json
jq_ok "run 1: inventory, pull and convert done, domain failed" \
  '[.steps[] | "\(.name)=\(.status)"] == ["inventory=0", "pull=0", "convert=0", "domain=1"]' "$m"
jq -c '[.steps[] | select(.status == 0) | [.name, .start, .end]]' "$m" > done1.json
gets1=$(grep -c '^GET /folder' trace || true)
lists1=$(grep -c 'RetrievePropertiesEx' trace || true)
ok "run 1 fetched the chains' files" test "$gets1" -gt 0

# The clock moves on, so a step that is redone would get other times.
t=$(date +%s); while [ "$(date +%s)" = "$t" ]; do sleep 0.2; done
ok "run 2: the same command resumes and finishes" \
  sh -c 'h2k-migrate --no-fix --out out app01 > /dev/null 2> run2.err'
ok "run 2 says it resumes and skips what was done" \
  sh -c 'grep -q "resuming" run2.err && grep -q "inventory: done already" run2.err && grep -q "pull: done already" run2.err && grep -q "convert: done already" run2.err'
is "run 2: the steps done in run 1 keep their times" \
  "$(jq -c '[.steps[] | select(.name != "domain") | [.name, .start, .end]]' "$m")" "$(cat done1.json)"
jq_ok "run 2: the domain step is done, and the run too" \
  '.status == "done" and (.steps[] | select(.name == "domain") | .status == 0) and (.runs | length) == 2 and .runs[0].status == 1 and .runs[1].status == 0' "$m"
is "run 2 fetched no file again" "$(grep -c '^GET /folder' trace || true)" "$gets1"
ok "run 2 did not list the VM again" test "$(grep -c 'RetrievePropertiesEx' trace || true)" -eq "$lists1"
ok "both disks are right" sh -c 'qemu-img compare -q -f raw -F qcow2 a.raw out/app01/app.qcow2 && qemu-img compare -q -f raw -F qcow2 b.raw out/app01/data.qcow2'
ok "domain.xml is there" test -s out/app01/domain.xml

# A conversion that fails on the second disk: the first disk is kept.
fake_dir img-convert 'for a; do last=$a; done
case $last in *data.qcow2) echo "img-convert: $last: injected failure" >&2; exit 1 ;; esac
exec "$H2K_BIN/img-convert" "$@"'
EXPECT_STATUS=1 expect_fail "run 3: the conversion fails on the second disk" "step 'convert' failed.*|injected failure" \
  env PATH="$tmp/fake-img-convert:$PATH" h2k-migrate --no-fix --out out3 app01
jq_ok "run 3: the first disk is recorded, the second is not" \
  '[.disks[] | .file] == ["app.qcow2"] and (.steps[] | select(.name == "convert") | .status == 1)' out3/app01/migration.json
ok "run 3: the pulled files are kept for the resume" test -d out3/app01/pull
touch -d '2000-01-01' out3/app01/app.qcow2
ok "run 4: resumes" sh -c 'h2k-migrate --no-fix --out out3 app01 >/dev/null 2>&1'
ok "run 4: the first disk was not converted again" sh -c '[ "$(stat -c %Y out3/app01/app.qcow2)" -lt 1000000000 ]'
ok "run 4: both disks are right" sh -c 'qemu-img compare -q -f raw -F qcow2 a.raw out3/app01/app.qcow2 && qemu-img compare -q -f raw -F qcow2 b.raw out3/app01/data.qcow2'
ok "--restart converts everything again" sh -c 'h2k-migrate --no-fix --restart --out out3 app01 >/dev/null 2>&1 && [ "$(stat -c %Y out3/app01/app.qcow2)" -gt 1000000000 ]'
jq_ok "--restart: one run recorded" '(.runs | length) == 1 and .status == "done"' out3/app01/migration.json
EXPECT_STATUS=1 expect_fail "--resume with nothing to resume" "no run to resume" \
  h2k-migrate --no-fix --resume --out nothing app01
