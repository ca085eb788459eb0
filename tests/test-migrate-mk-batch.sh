#!/usr/bin/env bash
# migrate.mk with make -j3 on three VMs (names with spaces, quotes and
# $(...)), one made to fail: make -k goes on, the summary names the failed
# VM with its step, the log per VM; a rerun migrates only the failed one.
# h2k-migrate is played by a stand-in with its interface (its own tests
# cover it); what is tested here is make's part.  Oracles: make, jq,
# qemu-img check.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires make --version
requires jq --version
requires qemu-img --version
requires qemu-io --version

MK=$H2K_TOP/scripts/migrate.mk
cd "$tmp"
make_stand_in_migrate "$tmp/h2k-migrate"
export MIGRATE_CALLS=$tmp/calls MIGRATE_BROKEN=$tmp/broken
: > calls
odd='db $(touch pwned) "q"'
printf '%s\n' 'web 01' "$odd" 'mail' > vms.txt
printf '%s\n' "$odd" > broken

st=0
make -f "$MK" -j3 -k VMLIST=vms.txt OUT=out H2K_MIGRATE="$tmp/h2k-migrate" FLAGS="--no-fix -c" \
  > summary.txt 2> make.log || st=$?
[ "$st" -ne 0 ] && pass "a failed VM fails the batch (exit $st)" || fail "a failed VM fails the batch"
[ ! -e pwned ] && [ ! -e out/pwned ] && pass "no name reached a shell" || fail "a name reached a shell"
is "each VM was tried once" "$(cut -f1 calls | sort | tr '\n' /)" "$(sort vms.txt | tr '\n' /)"
ok "the summary: web 01 migrated" grep -qx 'migrated  web 01' summary.txt
ok "the summary: mail migrated" grep -qx 'migrated  mail' summary.txt
ok "the summary: the failed VM with its step and message" \
  grep -qxF "failed    $odd  (h2k-migrate pull: h2k-migrate: $odd: pull: the datastore said no)" summary.txt
ok "the summary's count" grep -qx 'migrate.mk: 2 migrated, 1 failed, 0 skipped (logs in out/logs/)' summary.txt
ok "a log per VM" test -s "out/logs/$odd.log" -a -s "out/logs/web 01.log" -a -s out/logs/mail.log
ok "the failed VM's log has h2k-migrate's message" grep -q 'the datastore said no' "out/logs/$odd.log"
ok "the migrated disks pass qemu-img check" qemu-img check -q "out/web 01/disk.qcow2"

# The rerun, with the failure gone: only the failed VM is migrated.
: > broken
: > calls
ok "the rerun succeeds" bash -c '"$@" > /dev/null' _ make -s -f "$MK" -j3 -k VMLIST=vms.txt OUT=out H2K_MIGRATE="$tmp/h2k-migrate" FLAGS="--no-fix -c"
is "... and migrated only the VM that had failed" "$(cut -f1 calls)" "$odd"
ok "a third run has nothing to do" bash -c '"$@" > /dev/null' _ make -s -f "$MK" -j3 VMLIST=vms.txt OUT=out H2K_MIGRATE="$tmp/h2k-migrate"
is "... and runs nothing" "$(cut -f1 calls)" "$odd"

# Without -k make stops at the first failure: what it did not start is
# reported as skipped.
: > calls
printf '%s\n' a b c > abc.txt
printf '%s\n' a > broken
st=0
make -f "$MK" -j1 VMS="a b c" OUT=out2 H2K_MIGRATE="$tmp/h2k-migrate" > s2.txt 2>/dev/null || st=$?
[ "$st" -ne 0 ] && pass "without -k the batch stops" || fail "without -k the batch stops"
ok "the others are reported skipped" grep -qx 'migrate.mk: 0 migrated, 1 failed, 2 skipped (logs in out2/logs/)' s2.txt

EXPECT_STATUS=2 expect_fail "no VM given" "no VM given" make -f "$MK" OUT=out3 H2K_MIGRATE="$tmp/h2k-migrate"
EXPECT_STATUS=2 expect_fail "an OUT make cannot name" "make cannot use a path with spaces" \
  make -f "$MK" VMS=a OUT="o u t" H2K_MIGRATE="$tmp/h2k-migrate"
EXPECT_STATUS=2 expect_fail "h2k-migrate missing" "h2k-migrate-nowhere: not found" \
  make -f "$MK" VMS=a OUT=out4 H2K_MIGRATE=h2k-migrate-nowhere
