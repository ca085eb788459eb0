#!/usr/bin/env bash
# h2k-sync killed with SIGKILL (the whole process group, as a crash of
# the conversion host would) between the snapshot and the pull, in the
# middle of a full copy and in the middle of an incremental patch: the
# state stays that of the last complete run, and running it again
# converges to identical copies with no snapshot left on the VM.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version
requires setsid --version
PATH=$H2K_TOP/scripts:$PATH

vm=DC0_H0_VM0
s1=$(( 24 * 1048576 )) s2=$(( 8 * 1048576 ))
cbt_start "$vm=$s1,$s2"
cbt_disk "$vm" 1 "$s1"
cbt_disk "$vm" 2 "$s2"
mapfile -t keys < <(vs-ls --vm "$vm" | jq -r '.disks[].key')
declare -A flat=([${keys[0]}]=$(cbt_flat "$vm" 1) [${keys[1]}]=$(cbt_flat "$vm" 2))
ok "--enable" vs-cbt --vm "$vm" --enable
dir=$tmp/sync

same_disks ()  # DESC
{
  local k
  for k in "${keys[@]}"; do
    is "$1: disk $k identical (sha256)" "$(sha256 "$dir/$k.raw")" "$(sha256 "${flat[$k]}")"
  done
  is "$1: no snapshot left" "$(snapshots "$vm" | wc -l)" 0
}

# start_sync: h2k-sync in its own process group, so that SIGKILL takes
# it and the vs-cbt or vs-pull it runs at once.
start_sync ()
{
  setsid h2k-sync "$vm" "$dir" > "$tmp/run.out" 2> "$tmp/run.err" &
  pid=$!
}
crash ()
{
  kill -9 -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# 1. Between the snapshot and the pull: the snapshot's answer is held.
cbt_ctl "hold-create=$vm"
start_sync
ok "killed between snapshot and pull: the snapshot exists" wait_until 120 has_snapshots "$vm" 1
crash
cbt_ctl release-hold=1
ok "no state was written" test ! -e "$dir/sync.json"
ok "run again" eval 'h2k-sync "$vm" "$dir" > "$tmp/r1.json"'
jq_ok "run again: a full copy" '.full == true and .cycle == 1' "$tmp/r1.json"
same_disks "after the crash before the pull"

# 2. In the middle of an incremental patch.
guest_write "$vm" 1 $(( 2 * 1048576 + 7 )) $(( 8 * 1048576 ))
guest_write "$vm" 2 4096 4096
cbt_ctl slow-folder=1000000
b0=$(folder_bytes)
start_sync
ok "killed half-way through the patch" wait_until 120 fetched_more_than $(( b0 + 2 * 1048576 ))
crash
cbt_ctl slow-folder=0
jq_ok "the state is still that of run 1" '.cycles == 1' "$dir/sync.json"
ok "the copy is half patched" eval '! cmp -s "$dir/${keys[0]}.raw" "${flat[${keys[0]}]}"'
is "the crash left its snapshot" "$(snapshots "$vm" | wc -l)" 1
ok "run again" eval 'h2k-sync "$vm" "$dir" > "$tmp/r2.json"'
jq_ok "run again: incremental, from run 1's change ids" '.full == false and .cycle == 2 and .bytes_changed >= 8388608' "$tmp/r2.json"
same_disks "after the crash in the patch"

# 3. In the middle of a full copy (a new directory).
dir=$tmp/sync2
cbt_ctl slow-folder=1000000
b0=$(folder_bytes)
start_sync
ok "killed half-way through a full copy" wait_until 120 fetched_more_than $(( b0 + 2 * 1048576 ))
crash
cbt_ctl slow-folder=0
ok "no state, and the copy is only a .part" eval 'test ! -e "$dir/sync.json" && test ! -e "$dir/${keys[0]}.raw"'
ok "run again" eval 'h2k-sync "$vm" "$dir" > "$tmp/r3.json"'
same_disks "after the crash in the full copy"
ok "no .part or work directory left" bash -c "! ls -d '$dir'/*.part '$dir'/.h2k-sync.?????? 2>/dev/null"
