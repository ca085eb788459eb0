#!/usr/bin/env bash
# vs-cbt's refusals and failures: each with its message, exit 1, nothing
# on stdout and no snapshot left behind (checked in the VM's snapshot
# property); nobody else's snapshot is ever touched; usage errors exit 2;
# the password never shows.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version

vm=DC0_H0_VM0
s1=$(( 4 * 1048576 )) s2=$(( 8 * 1048576 ))
pw='pw-$(not)-"shown"'
cbt_start "$vm=$s1,$s2" -username cbt-user -password "$pw"
cbt_disk "$vm" 1 "$s1"
cbt_disk "$vm" 2 "$s2"
mapfile -t keys < <(vs-ls --vm "$vm" | jq -r '.disks[].key')
k1=${keys[0]} k2=${keys[1]}
moref=$(vs-ls --vm "$vm" | jq -r .moref)

no_snapshot () { is "$1: no snapshot left" "$(snapshots "$vm" | wc -l)" 0; }

# refused DESC PATTERN ARGS...: vs-cbt exits 1 with PATTERN on stderr,
# prints nothing, leaves no snapshot and does not show the password.
refused ()
{
  local desc=$1 pattern=$2; shift 2
  EXPECT_STATUS=1 expect_fail "$desc" "$pattern" vs-cbt "$@"
  local st=0
  vs-cbt "$@" > "$tmp/out" 2> "$tmp/err" || st=$?
  is "$desc: nothing on stdout" "$(wc -c < "$tmp/out")" 0
  if grep -qF -- "$pw" "$tmp/err"; then fail "$desc: the password is not shown"; else pass "$desc: the password is not shown"; fi
  no_snapshot "$desc"
}

# Usage errors.
for args in "--vm $vm" "--vm $vm --snapshot --release" "--snapshot" "--enable" \
            "--vm $vm --release --since x" "--vm $vm --snapshot --disk x" \
            "--vm $vm --snapshot extra" "--power-off"; do
  # shellcheck disable=SC2086
  EXPECT_STATUS=2 expect_fail "usage error: vs-cbt $args" "Try 'vs-cbt --help'" vs-cbt $args
done

refused "a VM that is not there" "no VM named 'no-such-vm'" --vm no-such-vm --snapshot
refused "CBT off" "Changed Block Tracking is off: run 'vs-cbt --vm NAME --enable' first" \
  --vm "$vm" --snapshot
ok "--enable" vs-cbt --vm "$vm" --enable

refused "--since that is neither a file nor a change id" "neither a file nor a change id" \
  --vm "$vm" --snapshot --since nonsense

# Somebody else's snapshot.
task=$(cbt_soap "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$moref</_this><name>before-upgrade</name><description>the admin's</description><memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>")
[[ "$task" == *returnval* ]] || diag "CreateSnapshot_Task: $task"
theirs=$(vs-ls --vm "$vm" | jq -r '.snapshots[] | select(.name == "before-upgrade") | .moref')
ok "a snapshot made by hand ($theirs)" test -n "$theirs"
EXPECT_STATUS=1 expect_fail "a VM with a snapshot h2k did not create" \
  "it has 1 snapshot h2k did not create \($theirs \"before-upgrade\"\).*--allow-existing-snapshots" \
  vs-cbt --vm "$vm" --snapshot
is "refused: only the admin's snapshot" "$(snapshots "$vm")" "before-upgrade"
ok "--allow-existing-snapshots" eval 'vs-cbt --vm "$vm" --snapshot --allow-existing-snapshots > "$tmp/allow.jsonl"'
is "--allow-existing-snapshots: two snapshots now" "$(snapshots "$vm" | wc -l)" 2
jq -c --arg s "$theirs" '.snapshot = $s' "$tmp/allow.jsonl" > "$tmp/forged.jsonl"
EXPECT_STATUS=1 expect_fail "--release of records naming somebody else's snapshot" \
  "snapshot $theirs \(\"before-upgrade\"\) was not created by h2k: vs-cbt does not remove it" \
  vs-cbt --vm "$vm" --release < "$tmp/forged.jsonl"
is "refused: both snapshots still there" "$(snapshots "$vm" | wc -l)" 2
ok "--list-stale lists h2k's only" eval 'vs-cbt --list-stale > "$tmp/stale.jsonl"'
jq_ok "--list-stale: h2k's snapshot, not the admin's" \
  'length == 1 and .[0].vm == "'"$vm"'" and (.[0].name | startswith("h2k-cbt ")) and .[0].snapshot != "'"$theirs"'"' "$tmp/stale.jsonl" --slurp
ok "--release" vs-cbt --vm "$vm" --release < "$tmp/allow.jsonl"
is "--release kept the admin's snapshot" "$(snapshots "$vm")" "before-upgrade"
ok "--cleanup with nothing of h2k's" eval 'vs-cbt --cleanup > "$tmp/clean0.jsonl"'
is "--cleanup: nothing removed" "$(wc -c < "$tmp/clean0.jsonl")" 0
is "--cleanup kept the admin's snapshot" "$(snapshots "$vm")" "before-upgrade"
cbt_soap "<RemoveSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachineSnapshot\">$theirs</_this><removeChildren>false</removeChildren></RemoveSnapshot_Task>" >/dev/null
no_snapshot "the admin removed theirs"

