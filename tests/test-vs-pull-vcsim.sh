#!/usr/bin/env bash
# vs-pull against the vCenter simulator's /folder: datastore paths through
# a real SOAP session, to files, stdout and ranges; VM records from
# vs-ls --chain (odd names included); extent records; a snapshot chain
# checked with vmdk-flatten against qemu-img; --verify from an earlier
# pull's records; a session that expires in the middle (the fault server
# fronting the simulator); TLS pinning; bad credentials.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires python3 --version
requires openssl version

secret=pw-Secret-4711
start_vcsim -odd -ds 2 -username admin -password "$secret"
export GOVC_INSECURE=1
ds0=$VCSIM_DS_0_DIR
vm=DC0_H0_VM1
flat=$ds0/$vm/disk1-flat.vmdk

# A real disk behind the simulated VM: 8 MiB with a zero area.
{ head -c 3M /dev/urandom; head -c 2M /dev/zero; head -c 3M /dev/urandom; } > "$flat"
cat > "$ds0/$vm/disk1.vmdk" <<'EOF'
# Disk DescriptorFile
version=1
CID=fffffffe
parentCID=ffffffff
createType="vmfs"

# Extent description
RW 16384 VMFS "disk1-flat.vmdk"

# The Disk Data Base
ddb.adapterType = "lsilogic"
ddb.virtualHWVersion = "13"
EOF
want=$(sha256 "$flat")
src="[LocalDS_0] $vm/disk1-flat.vmdk"
mkdir -p "$tmp/out"

# Datastore paths.
ok "a datastore path to -o FILE" vs-pull -o "$tmp/out/f" "$src"
same_file "bit-identical to the datastore file" "$tmp/out/f" "$flat"
vs-pull -j 8 --chunk-size 256K --sha256 --dir "$tmp/out/d" "$src" > "$tmp/sum"
is "-j 8 with small chunks, --sha256" "$(cut -d' ' -f1 "$tmp/sum")" "$want"
same_file "-j 8: bit-identical" "$tmp/out/d/disk1-flat.vmdk" "$flat"
is "to stdout" "$(vs-pull -o - "$src" | sha256sum | cut -d' ' -f1)" "$want"
vs-pull --range 4096:8192 --range 5M:1M -o "$tmp/out/r" "$src"
{ dd if="$flat" bs=4096 skip=1 count=2 status=none
  dd if="$flat" bs=1M skip=5 count=1 status=none; } > "$tmp/out/r.want"
same_file "--range from a datastore file" "$tmp/out/r" "$tmp/out/r.want"
ok "--datacenter is used for dcPath" vs-pull --datacenter DC0 -o "$tmp/out/dc" "$src"

# VM records from vs-ls --chain.
vs-ls --chain --vm "$vm" > "$tmp/rec.jsonl"
vs-pull --dir "$tmp/out/vms" --sha256 < "$tmp/rec.jsonl" > "$tmp/rec.out"
jq_ok "the record comes back with disks[].local" \
  ".disks[0].local == \"$tmp/out/vms/$vm/disk1.vmdk\"" "$tmp/rec.out"
jq_ok "local_files lists the descriptor and the flat file with digests" \
  "[.disks[0].local_files[] | select(.sha256)] | length == 2" "$tmp/rec.out"
is "every other field passes through unchanged" \
  "$(jq -cS 'del(.disks[].local, .disks[].local_files)' "$tmp/rec.out")" \
  "$(jq -cS . "$tmp/rec.jsonl")"
same_file "the VM's flat file" "$tmp/out/vms/$vm/disk1-flat.vmdk" "$flat"
if command -v vmdk-flatten >/dev/null; then
  vmdk-flatten "$(jq -r '.disks[0].local' "$tmp/rec.out")" "$tmp/out/flat.raw"
  same_file "vmdk-flatten reads the pulled disk as the original" "$tmp/out/flat.raw" "$flat"
fi

