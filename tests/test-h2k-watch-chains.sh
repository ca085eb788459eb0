#!/usr/bin/env bash
# h2k-watch and the parents of qcow2, VHD and VHDX disks, found with
# img-convert --list-files (the chain layer the conversion uses): a qcow2
# chain of three, a qcow2 over a raw backing file, a differencing VHD and a
# differencing VHDX (tests/readers/mkvhd*diff.py: qemu-img cannot write
# those), each converted once as one chain, its parents never on their
# own, all its files its sources; a missing parent named in .errors/ by
# --once, waited for by a watcher and converted once it arrives; a
# settled parent held while a qcow2 that names it is still being copied;
# a backing file outside DIR read in place and left there.  And
# img-convert --list-files itself.  Oracles: qemu-img compare and check,
# the readers' expected bytes, jq.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires qemu-img --version
requires qemu-io --version
requires jq --version
requires python3 --version
requires setsid --version

W=$H2K_WATCH
R=$H2K_TOP/tests/readers
cd "$tmp"
mkdir stage drop

# --- img-convert --list-files --------------------------------------------
b='b a$(touch pwned)se'
qemu-img create -q -f qcow2 "stage/$b.qcow2" 8M
pattern "stage/$b.qcow2" 0x11 qcow2 0 2M
qemu-img create -q -f qcow2 -b "$b.qcow2" -F qcow2 stage/mid.qcow2
pattern stage/mid.qcow2 0x22 qcow2 1M 3M
qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 "stage/t op.qcow2"
pattern "stage/t op.qcow2" 0x33 qcow2 4M
is "--list-files: the chain, top first" "$(img-convert --list-files "stage/t op.qcow2" | tr '\n' /)" \
  "stage/t op.qcow2/stage/mid.qcow2/stage/$b.qcow2/"
is "-z: NUL-terminated" "$(img-convert --list-files -z "stage/t op.qcow2" | tr '\0' /)" \
  "stage/t op.qcow2/stage/mid.qcow2/stage/$b.qcow2/"
make_chain stage vm
is "--list-files: a VMDK's extents and parents" "$(img-convert --list-files stage/vm-000001.vmdk | tr '\n' /)" \
  "stage/vm-000001.vmdk/stage/vm.vmdk/stage/vm-flat.vmdk/"
mkdir lone
cp stage/mid.qcow2 lone/
st=0; img-convert --list-files lone/mid.qcow2 > lone.out 2> lone.err || st=$?
is "a missing parent: exit 1" "$st" 1
is "... listed where it was looked for, last" "$(tr '\n' / < lone.out)" "lone/mid.qcow2/lone/$b.qcow2/"
ok "... and named in the message" grep -qF "lone/mid.qcow2: parent not found: lone/$b.qcow2" lone.err
EXPECT_STATUS=2 expect_fail "-z without --list-files" "-z applies to --list-files only" img-convert -z a b
EXPECT_STATUS=2 expect_fail "--list-files takes one file" "expected one INPUT" img-convert --list-files a b
EXPECT_STATUS=1 expect_fail "--list-files on a directory" "stage: is a directory" \
  img-convert --list-files stage

