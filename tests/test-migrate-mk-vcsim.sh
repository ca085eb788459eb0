#!/usr/bin/env bash
# migrate.mk with the real scripts/h2k-migrate against the simulator: three
# VMs with small flat disks (h2k-vcsim -vm-disk), make -j3, h2k-migrate
# --no-fix; one VM's disk file is taken out of the datastore, so its
# migration fails: make -k goes on, the summary names it with its step and
# h2k-migrate's message; the file put back, a rerun migrates only that VM
# (one more attempt in its log and none in the others', the others'
# results untouched); a third run does nothing.  Oracles: the simulator's
# disks (qemu-img compare), qemu-img check, jq, make.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires make --version
requires jq --version
requires qemu-img --version
requires qemu-io --version

MK=$H2K_TOP/scripts/migrate.mk
cd "$tmp"

# Three VMs, each a 4 MiB flat disk (a vmfs descriptor and its -flat file)
# with data of its own.
vms=("web 01" db01 mail)
args=()
for i in 0 1 2; do
  n=h2kdisk$i
  mkdir -p "src/$n"
  truncate -s 4M "src/$n/$n-flat.vmdk"
  qemu-io -f raw -c "write -P 0x$((41 + i)) 0 1M" -c "write -P 0x5$i 3M 64k" "src/$n/$n-flat.vmdk" >/dev/null
  printf '%s\n' '# Disk DescriptorFile' 'version=1' 'CID=fffffffe' 'parentCID=ffffffff' \
    'createType="vmfs"' '' '# Extent description' "RW 8192 VMFS \"$n-flat.vmdk\"" > "src/$n/$n.vmdk"
  args+=(-vm-disk "${vms[$i]}=$tmp/src/$n/$n.vmdk")
done
printf '%s\n' "${vms[@]}" > vms.txt

secret=Batch-pw-4711
printf '%s\n' "$secret" > pw
start_vcsim -username batch -password "$secret" "${args[@]}"
unset GOVC_PASSWORD
export GOVC_URL=$VCSIM_URL GOVC_USERNAME=batch GOVC_INSECURE=1
flags="--no-fix --password-file=$tmp/pw"
run_batch () { make -f "$MK" -j3 -k VMLIST=vms.txt OUT=out H2K_MIGRATE="$H2K_TOP/scripts/h2k-migrate" FLAGS="$flags"; }

# db01's disk, as the datastore holds it, taken away.
flat=$(find "$VCSIM_DS_0_DIR" -name h2kdisk1-flat.vmdk)
[ -f "$flat" ] && pass "the simulator holds db01's disk" || fail "db01's disk is not in the datastore"
mv "$flat" "$tmp/held-back"

st=0
run_batch > summary.txt 2> make.log || st=$?
[ "$st" -ne 0 ] && pass "a failed VM fails the batch (exit $st)" || fail "a failed VM fails the batch"
ok "the summary: web 01 migrated" grep -qx 'migrated  web 01' summary.txt
ok "the summary: mail migrated" grep -qx 'migrated  mail' summary.txt
ok "the summary: db01 failed, with h2k-migrate's step and message" \
  grep -qE "^failed    db01  \(h2k-migrate [a-z]+: h2k-migrate: 'db01': .+\)$" summary.txt
ok "the summary's count" grep -qx 'migrate.mk: 2 migrated, 1 failed, 0 skipped (logs in out/logs/)' summary.txt
ok "db01's log says what failed" grep -q "db01.*failed" out/logs/db01.log
jq_ok "db01: migration.json names the failed step" '.status != "done" and (.failed_step | type == "string")' out/db01/migration.json
for i in 0 2; do
  vm=${vms[$i]}
  jq_ok "$vm: migration.json says done" '.status == "done" and .vm == $vm' "out/$vm/migration.json" --arg vm "$vm"
  d=$(jq -r '.disks[0].file' "out/$vm/migration.json")
  ok "$vm: the disk is the simulator's" qemu-img compare -q -f raw "src/h2kdisk$i/h2kdisk$i-flat.vmdk" "out/$vm/$d"
  ok "$vm: qemu-img check" qemu-img check -q "out/$vm/$d"
  ok "$vm: domain.xml" test -s "out/$vm/domain.xml"
done
ok "the password is in no file" sh -c '! grep -rqF -- "$1" out summary.txt make.log' _ "$secret"
attempts () { grep -c '^== .* h2k-migrate$' "out/logs/$1.log"; }
is "one attempt each" "$(attempts 'web 01') $(attempts db01) $(attempts mail)" "1 1 1"
before_web=$(stat -c '%.9Y' "out/web 01/migration.json")
before_mail=$(stat -c '%.9Y' out/mail/migration.json)

# The disk back: the rerun migrates db01 only.
mv "$tmp/held-back" "$flat"
st=0
run_batch > rerun.txt 2> rerun.log || st=$?
is "the rerun succeeds" "$st" 0
ok "... its summary" grep -qx 'migrate.mk: 3 migrated, 0 failed, 0 skipped (logs in out/logs/)' rerun.txt
is "... it migrated db01 only" "$(grep -c ': migrating$' rerun.log) $(grep -c '^migrate.mk: db01: migrating$' rerun.log)" "1 1"
is "... one more attempt in db01's log, none in the others'" "$(attempts 'web 01') $(attempts db01) $(attempts mail)" "1 2 1"
is "... the others' results untouched" \
  "$(stat -c '%.9Y' "out/web 01/migration.json") $(stat -c '%.9Y' out/mail/migration.json)" "$before_web $before_mail"
jq_ok "db01: done" '.status == "done"' out/db01/migration.json
d=$(jq -r '.disks[0].file' out/db01/migration.json)
ok "db01: the disk is the simulator's" qemu-img compare -q -f raw src/h2kdisk1/h2kdisk1-flat.vmdk "out/db01/$d"

st=0
run_batch > third.txt 2> third.log || st=$?
is "a third run succeeds" "$st" 0
is "... and migrates nothing" "$(grep -c ': migrating$' third.log || true)" 0
