#!/usr/bin/env bash
# vs-cbt's warm cycle against the simulator's change tracking (a digest
# per 64 KiB block per changeId): a VM with a 64 MiB and a 200 MiB disk;
# cycle 1 copies every allocated area, then three times guest writes at
# scattered offsets (4 KiB writes, 3 MiB runs across block boundaries, the
# last byte) and a cycle --since the previous records.  After each cycle
# the copies are identical to the disks (sha256), the records cover
# exactly the blocks the writes touched (computed here, independently),
# the bytes the server's /folder served are at most those, the query
# paged, and the VM has no snapshot left.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version
requires python3 --version

block=65536
vm=DC0_H0_VM0
s1=$(( 64 * 1048576 )) s2=$(( 200 * 1048576 ))
span=$(( 8 * 1048576 ))
trace=$tmp/trace
cbt_start "$vm=$s1,$s2" -cbt-span "$span" -trace-file "$trace"
cbt_disk "$vm" 1 "$s1"
cbt_disk "$vm" 2 "$s2"
f1=$(cbt_flat "$vm" 1) f2=$(cbt_flat "$vm" 2)
# Holes: 50 MiB of disk 2 and the tail of disk 1 are zeros, which "*"
# does not report.
dd if=/dev/zero of="$f2" bs=1M seek=100 count=50 conv=notrunc status=none
dd if=/dev/zero of="$f1" bs=1M seek=60 count=4 conv=notrunc status=none

mapfile -t keys < <(vs-ls --vm "$vm" | jq -r '.disks[].key')
is "the VM has two disks" "${#keys[@]}" 2
k1=${keys[0]} k2=${keys[1]}
declare -A flat=([$k1]=$f1 [$k2]=$f2) cap=([$k1]=$s1 [$k2]=$s2)

EXPECT_STATUS=1 expect_fail "--snapshot with CBT off is refused" \
  "Changed Block Tracking is off: run 'vs-cbt --vm NAME --enable' first" \
  vs-cbt --vm "$vm" --snapshot
is "the refusal left no snapshot" "$(snapshots "$vm" | wc -l)" 0
ok "--enable" vs-cbt --vm "$vm" --enable
ok "--enable says when tracking starts" \
  bash -c "vs-cbt --vm '$vm' --enable 2>&1 | grep -q 'already on'"
jq_ok "CBT is on, with a changeId per disk" \
  '.cbt == true and ([.disks[].change_id | select(. != null)] | length) == 2' \
  <(vs-ls --vm "$vm")