# --- The chains, --once ----------------------------------------------------
# A qcow2 over a raw backing file.
qemu-img create -q -f raw stage/base.raw 4M
pattern stage/base.raw 0x44 raw 0
qemu-img create -q -f qcow2 -b base.raw -F raw stage/over.qcow2
pattern stage/over.qcow2 0x55 qcow2 2M
# A differencing VHD on a dynamic one, and a differencing VHDX.
qemu-img create -q -f vpc "stage/p v.vhd" 8M
qemu-io -f vpc -c 'write -P 0x66 0 8M' "stage/p v.vhd" >/dev/null
qemu-img create -q -f vpc "stage/c v.vhd" 8M
qemu-io -f vpc -c 'write -P 0x77 1M 3M' "stage/c v.vhd" >/dev/null
qemu-img create -q -f vhdx -o block_size=1M stage/px.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x88 0 8M' stage/px.vhdx >/dev/null
qemu-img create -q -f vhdx -o block_size=1M stage/cx.vhdx 8M
qemu-io -f vhdx -c 'write -P 0x99 0 3M' stage/cx.vhdx >/dev/null
(
  cd stage
  for f in "p v" "c v"; do qemu-img convert -O raw "$f.vhd" "$f.raw"; done
  for f in px cx; do qemu-img convert -O raw "$f.vhdx" "$f.raw"; done
  python3 "$R/mkvhddiff.py" "c v.vhd" "p v.vhd" "c v.raw" "p v.raw" "c v.exp"
  python3 "$R/mkvhdxdiff.py" cx.vhdx px.vhdx cx.raw px.raw cx.exp
)
ok "the VHD is a differencing disk (its parent listed)" \
  bash -c '[ "$(img-convert --list-files "stage/c v.vhd" | tr "\n" /)" = "stage/c v.vhd/stage/p v.vhd/" ]'
ok "the VHDX is a differencing disk (its parent listed)" \
  bash -c '[ "$(img-convert --list-files stage/cx.vhdx | tr "\n" /)" = "stage/cx.vhdx/stage/px.vhdx/" ]'
for f in "$b.qcow2" mid.qcow2 "t op.qcow2" base.raw over.qcow2 "p v.vhd" "c v.vhd" px.vhdx cx.vhdx; do
  cp "stage/$f" drop/
done
out=$tmp/out
ok "--once converts the chains" "$W" --once --no-fix --stable-seconds 1 --out "$out" drop
[ ! -e pwned ] && [ ! -e drop/pwned ] && pass "no name reached a shell" || fail "a name reached a shell"
is "one result per chain, none for a parent" "$(ls "$out" | sort | tr '\n' /)" "c v/cx/over/t op/"
ok "qcow2 chain: converted" converted "$out" "t op"
ok "... the guest's bytes" qemu-img compare -q "stage/t op.qcow2" "$out/t op/t op.qcow2"
ok "... qemu-img check" qemu-img check -q "$out/t op/t op.qcow2"
is "... its three files are its sources" "$(jq -c '[.sources[].file] | sort' "$out/t op/result.json")" \
  "$(jq -nc --arg b "$b.qcow2" '[$b, "mid.qcow2", "t op.qcow2"] | sort')"
ok "qcow2 over raw: the guest's bytes" qemu-img compare -q stage/over.qcow2 "$out/over/over.qcow2"
is "... the raw file is a source" "$(jq -c '[.sources[].file] | sort' "$out/over/result.json")" '["base.raw","over.qcow2"]'
ok "differencing VHD: the chain's bytes" qemu-img compare -q -f raw "stage/c v.exp" "$out/c v/c v.qcow2"
is "... its parent is a source" "$(jq -c '[.sources[].file] | sort' "$out/c v/result.json")" '["c v.vhd","p v.vhd"]'
ok "differencing VHDX: the chain's bytes" qemu-img compare -q -f raw stage/cx.exp "$out/cx/cx.qcow2"
is "... its parent is a source" "$(jq -c '[.sources[].file] | sort' "$out/cx/result.json")" '["cx.vhdx","px.vhdx"]'
is "every file moved to .processed/" "$(ls drop/.processed | sort | tr '\n' /)" \
  "$(printf '%s\n' "$b.qcow2" mid.qcow2 "t op.qcow2" base.raw over.qcow2 "p v.vhd" "c v.vhd" px.vhdx cx.vhdx | sort | tr '\n' /)"

# A missing parent: --once records it in .errors/, naming it.
mkdir miss
cp stage/mid.qcow2 "stage/c v.vhd" miss/
EXPECT_STATUS=1 expect_fail "--once: a missing backing file" "mid.qcow2: .*needs b a.*se.qcow2, which is not in" \
  "$W" --once --no-fix --stable-seconds 1 --retries 0 --out miss/out miss
