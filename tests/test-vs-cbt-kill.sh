#!/usr/bin/env bash
# No snapshot is ever left behind by h2k: vs-cbt killed with SIGKILL
# between CreateSnapshot_Task and its answer leaves a snapshot that
# --list-stale finds and --cleanup removes, and neither ever touches a
# snapshot somebody made by hand; SIGTERM during a cycle removes the
# snapshot at once; vs-pull killed half-way through a patch converges when
# run again; and a pipeline with a trap releases even when the pull fails.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version

vm=DC0_H0_VM0 other=DC0_H0_VM1
s1=$(( 32 * 1048576 ))
cbt_start "$vm=$s1"
cbt_disk "$vm" 1 "$s1"
f1=$(cbt_flat "$vm" 1)
ok "--enable" vs-cbt --vm "$vm" --enable
ok "--enable another VM" vs-cbt --vm "$other" --enable

# Somebody's snapshot on another VM, called like ours but without our
# description: it must never be listed or removed.
omoref=$(vs-ls --vm "$other" | jq -r .moref)
cbt_soap "<CreateSnapshot_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">$omoref</_this><name>h2k-cbt lookalike</name><description>made by hand</description><memory>false</memory><quiesce>false</quiesce></CreateSnapshot_Task>" >/dev/null
is "the hand-made snapshot" "$(snapshots "$other")" "h2k-cbt lookalike"

# kill -9 between CreateSnapshot_Task and its answer: the simulator holds
# the answer back, the snapshot already exists.
cbt_ctl "hold-create=$vm"
vs-cbt --vm "$vm" --snapshot > "$tmp/held.out" 2> "$tmp/held.err" &
pid=$!
ok "the snapshot exists while vs-cbt waits for the task" wait_until 120 has_snapshots "$vm" 1
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
cbt_ctl release-hold=1
is "killed: nothing printed" "$(wc -c < "$tmp/held.out")" 0
is "killed: the snapshot is still there" "$(snapshots "$vm" | wc -l)" 1
ok "--list-stale" eval 'vs-cbt --list-stale > "$tmp/stale.jsonl"'
jq_ok "--list-stale: exactly the killed cycle's snapshot, none of the hand-made" \
  'length == 1 and .[0].vm == "'"$vm"'" and (.[0].name | startswith("h2k-cbt ")) and (.[0].description | startswith("h2k vs-cbt"))' \
  "$tmp/stale.jsonl" --slurp
EXPECT_STATUS=1 expect_fail "the next --snapshot refuses while it is there" \
  "is left from an earlier cycle that was not released" vs-cbt --vm "$vm" --snapshot
ok "--cleanup" eval 'vs-cbt --cleanup > "$tmp/cleanup.jsonl"'
jq_ok "--cleanup removed it" 'length == 1 and .[0].removed == true' "$tmp/cleanup.jsonl" --slurp
is "--cleanup: the VM has no snapshot" "$(snapshots "$vm" | wc -l)" 0
is "--cleanup: the hand-made snapshot is still there" "$(snapshots "$other")" "h2k-cbt lookalike"
ok "--list-stale: nothing left" eval '[ -z "$(vs-cbt --list-stale)" ]'

# SIGTERM while the answer is held: vs-cbt removes its snapshot itself.
cbt_ctl "hold-create=$vm"
vs-cbt --vm "$vm" --snapshot > "$tmp/term.out" 2> "$tmp/term.err" &
pid=$!
ok "held again" wait_until 120 has_snapshots "$vm" 1
kill -TERM "$pid"
cbt_ctl release-hold=1
st=0; wait "$pid" || st=$?
is "SIGTERM: exit 1" "$st" 1
ok "SIGTERM: says so" grep -q 'interrupted by signal 15' "$tmp/term.err"
ok "SIGTERM: the snapshot was removed" wait_until 60 has_snapshots "$vm" 0

# vs-pull killed half-way through a patch: run again, it converges.
ok "a full cycle's records" eval 'vs-cbt --vm "$vm" --snapshot > "$tmp/c1.jsonl"'
cbt_ctl slow-folder=2000000
b0=$(folder_bytes)
vs-pull --patch "$tmp/disk.raw" < "$tmp/c1.jsonl" 2> "$tmp/pull.err" &
pid=$!
ok "vs-pull is half-way" wait_until 120 fetched_more_than $(( b0 + 4 * 1048576 ))
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
cbt_ctl slow-folder=0
ok "killed half-way: the copy differs" eval '! cmp -s "$tmp/disk.raw" "$f1"'
ok "vs-pull again" vs-pull --patch "$tmp/disk.raw" < "$tmp/c1.jsonl"
same_file "converged: identical" "$tmp/disk.raw" "$f1"
ok "--release" vs-cbt --vm "$vm" --release < "$tmp/c1.jsonl"
is "no snapshot" "$(snapshots "$vm" | wc -l)" 0

# The documented pipeline (man vs-cbt): a trap releases even when the pull
# fails (here: the target is a directory).
mkdir "$tmp/not-a-file"
cat > "$tmp/pipeline.sh" <<'EOS'
set -euo pipefail
vm=$1 since=$2 target=$3
vs-cbt --vm "$vm" --snapshot --since "$since" > delta.jsonl
trap 'vs-cbt --vm "$vm" --release < delta.jsonl' EXIT
vs-pull --patch "$target" < delta.jsonl
EOS
guest_write "$vm" 1 1000000 5000
st=0; (cd "$tmp" && bash pipeline.sh "$vm" c1.jsonl not-a-file) 2> "$tmp/pipe.err" || st=$?
is "the pipeline fails with the pull" "$st" 1
is "the trap released the snapshot" "$(snapshots "$vm" | wc -l)" 0
ok "the same pipeline into the copy" eval '(cd "$tmp" && bash pipeline.sh "$vm" c1.jsonl disk.raw)'
same_file "the pipeline: identical" "$tmp/disk.raw" "$f1"
is "the pipeline: no snapshot" "$(snapshots "$vm" | wc -l)" 0
is "the hand-made snapshot survived everything" "$(snapshots "$other")" "h2k-cbt lookalike"