# Bytes of the 64 KiB blocks that the writes in FILE ("disk offset length"
# lines)
# touch, clipped to each disk's capacity: what CBT must report.
touched ()
{
  python3 - "$1" "$block" "$k1:$s1" "$k2:$s2" <<'EOF'
import sys
block = int(sys.argv[2])
caps = dict((int(k), int(c)) for k, c in (a.split(':') for a in sys.argv[3:]))
blocks = set()
for line in open(sys.argv[1]):
    d, off, n = map(int, line.split())
    for b in range(off // block, (off + n - 1) // block + 1):
        blocks.add((d, b))
print(sum(min(block, caps[d] - b * block) for d, b in blocks))
EOF
}

# The allocated (non-zero) blocks of a file, in bytes.
in_use ()
{
  python3 - "$1" "$block" <<'EOF'
import sys
path, block = sys.argv[1], int(sys.argv[2])
n = 0
with open(path, 'rb') as f:
    while True:
        b = f.read(block)
        if not b:
            break
        if b.count(0) != len(b):
            n += len(b)
print(n)
EOF
}

calls () { grep -c '<QueryChangedDiskAreas' "$trace" || true; }

# cycle N [--since FILE]: snapshot, pull each disk, release.
cycle ()
{
  local n=$1 k; shift
  vs-cbt -v --vm "$vm" --snapshot "$@" > "$tmp/c$n.jsonl" 2> "$tmp/c$n.err" || return 1
  for k in "${keys[@]}"; do
    jq -c --argjson k "$k" 'select(.disk == $k and .length > 0)' "$tmp/c$n.jsonl" > "$tmp/c$n.$k"
    if [ -s "$tmp/c$n.$k" ]; then
      vs-pull --patch "$tmp/$k.raw" < "$tmp/c$n.$k" || return 1
    fi
  done
  vs-cbt --vm "$vm" --release < "$tmp/c$n.jsonl"
}

check_cycle ()  # N EXPECTED-BYTES FETCHED CALLS
{
  local n=$1 want=$2 got=$3 ncalls=$4 k
  for k in "${keys[@]}"; do
    is "cycle $n: disk $k identical (sha256)" "$(sha256 "$tmp/$k.raw")" "$(sha256 "${flat[$k]}")"
  done
  is "cycle $n: the VM has no snapshot" "$(snapshots "$vm" | wc -l)" 0
  is "cycle $n: records cover exactly the touched blocks" \
    "$(jq -s 'map(.length) | add' "$tmp/c$n.jsonl")" "$want"
  ok "cycle $n: bytes fetched ($got) at most the changed blocks ($want)" test "$got" -le "$want"
  ok "cycle $n: the query paged ($ncalls calls for $(( (s1 + span - 1) / span + (s2 + span - 1) / span )) spans)" \
    test "$ncalls" -eq $(( (s1 + span - 1) / span + (s2 + span - 1) / span ))
  jq_ok "cycle $n: every record has the fields vs-pull and the next cycle need" \
    '.kind == "extent" and .vm == "'"$vm"'" and (.moref | startswith("vm-")) and (.disk | type) == "number"
     and (.file | endswith("-flat.vmdk")) and .offset >= 0 and .length >= 0 and (.change_id | contains("/"))
     and (.snapshot | startswith("snapshot-")) and .capacity > 0 and .dc_path == "DC0"' "$tmp/c$n.jsonl"
}

# Cycle 1: everything allocated.
b0=$(folder_bytes) q0=$(calls)
ok "cycle 1 (every allocated area)" cycle 1
used=$(( $(in_use "$f1") + $(in_use "$f2") ))
check_cycle 1 "$used" $(( $(folder_bytes) - b0 )) $(( $(calls) - q0 ))
jq_ok "cycle 1: since '*'" '.since == "*"' "$tmp/c1.jsonl"
ok "cycle 1: the copies are sparse where the disks are zeros" \
  test "$(du -k "$tmp/$k2.raw" | cut -f1)" -lt $(( (s2 - 40 * 1048576) / 1024 ))

# Three cycles of scattered guest writes.
prev=1
for n in 2 3 4; do
  : > "$tmp/w$n"
  write () { guest_write "$vm" "$1" "$2" "$3"; echo "${keys[$(( $1 - 1 ))]} $2 $3" >> "$tmp/w$n"; }
  for i in 1 2 3 4 5; do
    write 1 $(( (RANDOM * 32768 + RANDOM) % (s1 - 4096) )) 4096
    write 2 $(( (RANDOM * 32768 + RANDOM) % (s2 - 4096) )) 4096
  done
  write 2 $(( n * 20 * 1048576 + 1000 )) $(( 3 * 1048576 ))      # a 3 MiB run across blocks
  write 1 $(( n * 5 * 1048576 + block - 10 )) $(( 3 * 1048576 ))  # starting 10 bytes before a boundary
  write 2 $(( s2 - 1 )) 1                                          # the last byte
  [ "$n" != 3 ] || write 1 $(( s1 - 1 )) 1
  b0=$(folder_bytes) q0=$(calls)
  ok "cycle $n --since the records of cycle $prev" cycle "$n" --since "$tmp/c$prev.jsonl"
  check_cycle "$n" "$(touched "$tmp/w$n")" $(( $(folder_bytes) - b0 )) $(( $(calls) - q0 ))
  for k in "${keys[@]}"; do
    is "cycle $n: disk $k: since is cycle $prev's change id" \
      "$(jq -r --argjson k "$k" 'select(.disk == $k) | .since' "$tmp/c$n.jsonl" | sort -u)" \
      "$(jq -r --argjson k "$k" 'select(.disk == $k) | .change_id' "$tmp/c$prev.jsonl" | sort -u)"
  done
  prev=$n
done

# No change at all: one record per disk, of length 0, carrying the new
# change id; nothing fetched.
b0=$(folder_bytes)
ok "a cycle with no change" cycle 5 --since "$tmp/c4.jsonl"
is "no change: one record per disk" "$(jq -s 'length' "$tmp/c5.jsonl")" 2
jq_ok "no change: length 0, a new change id" '.length == 0 and .offset == 0 and .since != .change_id' "$tmp/c5.jsonl"
is "no change: nothing fetched" $(( $(folder_bytes) - b0 )) 0
is "no change: no snapshot left" "$(snapshots "$vm" | wc -l)" 0

# --since CHANGEID with --disk: one disk, from a change id given as text.
guest_write "$vm" 1 4096 100
id=$(jq -r --argjson k "$k1" 'select(.disk == $k) | .change_id' "$tmp/c5.jsonl")
ok "--disk KEY --since CHANGEID" eval 'vs-cbt --vm "$vm" --snapshot --disk "$k1" --since "$id" > "$tmp/c6.jsonl"'
jq_ok "--disk: only that disk, the one block written" \
  '.disk == '"$k1"' and .offset == 0 and .length == '"$block" "$tmp/c6.jsonl"
jq -c 'select(.length > 0)' "$tmp/c6.jsonl" | vs-pull --patch "$tmp/$k1.raw"
ok "--release of it" vs-cbt --vm "$vm" --release < "$tmp/c6.jsonl"
ok "--release again is safe" vs-cbt --vm "$vm" --release < "$tmp/c6.jsonl"
same_file "--disk cycle: disk 1 identical" "$tmp/$k1.raw" "$f1"
is "--disk cycle: no snapshot left" "$(snapshots "$vm" | wc -l)" 0
EXPECT_STATUS=1 expect_fail "--since CHANGEID without --disk on a VM with two disks" \
  "say which with --disk KEY" vs-cbt --vm "$vm" --snapshot --since "$id"
is "no snapshot left" "$(snapshots "$vm" | wc -l)" 0
