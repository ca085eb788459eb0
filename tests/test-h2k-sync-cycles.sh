#!/usr/bin/env bash
# h2k-sync, the warm cycle as a script, against the simulator: the first
# run copies every allocated area into DIR/<disk>.raw, later runs only
# what changed, --final --power-off shuts the guest down first; the copies
# are identical (sha256) after every run, the bytes fetched (counted at
# the server) are the changed blocks, DIR/sync.json holds the change ids,
# and no snapshot is left.  Its options behave like the C programs' and
# match its man page; it is shellcheck-clean.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version
PATH=$H2K_TOP/scripts:$PATH

if command -v shellcheck >/dev/null; then
  ok "h2k-sync is shellcheck-clean" shellcheck "$H2K_TOP/scripts/h2k-sync"
else
  skip "shellcheck is not installed"
fi

# The common options, as the C programs have them.
ok "--help exits 0" quiet h2k-sync --help
ok "--help names it and the interface" bash -c "h2k-sync --help | grep -q 'Usage: h2k-sync \[OPTIONS\] VM DIR'"
is "--version" "$(h2k-sync --version)" "h2k-sync (h2k) $(vs-cbt --version | awk '{print $NF}')"
is "-V" "$(h2k-sync -V)" "$(h2k-sync --version)"
ok "--long-options lists --final and --help" bash -c "h2k-sync --long-options | grep -qx -- --final && h2k-sync --long-options | grep -qx -- --help"
ok "--short-options lists -V" bash -c "h2k-sync --short-options | grep -qx -- -V"
EXPECT_STATUS=1 expect_fail "--help to a full disk fails" "" bash -c "h2k-sync --help > /dev/full"
for args in "" "onlyvm" "a b c" "--power-off vm dir" "--no-such-option vm dir" "--url"; do
  # shellcheck disable=SC2086
  EXPECT_STATUS=2 expect_fail "usage error: h2k-sync $args" "Try 'h2k-sync --help'" h2k-sync $args
done
man=$H2K_TOP/man/h2k-sync.1
if [ -f "$man" ]; then
  is "the man page documents exactly the options h2k-sync takes" \
    "$(comm -3 <({ h2k-sync --long-options; h2k-sync --short-options; } | grep -vxE -- '--long-options|--short-options' | sort -u) \
                <(man_options "$man") | tr -d '\t' | tr '\n' ' ')" ""
  ok "the man page has EXAMPLES and EXIT STATUS" bash -c "grep -q '^\.SH EXAMPLES' '$man' && grep -q '^\.SH \"\\?EXIT STATUS' '$man'"
else
  fail "h2k-sync has a man page"
fi

vm=DC0_H0_VM0
s1=$(( 8 * 1048576 )) s2=$(( 16 * 1048576 ))
cbt_start "$vm=$s1,$s2"
cbt_disk "$vm" 1 "$s1"
cbt_disk "$vm" 2 "$s2"
dd if=/dev/zero of="$(cbt_flat "$vm" 2)" bs=1M seek=4 count=8 conv=notrunc status=none
mapfile -t keys < <(vs-ls --vm "$vm" | jq -r '.disks[].key')
declare -A flat=([${keys[0]}]=$(cbt_flat "$vm" 1) [${keys[1]}]=$(cbt_flat "$vm" 2))
dir="$tmp/sync dir"

EXPECT_STATUS=1 expect_fail "CBT off: vs-cbt's refusal" "Changed Block Tracking is off" h2k-sync "$vm" "$dir"
ok "CBT off: no state written" test ! -e "$dir/sync.json"
is "CBT off: no snapshot" "$(snapshots "$vm" | wc -l)" 0
ok "vs-cbt --enable" vs-cbt --vm "$vm" --enable

same_disks ()  # DESC
{
  local k
  for k in "${keys[@]}"; do
    is "$1: disk $k identical (sha256)" "$(sha256 "$dir/$k.raw")" "$(sha256 "${flat[$k]}")"
  done
  is "$1: no snapshot left" "$(snapshots "$vm" | wc -l)" 0
}

b0=$(folder_bytes)
ok "run 1: the full copy" eval 'h2k-sync "$vm" "$dir" > "$tmp/r1.json" 2> "$tmp/r1.err"'
same_disks "run 1"
jq_ok "run 1: its report" '.kind == "sync" and .cycle == 1 and .full == true and .final == false
  and .bytes_fetched == .bytes_changed and .bytes_changed == '"$(( s1 + s2 - 8 * 1048576 ))"' and (.seconds | type) == "number"' "$tmp/r1.json"
is "run 1: the server served what it reports" "$(( $(folder_bytes) - b0 ))" "$(jq .bytes_fetched "$tmp/r1.json")"
jq_ok "sync.json: the VM and a change id per disk" \
  '.vm == "'"$vm"'" and .cycles == 1 and (.disks | length) == 2 and all(.disks[]; (.change_id | contains("/")) and .capacity > 0 and (.local | endswith(".raw")))' "$dir/sync.json"
ok "run 1: the copy of disk 2 is sparse" test "$(du -k "$dir/${keys[1]}.raw" | cut -f1)" -lt $(( (s2 - 6 * 1048576) / 1024 ))
ok "run 1: says what it did on stderr" grep -q "h2k-sync: VM ${vm@Q}: cycle 1: .* bytes changed, .* fetched" "$tmp/r1.err"
ok "no work directory left" bash -c "! ls -d '$dir'/.h2k-sync.?????? 2>/dev/null"

guest_write "$vm" 1 100000 4096
guest_write "$vm" 2 $(( s2 - 1 )) 1
b0=$(folder_bytes)
ok "run 2: incremental" eval 'h2k-sync "$vm" "$dir" > "$tmp/r2.json"'
same_disks "run 2"
jq_ok "run 2: two blocks changed and fetched" '.cycle == 2 and .full == false and .bytes_changed == 131072 and .bytes_fetched == 131072' "$tmp/r2.json"
is "run 2: the server served two blocks" "$(( $(folder_bytes) - b0 ))" 131072

ok "run 3: nothing changed" eval 'h2k-sync "$vm" "$dir" > "$tmp/r3.json"'
jq_ok "run 3: nothing fetched" '.bytes_changed == 0 and .bytes_fetched == 0' "$tmp/r3.json"
same_disks "run 3"

guest_write "$vm" 2 $(( 3 * 1048576 - 100 )) 3000000
ok "run 4: --final --power-off" eval 'h2k-sync --final --power-off "$vm" "$dir" > "$tmp/r4.json" 2> "$tmp/r4.err"'
same_disks "run 4"
jq_ok "run 4: final" '.final == true and .cycle == 4 and .bytes_changed > 3000000' "$tmp/r4.json"
is "run 4: the VM is powered off" "$(vs-ls --vm "$vm" | jq -r .power_state)" poweredOff
jq_ok "sync.json: final" '.final == true and .cycles == 4' "$dir/sync.json"

# Another VM's state is not this one's.
EXPECT_STATUS=1 expect_fail "another VM's directory" "not the state of VM 'DC0_H0_VM1'" h2k-sync DC0_H0_VM1 "$dir"
# A copy that disappeared: the next run is a full one.
rm "$dir/${keys[0]}.raw"
ok "a missing copy" eval 'h2k-sync "$vm" "$dir" > "$tmp/r5.json" 2> "$tmp/r5.err"'
ok "a missing copy: says so" grep -q 'is missing: this run is a full copy' "$tmp/r5.err"
jq_ok "a missing copy: a full run" '.full == true' "$tmp/r5.json"
same_disks "after a missing copy"