# --verify against the earlier pull's record; a changed file is caught.
ok "--verify with the checksums of an earlier pull" \
  quiet vs-pull --verify --dir "$tmp/out/again" < "$tmp/rec.out"
# (a byte other than the one there: random data holds an 'X' one time in 256)
if [ "$(od -An -tx1 -j100 -N1 "$flat" | tr -d ' ')" = 58 ]; then c=Y; else c=X; fi
printf '%s' "$c" | dd of="$flat" bs=1 seek=100 conv=notrunc status=none
EXPECT_STATUS=1 expect_fail "--verify catches a changed file" "disk1-flat.vmdk: SHA-256 mismatch" \
  vs-pull --verify --dir "$tmp/out/again2" < "$tmp/rec.out"
dd if="$tmp/out/f" of="$flat" bs=1 skip=100 seek=100 count=1 conv=notrunc status=none

# Every VM, odd names included: nothing escapes DIR.
vs-ls --chain > "$tmp/all.jsonl"
ok "all VMs of the odd inventory" quiet vs-pull --dir "$tmp/out/all" < "$tmp/all.jsonl"
vs-pull --dir "$tmp/out/all" < "$tmp/all.jsonl" > "$tmp/all.out"
is "one record out per record in" "$(wc -l < "$tmp/all.out")" "$(wc -l < "$tmp/all.jsonl")"
[ -d "$tmp/out/all/_.._.._x" ] && [ ! -e "$tmp/x" ] && [ ! -e "$tmp/out/x" ] \
  && pass 'the VM "../../x" stays inside DIR' || fail 'the VM "../../x" stays inside DIR'
jq_ok "every local path is inside DIR" \
  "[.[] | .disks[].local_files[].local | startswith(\"$tmp/out/all/\") and (contains(\"/../\") | not)] | all" \
  "$tmp/all.out" -s
jq_ok "disks on a second datastore" \
  '[.[] | .disks[].local_files[].file | select(startswith("[LocalDS_1]"))] | length > 0' \
  "$tmp/all.out" -s

# Extent records patched into a target.
jq -nc --arg f "$src" '{kind:"extent",vm:"x",disk:2000,file:$f,offset:0,length:65536},
  {kind:"extent",vm:"x",disk:2000,file:$f,offset:6291456,length:131072}' > "$tmp/ext.jsonl"
ok "extent records --patch from the datastore" vs-pull --patch "$tmp/out/target" < "$tmp/ext.jsonl"
is "the target has the disk's size" "$(stat -c %s "$tmp/out/target")" "$(stat -c %s "$flat")"
cmp -s <(head -c 65536 "$tmp/out/target") <(head -c 65536 "$flat") \
  && cmp -s <(dd if="$tmp/out/target" bs=64k skip=96 count=2 status=none) \
            <(dd if="$flat" bs=64k skip=96 count=2 status=none) \
  && pass "the extents were patched in" || fail "the extents were patched in"

# A snapshot chain: base (descriptor + flat) and a sparse child, pulled
# from a record and flattened, against qemu-img's view of the same chain.
if command -v qemu-img >/dev/null && command -v vmdk-flatten >/dev/null; then
  d=$ds0/$vm
  qemu-img create -q -f vmdk -o subformat=monolithicFlat "$d/base.vmdk" 4M
  qemu-io -c 'write -P 0x41 0 1M' -c 'write -P 0x42 3M 512k' "$d/base.vmdk" >/dev/null
  qemu-img create -q -f vmdk -b base.vmdk -F vmdk "$d/child.vmdk"
  qemu-io -c 'write -P 0x43 512k 1M' "$d/child.vmdk" >/dev/null
  qemu-img convert -O raw "$d/child.vmdk" "$tmp/out/chain.want"
  jq -c --arg b "[LocalDS_0] $vm/base.vmdk" --arg c "[LocalDS_0] $vm/child.vmdk" \
    '.disks[0].file = $c | .disks[0].chain = [$b, $c] | del(.disks[0].chain_files)' \
    "$tmp/rec.jsonl" > "$tmp/chain.jsonl"
  vs-pull --dir "$tmp/out/chain" < "$tmp/chain.jsonl" > "$tmp/chain.out"
  jq_ok "the base's flat extent was found through its descriptor" \
    '[.disks[0].local_files[].file] | index("[LocalDS_0] DC0_H0_VM1/base-flat.vmdk") != null' \
    "$tmp/chain.out"
  vmdk-flatten "$(jq -r '.disks[0].local' "$tmp/chain.out")" "$tmp/out/chain.raw"
  same_file "the pulled chain flattens to what qemu-img reads" "$tmp/out/chain.raw" "$tmp/out/chain.want"
