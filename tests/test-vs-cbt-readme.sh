#!/usr/bin/env bash
# The README's warm-migration walkthroughs (## vs-cbt and ## h2k-sync),
# run as they are written against the simulator, with guest writes
# between the steps: the converted disks equal the VM's (qemu-img
# compare), the raw copies are identical, and nothing is left on the
# vCenter.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$H2K_TOP/tests/vcsim/cbt-helpers.sh"
requires jq --version
requires curl --version
requires qemu-img --version
PATH=$H2K_TOP/scripts:$PATH

# blocks SECTION: the README's ```sh blocks of "## SECTION" as files
# $tmp/SECTION.1, $tmp/SECTION.2 ...; prints how many.
blocks ()
{
  awk -v sec="## $1" -v out="$tmp/$1." '
    /^## / { insec = ($0 == sec); next }
    insec && /^```sh$/ { n++; f = out n; inb = 1; printf "" > f; next }
    insec && inb && /^```$/ { inb = 0; close(f); next }
    insec && inb { print > f }
    END { print n + 0 }
  ' "$H2K_TOP/README.md"
}

vm=DC0_H0_VM0 vm2=DC0_H0_VM1
s1=$(( 8 * 1048576 )) s2=$(( 4 * 1048576 ))
cbt_start "$vm=$s1,$s2" -cbt-disks "$vm2=$s1"
cbt_disk "$vm" 1 "$s1"
cbt_disk "$vm" 2 "$s2"
cbt_disk "$vm2" 1 "$s1"
mapfile -t keys < <(vs-ls --vm "$vm" | jq -r '.disks[].key')
declare -A flat=([${keys[0]}]=$(cbt_flat "$vm" 1) [${keys[1]}]=$(cbt_flat "$vm" 2))

# ## vs-cbt: four blocks, the second being cycle.sh.
is "## vs-cbt has its four blocks" "$(blocks vs-cbt)" 4
mkdir "$tmp/work"
run_block ()  # FILE
{
  (cd "$tmp/work" && sed "s/web01/$vm/g" "$1" | bash -euo pipefail)
}
ok "block 1: enable, the first cycle" run_block "$tmp/vs-cbt.1"
sed "s/web01/$vm/g" "$tmp/vs-cbt.2" > "$tmp/work/cycle.sh"
ok "block 2 is cycle.sh" grep -q '^# cycle.sh' "$tmp/work/cycle.sh"
guest_write "$vm" 1 123456 70000
guest_write "$vm" 2 $(( s2 - 1 )) 1
ok "block 3: two incremental cycles" run_block "$tmp/vs-cbt.3"
jq_ok "block 3: the first of them found the writes" \
  '[.[] | .length] | add == 3 * 65536' "$tmp/work/c2.jsonl" --slurp
guest_write "$vm" 1 $(( 5 * 1048576 )) 1048576
ok "block 4: the cut-over" eval 'run_block "$tmp/vs-cbt.4" > "$tmp/cutover.out"'
is "block 4: --list-stale prints nothing" "$(wc -c < "$tmp/cutover.out")" 0
is "the VM is off" "$(vs-ls --vm "$vm" | jq -r .power_state)" poweredOff
for k in "${keys[@]}"; do
  same_file "disk $k: the raw copy is identical" "$tmp/work/$k.raw" "${flat[$k]}"
  ok "disk $k: the qcow2 equals the VM's disk (qemu-img compare)" \
    qemu-img compare -q -f qcow2 -F raw "$tmp/work/$vm-$k.qcow2" "${flat[$k]}"
done
is "no snapshot on the VM" "$(snapshots "$vm" | wc -l)" 0

# ## h2k-sync: one block, run a line at a time, with a guest write before
# each h2k-sync run.
is "## h2k-sync has its block" "$(blocks h2k-sync)" 1
n=0
while IFS= read -r line; do
  n=$(( n + 1 ))
  case $line in
    h2k-sync*) guest_write "$vm2" 1 $(( n * 1048576 + 100 )) 5000 ;;
  esac
  line=${line//\/srv\/h2k/$tmp/srv/h2k}
  line=${line//web01/$vm2}
  ok "h2k-sync block, line $n: $line" eval "$line > \"\$tmp/line$n.out\""
done < "$tmp/h2k-sync.1"
k2=$(vs-ls --vm "$vm2" | jq -r '.disks[0].key')
is "the last line lists the copy" "$(cat "$tmp/line$n.out")" "$tmp/srv/h2k/$vm2/$k2.raw"
same_file "h2k-sync: the copy is identical" "$tmp/srv/h2k/$vm2/$k2.raw" "$(cbt_flat "$vm2" 1)"
jq_ok "h2k-sync: the final run's report" '.final == true and .bytes_changed == 65536' "$tmp/line4.out"
is "h2k-sync: the VM is off" "$(vs-ls --vm "$vm2" | jq -r .power_state)" poweredOff
is "h2k-sync: no snapshot" "$(snapshots "$vm2" | wc -l)" 0