ok "... in .errors/ with its message" \
  jtest '.step == "collect" and (.message | test("needs b a.*se\\.qcow2, which is not in"))' miss/.errors/mid.qcow2.error.json
ok "a missing VHD parent too" \
  jtest '.step == "collect" and (.message | test("needs p v\\.vhd, which is not in"))' "miss/.errors/c v.vhd.error.json"
is "nothing converted" "$(ls -A miss/out | grep -vc '^\.' || true)" 0

# A backing file outside DIR: read where it is, not moved.
mkdir away
qemu-img create -q -f qcow2 -b "$tmp/stage/base.raw" -F raw away/abs.qcow2
pattern away/abs.qcow2 0x5a qcow2 1M
ok "a backing file outside DIR: converted" "$W" --once --no-fix --stable-seconds 1 --out away/out away
ok "... the guest's bytes" qemu-img compare -q away/.processed/abs.qcow2 away/out/abs/abs.qcow2
ok "... the backing file left where it is" test -f stage/base.raw
is "... and not a source" "$(jq -c '[.sources[].file]' away/out/abs/result.json)" '["abs.qcow2"]'

# --- A watcher --------------------------------------------------------------
mkdir live
start_watcher ()
{
  setsid "$W" -v --no-fix --stable-seconds 6 --retry-delay 1 --out "$tmp/lout" live 2>w.log &
  wpid=$!
  cleanup_fn kill -TERM "$wpid"
  wait_for 60 grep -q 'watching .* into' w.log
}
logged () { grep -qF -- "$1" w.log; }
start_watcher

# The child first: it waits for its parent, then converts with it.
cp "stage/c v.vhd" live/
ok "a differencing VHD waits for its parent" wait_for 60 logged "c v.vhd: needs p v.vhd, which is not in"
ok "... no error file meanwhile" test ! -e "live/.errors/c v.vhd.error.json"
cp "stage/p v.vhd" live/
ok "the chain converts once its parent is there" wait_for 120 converted "$tmp/lout" "c v"
ok "... the chain's bytes" qemu-img compare -q -f raw "stage/c v.exp" "$tmp/lout/c v/c v.qcow2"
[ ! -e "$tmp/lout/p v" ] && pass "... the parent not converted alone" || fail "the parent was converted alone"

# The parent first, settled, while the qcow2 that names it is still being
# copied (its first piece written, the file kept changing until the test
# lets the copy go on): the parent is held, then both convert as one.
touch stage/hold
( exec 3> "live/mid.qcow2"
  dd if=stage/mid.qcow2 bs=64k count=1 status=none >&3
  while [ -e stage/hold ]; do touch live/mid.qcow2; sleep 0.1; done
  dd if=stage/mid.qcow2 bs=64k skip=1 status=none >&3 ) &
copier=$!
cleanup_fn kill "$copier"
cp "stage/$b.qcow2" live/
ok "a settled parent is held while a qcow2 is being copied" \
  wait_for 60 logged "$b.qcow2: held while mid.qcow2, which may name it as its parent, is still changing"
[ ! -e "$tmp/lout/$b" ] && ! logged "$b.qcow2: converting" && pass "... not converted alone" \
  || fail "the parent was converted while its child was being copied"

rm stage/hold
wait "$copier"
ok "the copied qcow2 converts with its parent" wait_for 120 converted "$tmp/lout" mid
ok "... the chain's bytes" qemu-img compare -q stage/mid.qcow2 "$tmp/lout/mid/mid.qcow2"
[ ! -e "$tmp/lout/$b" ] && pass "... its parent never on its own" || fail "the parent was converted on its own"
is "... both its sources" "$(jq -c '[.sources[].file] | sort' "$tmp/lout/mid/result.json")" \
  "$(jq -nc --arg b "$b.qcow2" '[$b, "mid.qcow2"] | sort')"
kill -TERM "$wpid"
st=0; wait "$wpid" || st=$?
is "SIGTERM stops the watcher" "$st" 0