# An independent disk cannot be frozen.
cbt_ctl "independent=$vm"
refused "an independent disk" "disk $k1 .* is independent_persistent: snapshots leave independent disks out" \
  --vm "$vm" --snapshot
ok "--disk leaves the independent disk out" eval 'vs-cbt --vm "$vm" --snapshot --disk "$k2" > "$tmp/d2.jsonl"'
jq_ok "--disk: only the other disk" '.disk == '"$k2" "$tmp/d2.jsonl"
ok "release it" vs-cbt --vm "$vm" --release < "$tmp/d2.jsonl"
cbt_ctl "persistent=$vm"

# Change ids that cannot be compared.
ok "a cycle" eval 'vs-cbt --vm "$vm" --snapshot > "$tmp/c1.jsonl"'
ok "released" vs-cbt --vm "$vm" --release < "$tmp/c1.jsonl"
id2=$(jq -r --argjson k "$k2" 'select(.disk == $k) | .change_id' "$tmp/c1.jsonl")
refused "a change id from another disk" \
  "disk $k1 .*change id '$id2' is from another disk or from before a CBT reset.*a full copy is needed" \
  --vm "$vm" --snapshot --disk "$k1" --since "$id2"
jq -c --arg d "$k1" 'select(.disk == ($d | tonumber)) | .change_id |= sub("/[0-9]+$"; "/999")' "$tmp/c1.jsonl" > "$tmp/unknown.jsonl"
refused "a change id the host has no record of (FileFault after the snapshot)" \
  "QueryChangedDiskAreas: FileFault" --vm "$vm" --snapshot --disk "$k1" --since "$tmp/unknown.jsonl"
ok "... and it says the snapshot was removed" \
  bash -c "vs-cbt --vm '$vm' --snapshot --disk '$k1' --since '$tmp/unknown.jsonl' 2>&1 | grep -q 'snapshot snapshot-[0-9]* removed after the failure'"
jq -c 'select(.disk == '"$k1"')' "$tmp/c1.jsonl" > "$tmp/one.jsonl"
refused "--since records without a disk's change id" \
  "disk $k2 .*--since .* has no change_id for it: a full copy is needed" \
  --vm "$vm" --snapshot --since "$tmp/one.jsonl"
cbt_ctl "reset-cbt=$vm"
refused "a change id from before a CBT reset" \
  "change id '.*' is from another disk or from before a CBT reset \(the disk's is now '.*'\): what changed since cannot be known, a full copy is needed" \
  --vm "$vm" --snapshot --since "$tmp/c1.jsonl"

# Tasks and queries that fail on the server: its own text, and no snapshot.
cbt_ctl "fail-create=$vm"
refused "CreateSnapshot_Task fails" \
  "CreateSnapshot_Task|snapshot: .*SystemError: An error occurred while taking a snapshot: h2k-vcsim was told to fail it" \
  --vm "$vm" --snapshot
cbt_ctl "clear=$vm" "fail-query=$vm"
refused "QueryChangedDiskAreas fails" "FileFault: Error caused by file: h2k-vcsim was told to fail QueryChangedDiskAreas" \
  --vm "$vm" --snapshot
cbt_ctl "clear=$vm" "fail-remove=$vm"
ok "a cycle while removal fails" eval 'vs-cbt --vm "$vm" --snapshot > "$tmp/r.jsonl"'
EXPECT_STATUS=1 expect_fail "RemoveSnapshot_Task fails: the server's text" \
  "RemoveSnapshot_Task snapshot-[0-9]+: .*SystemError: An error occurred while consolidating disks: h2k-vcsim was told to fail it" \
  vs-cbt --vm "$vm" --release < "$tmp/r.jsonl"
EXPECT_STATUS=1 expect_fail "RemoveSnapshot_Task fails: says how to find the snapshot" \
  "a snapshot could not be released \('vs-cbt --list-stale' lists it" \
  vs-cbt --vm "$vm" --release < "$tmp/r.jsonl"
is "the failed release left the snapshot" "$(snapshots "$vm" | wc -l)" 1
ok "--list-stale finds it" eval 'vs-cbt --list-stale --vm "DC0_H0_*" > "$tmp/stale2.jsonl"'
jq_ok "--list-stale: the snapshot the records name" \
  '.snapshot == "'"$(jq -r .snapshot "$tmp/r.jsonl" | head -n 1)"'"' "$tmp/stale2.jsonl"
ok "--list-stale --vm GLOB matching nothing" eval 'vs-cbt --list-stale --vm "nomatch*" > "$tmp/none.jsonl"'
is "--list-stale --vm GLOB matching nothing: no line" "$(wc -c < "$tmp/none.jsonl")" 0
EXPECT_STATUS=1 expect_fail "--cleanup while removal fails" "could not be removed" vs-cbt --cleanup
cbt_ctl "clear=$vm"
ok "--cleanup" eval 'vs-cbt --cleanup --vm "$vm" > "$tmp/cleaned.jsonl"'
jq_ok "--cleanup says what it removed" '.removed == true and (.name | startswith("h2k-cbt "))' "$tmp/cleaned.jsonl"
no_snapshot "after --cleanup"
ok "--release after --cleanup is safe" vs-cbt --vm "$vm" --release < "$tmp/r.jsonl"
