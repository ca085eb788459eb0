#!/usr/bin/env bash
# migrate.mk HOSTS=FILE: GNU parallel over SSH to two conversion hosts,
# two sshd started here on 127.0.0.2 and 127.0.0.3 (key only, their own
# host keys and ports): three VMs, each host converts at least one, every
# result is complete; then one host stopped: it is reported, and its VMs
# are migrated on the other.  h2k-migrate is played by a stand-in with its
# interface that records where it ran (SSH_CONNECTION).  Oracles: sshd,
# GNU parallel's job log, jq, qemu-img check.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
. "$H2K_TOP/tests/helpers/sshd.sh"
requires parallel --version
requires ssh -V
requires test -x /usr/sbin/sshd
requires jq --version
requires qemu-img --version
requires_root

MK=$H2K_TOP/scripts/migrate.mk
cd "$tmp"
sshd_setup "$tmp/ssh"
sshd_start 127.0.0.2
sshd_start 127.0.0.3
sshd_hosts_file hosts.txt 127.0.0.2 127.0.0.3
ok "sshd on 127.0.0.2 takes the key" sshd_wait_up 60 127.0.0.2
ok "sshd on 127.0.0.3 takes the key" sshd_wait_up 60 127.0.0.3

make_stand_in_migrate "$tmp/h2k-migrate"
export MIGRATE_CALLS=$tmp/calls
: > calls
odd='web $(touch pwned) "q"'
printf '%s\n' "$odd" 'db 01' mail > vms.txt

ok "three VMs over two hosts" bash -c '"$@" > /dev/null' _ make -s -f "$MK" VMLIST=vms.txt OUT="$tmp/out" HOSTS=hosts.txt \
  H2K_MIGRATE="$tmp/h2k-migrate" PASS_ENV="PATH MIGRATE_CALLS"
[ ! -e pwned ] && [ ! -e ~/pwned ] && pass "no name reached a shell, here or there" || fail "a name reached a shell"
is "each VM migrated once" "$(cut -f1 calls | sort | tr '\n' /)" "$(sort vms.txt | tr '\n' /)"
is "... over ssh" "$(cut -f2 calls | grep -c '^127\.0\.0\.[23]$')" 3
ok "127.0.0.2 converted at least one" grep -q $'\t127.0.0.2$' calls
ok "127.0.0.3 converted at least one" grep -q $'\t127.0.0.3$' calls
while IFS= read -r vm; do
  ok "$vm: complete" jtest '.status == "done"' "out/$vm/migration.json"
  ok "$vm: its disk passes qemu-img check" qemu-img check -q "out/$vm/disk.qcow2"
  ok "$vm: its log" grep -q "h2k-migrate on" "out/logs/$vm.log"
done < vms.txt

# 127.0.0.3 stopped: reported, and its VMs go to 127.0.0.2.
sshd_stop 127.0.0.3
down () { ! sshd_up 127.0.0.3; }
ok "127.0.0.3 is down" wait_for 60 down
: > calls
printf '%s\n' one two three > more.txt
st=0
make -s -f "$MK" VMLIST=more.txt OUT="$tmp/out" HOSTS=hosts.txt H2K_MIGRATE="$tmp/h2k-migrate" \
  PASS_ENV="PATH MIGRATE_CALLS" > s2.txt 2> e2.txt || st=$?
is "the batch still succeeds" "$st" 0
ok "the host that is down is reported" grep -q "host root@127.0.0.3: unreachable (.*): its VMs go to the other hosts" e2.txt
is "every VM migrated, on 127.0.0.2" "$(sort calls | tr '\n' /)" $'one\t127.0.0.2/three\t127.0.0.2/two\t127.0.0.2/'
ok "the summary" grep -qx 'migrate.mk: 3 migrated, 0 failed, 0 skipped (logs in /.*/out/logs/)' s2.txt
ok "refused: GOVC_PASSWORD on the ssh command line" bash -c '! GOVC_PASSWORD=x make -s -f "$1" VMS=z OUT="$2" HOSTS=hosts.txt H2K_MIGRATE="$3" 2>&1 | grep -q "would travel on the ssh command line" && exit 1 || exit 0' _ "$MK" "$tmp/out" "$tmp/h2k-migrate"
