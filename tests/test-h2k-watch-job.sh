#!/usr/bin/env bash
# The real h2k-migrate behind h2k-watch's job files and migrate.mk, on the
# simulator: two VMs with real disk chains (a flat base and a COWD
# snapshot delta, as vSphere stores them).  A job file {"vm": NAME} dropped
# into the watched directory becomes OUT/<job>/ with migration.json; a
# job for a VM the simulator does not have lands in .errors/ with
# h2k-migrate's message; migrate.mk -j2 migrates both VMs and a rerun does
# nothing.  Oracles: the simulator, qemu-img compare, jq.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
command -v h2k-migrate >/dev/null || PATH=$PATH:$H2K_TOP/scripts
command -v h2k-migrate >/dev/null || skip_all "h2k-migrate is not there"
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"

cd "$tmp"
truncate -s 8M a.raw b.raw
qemu-io -f raw -c 'write -P 0x61 0 1M' -c 'write -P 0x71 5M 64k' a.raw >/dev/null
qemu-io -f raw -c 'write -P 0x62 2M 1M' b.raw >/dev/null
ca=$("$H2K_TOP/tests/guests/vmware-chain.sh" a.raw chain-a sys)
cb=$("$H2K_TOP/tests/guests/vmware-chain.sh" b.raw chain-b sys)
start_vcsim -vm-disk "web 01=$ca" -vm-disk "db01=$cb"
export GOVC_INSECURE=1

mkdir drop
jq -nc '{vm: "web 01"}' > "drop/web job.json"
jq -nc '{vm: "no such vm"}' > drop/missing.json
st=0
"$H2K_WATCH" --once --no-fix --stable-seconds 1 --out "$tmp/out" drop 2> w.log || st=$?
is "--once with a bad job exits 1" "$st" 1
ok "the job file's VM migrated" converted "$tmp/out" "web job"
ok "... h2k-migrate's migration.json is in the result" jtest '.status == "done" and .vm == "web 01"' "out/web job/migration.json"
ok "... result.json points to it" jtest '.kind == "job" and .migration == "migration.json"' "out/web job/result.json"
ok "... the disk is the VM's" qemu-img compare -q -f raw a.raw "out/web job/sys.qcow2"
ok "... the domain" test -s "out/web job/domain.xml"
ok "the job file moved to .processed/" test -e "drop/.processed/web job.json"
ok "the job for a VM that is not there is in .errors/" jtest '.step == "h2k-migrate" and (.message | length > 0)' drop/.errors/missing.json.error.json
diag "$(jq -r .message drop/.errors/missing.json.error.json)"

# The same VMs as a batch.
printf '%s\n' 'web 01' db01 > vms.txt
ok "migrate.mk -j2 over the simulator" bash -c '"$@" > /dev/null 2>&1' _ \
  make -s -f "$H2K_TOP/scripts/migrate.mk" -j2 VMLIST=vms.txt OUT=batch FLAGS=--no-fix
ok "web 01: its disk" qemu-img compare -q -f raw a.raw "batch/web 01/sys.qcow2"
ok "db01: its disk" qemu-img compare -q -f raw b.raw "batch/db01/sys.qcow2"
ok "the rerun has nothing to do" bash -c '"$@" 2>&1 | grep -qx "migrate.mk: 2 migrated, 0 failed, 0 skipped (logs in batch/logs/)"' _ \
  make -s -f "$H2K_TOP/scripts/migrate.mk" -j2 VMLIST=vms.txt OUT=batch FLAGS=--no-fix
