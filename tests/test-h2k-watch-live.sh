#!/usr/bin/env bash
# h2k-watch as a running watcher: with inotifywait and by polling, fed a
# VMDK chain file by file (leaf first), an OVF before its disk, a file
# still growing (not touched until it settles), an OVA and a VHDX;
# --on-done; a second watcher on the same directory refused; SIGTERM
# stops it.  Oracles: qemu-img compare, jq.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires qemu-img --version
requires qemu-io --version
requires jq --version
requires setsid --version

W=$H2K_WATCH
cd "$tmp"
mkdir drop stage
out=$tmp/out
export DONE_LIST=$tmp/done.list
: > "$DONE_LIST"

# start_watcher LOG ARGS...: a watcher in the background, in a process
# group of its own; its pid in $wpid.
start_watcher ()
{
  local log=$1; shift
  setsid "$W" -v --no-fix "$@" 2>"$log" &
  wpid=$!
  cleanup_fn kill -TERM "$wpid"
  wait_for 60 grep -q 'watching .* into' "$log"
}
logged () { grep -qF -- "$2" "$1"; }

if command -v inotifywait >/dev/null; then
  start_watcher w.log --stable-seconds 3 --out "$out" \
    --on-done 'printf "%s\n" "$1" >> "$DONE_LIST"' drop
  ok "the watcher uses inotifywait" logged w.log "with inotifywait"
else
  skip "inotifywait is not installed"
  start_watcher w.log --poll --stable-seconds 3 --out "$out" \
    --on-done 'printf "%s\n" "$1" >> "$DONE_LIST"' drop
fi

EXPECT_STATUS=1 expect_fail "a second watcher on the same directory is refused" \
  "another h2k-watch is watching it \\(pid $wpid\\)" "$W" --once --no-fix --out "$out" drop

# A VMDK chain, dropped file by file, the leaf first.
make_chain stage "my disk"
cp stage/"my disk-000001.vmdk" drop/
ok "the leaf waits for its parent" wait_for 60 logged w.log "my disk-000001.vmdk: needs my disk.vmdk, which is not in"
cp stage/"my disk.vmdk" drop/
ok "... then for the parent's extent" wait_for 60 logged w.log "my disk-000001.vmdk: needs my disk-flat.vmdk"
cp stage/"my disk-flat.vmdk" drop/
ok "the chain converts once complete" wait_for 120 converted "$out" "my disk-000001"
ok "... into the guest's bytes" qemu-img compare -q stage/"my disk-000001.vmdk" "$out/my disk-000001/my disk-000001.qcow2"
[ ! -e "$out/my disk" ] && pass "the parent was not converted alone" || fail "the parent was converted alone"
ok "--on-done ran with the result's path" wait_for 30 grep -qxF "$out/my disk-000001" "$DONE_LIST"

# An OVF before its disk.
make_ovf stage vm vm-disk1.vmdk
cp stage/vm.ovf drop/
ok "the OVF waits for its disk" wait_for 60 logged w.log "vm.ovf: needs vm-disk1.vmdk"
cp stage/vm-disk1.vmdk drop/
ok "the OVF converts with its disk" wait_for 120 converted "$out" vm
ok "... the disk's bytes" qemu-img compare -q stage/vm-disk1.vmdk "$out/vm/vm-disk1.qcow2"
[ ! -e "$out/vm-disk1" ] && pass "the OVF's disk was not converted alone" || fail "the OVF's disk was converted alone"

# A file still growing is not touched until it has settled.
make_disk stage/grow.raw raw
( while [ ! -e stage/stop ]; do
    head -c 65536 /dev/urandom >> drop/grow.raw
    sleep 0.2
  done ) &
writer=$!
cleanup_fn kill "$writer"
ok "the growing file is seen" wait_for 60 logged w.log "grow.raw: waiting for its files to settle"
size0=$(stat -c %s drop/grow.raw)
grown () { [ "$(stat -c %s drop/grow.raw)" -ge $((size0 + 40 * 65536)) ]; }
ok "... and goes on growing" wait_for 120 grown
[ ! -e "$out/grow" ] && ! logged w.log "grow.raw: converting" && pass "... untouched while it grows" \
  || fail "a growing file was converted"
touch stage/stop
wait "$writer" || true
final=$(stat -c %s drop/grow.raw)
cp drop/grow.raw stage/grow.final
ok "once settled, it converts" wait_for 120 converted "$out" grow
ok "... all of it" qemu-img compare -q -f raw stage/grow.final "$out/grow/grow.qcow2"
is "... result.json has its final size" "$(jq '.sources[0].size' "$out/grow/result.json")" "$final"

kill -TERM "$wpid"
st=0; wait "$wpid" || st=$?
is "SIGTERM stops the watcher, exit 0" "$st" 0
ok "the lock is free again" "$W" --once --no-fix --stable-seconds 1 --out "$out" drop

# Polling (no inotifywait): an OVA and a VHDX.
mkdir poll
start_watcher p.log --poll --poll-interval 1 --stable-seconds 2 --out "$tmp/pout" poll
ok "the watcher polls when asked" logged p.log "by polling every 1 s"
make_ova stage/app.ova
make_disk stage/d.vhdx vhdx
cp stage/app.ova stage/d.vhdx poll/
ok "polling: the OVA converts" wait_for 120 converted "$tmp/pout" app
ok "polling: the VHDX converts" wait_for 120 converted "$tmp/pout" d
ok "... the VHDX's bytes" qemu-img compare -q stage/d.vhdx "$tmp/pout/d/d.qcow2"
kill -TERM "$wpid"; wait "$wpid" || true