else
  skip "snapshot chain (needs qemu-img and vmdk-flatten)"
fi

# A session that expires while the file moves: the fault server fronts the
# simulator (SOAP passes through) and refuses the cookie every 4 requests.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
  -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
python3 "$H2K_TOP/tests/faultserver.py" --root "$ds0" --upstream "$VCSIM_URL" \
  --cert "$tmp/cert.pem" --key "$tmp/key.pem" --require-cookie vmware_soap_session \
  --expire-after 4 --drop-every 2000000 --lifetime 300 > "$tmp/fs.out" 2>"$tmp/fs.err" &
cleanup_fn kill $!
for _ in $(seq 100); do grep -q PORT= "$tmp/fs.out" 2>/dev/null && break; sleep 0.1; done
fport=$(sed -n 's/PORT=//p' "$tmp/fs.out")
GOVC_URL=https://127.0.0.1:$fport/sdk GOVC_USERNAME=admin GOVC_PASSWORD=$secret \
  vs-pull -v --chunk-size 256K --retry-wait 0.02 -o "$tmp/out/renew" "$src" 2> "$tmp/renew.err" || true
same_file "a session that expires mid-transfer is renewed" "$tmp/out/renew" "$flat"
grep -qE 'renewals=[1-9]' "$tmp/renew.err" && pass "renewals were counted" \
  || fail "renewals were counted"
diag "$(grep 'faults survived' "$tmp/renew.err")"

# TLS pinning and credentials.
ok "a matching thumbprint (no --insecure)" \
  env -u GOVC_INSECURE vs-pull --thumbprint "$VCSIM_THUMBPRINT" -o "$tmp/out/pin" "$src"
EXPECT_STATUS=1 expect_fail "a wrong thumbprint" "thumbprint" \
  env -u GOVC_INSECURE vs-pull --thumbprint "00:${VCSIM_THUMBPRINT:3}" -o "$tmp/out/pin2" "$src"
EXPECT_STATUS=1 expect_fail "the simulator's certificate is not trusted by default" "certif" \
  env -u GOVC_INSECURE vs-pull -o "$tmp/out/pin3" "$src"
echo wrong-password > "$tmp/pw"
EXPECT_STATUS=1 expect_fail "a wrong password" "InvalidLogin|login" \
  vs-pull --password-file "$tmp/pw" -o "$tmp/out/pw" "$src"
EXPECT_STATUS=1 expect_fail "a file that is not there" "nope\.vmdk: server answered 404" \
  vs-pull -o "$tmp/out/nf" "[LocalDS_0] $vm/nope.vmdk"
EXPECT_STATUS=1 expect_fail "a datastore that is not there" "server answered 404" \
  vs-pull -o "$tmp/out/nf" "[NoSuchDS] $vm/disk1.vmdk"
EXPECT_STATUS=1 expect_fail "datastore paths and URLs in one run" "cannot be pulled in the same run" \
  vs-pull --dir "$tmp/out/mix" "$src" "https://127.0.0.1:1/x"
out=$(vs-pull --password-file "$tmp/pw" -v -o "$tmp/out/pw" "$src" 2>&1 || true;
      vs-pull -v -o - "$src" 2>&1 >/dev/null || true)
[[ "$out" != *"$secret"* ]] && pass "the password never appears in any output" \
  || fail "the password never appears in any output"
