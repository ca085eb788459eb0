#!/usr/bin/env bash
# h2k-watch --once on every kind of file it takes, under hostile names:
# a VMDK snapshot chain (whose parent and extents are never converted on
# their own), an OVF with its disk, an OVA, VHD, VHDX, qcow2, raw and .img
# disks; a corrupt file that lands in .errors/ with its step and message
# and is retried, then given up; a disk without an operating system,
# converted and reported as such by guest-fix.  Oracles: qemu-img compare
# and check, virt-xml-validate, jq.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires qemu-img --version
requires qemu-io --version
requires jq --version
requires virt-xml-validate --version

W=$H2K_WATCH
cd "$tmp"

# The options, as the C programs answer them.
ok "--help" bash -c '"$0" --help | grep -q "Usage: h2k-watch"' "$W"
ver=$("$W" --version)
[[ "$ver" == "h2k-watch (h2k) "* ]] && [ "${ver##* }" = "$(img-convert --version | sed 's/.* //')" ] &&
  pass "--version: $ver" || fail "--version: '$ver'"
ok "--long-options lists --stable-seconds" bash -c '"$0" --long-options | grep -qx -- --stable-seconds' "$W"
ok "--short-options lists -V" bash -c '"$0" --short-options | grep -qx -- -V' "$W"
EXPECT_STATUS=2 expect_fail "an unknown option" "Try 'h2k-watch --help'" "$W" --no-such-option
EXPECT_STATUS=2 expect_fail "no directory" "no directory given" "$W" --once
EXPECT_STATUS=2 expect_fail "a bad number" "--jobs: 'x' is not a number" "$W" --jobs x .
EXPECT_STATUS=1 expect_fail "--help to a full disk" "" bash -c '"$0" --help > /dev/full' "$W"
EXPECT_STATUS=1 expect_fail "not a directory" "nothere: not a directory" "$W" --once nothere

# Every kind, under names a shell would trip on.
mkdir drop
odd='web $(touch pwned) "q" '"'s'"
nl=$'new\nline'
# A descriptor cannot quote a double quote: the chain's name has the rest.
chain='web $(touch pwned) '"'s'"
make_chain drop "$chain"
make_disk "drop/v $odd.vhd" vpc
make_disk "drop/x.vhdx" vhdx
make_disk "drop/$nl.qcow2" qcow2
make_disk "drop/plain.raw" raw
make_disk "drop/disk.IMG" raw
# (nor can a streamOptimized VMDK's embedded one: the disk's name has none)
make_ovf drop "o $odd" "o-disk $chain.vmdk"
make_ova "drop/app.ova"
echo 'not a disk, left alone' > drop/README.txt
echo 'hidden, left alone' > drop/.partial.vmdk
cp -r drop orig

out=$tmp/out
ok "--once converts everything" "$W" --once --no-fix --stable-seconds 1 --out "$out" drop
[ ! -e "$tmp/pwned" ] && [ ! -e "$tmp/drop/pwned" ] && pass "no name reached a shell" || fail "a name reached a shell"

check_disk ()
{
  local name=$1 disk=$2 src=$3
  if converted "$out" "$name"; then pass "$(printf %q "$name"): result.json"; else fail "$(printf %q "$name"): result.json"; return; fi
  ok "$(printf %q "$name"): $disk same as the source" qemu-img compare -q "$src" "$out/$name/$disk"
  ok "$(printf %q "$name"): qemu-img check" qemu-img check -q "$out/$name/$disk"
  ok "$(printf %q "$name"): domain.xml valid" virt-xml-validate "$out/$name/domain.xml" domain
  local want got
  want=$(jq -r '.disks[0].sha256' "$out/$name/result.json")
  qemu-img convert -O raw "$src" "$tmp/guest.raw"
  got=$(sha256sum < "$tmp/guest.raw" | cut -d' ' -f1)
  rm -f "$tmp/guest.raw"
  is "$(printf %q "$name"): result.json's sha256 is the guest's bytes" "$want" "$got"
}
check_disk "$chain-000001" "$chain-000001.qcow2" "orig/$chain-000001.vmdk"
check_disk "v $odd" "v $odd.qcow2" "orig/v $odd.vhd"
check_disk x x.qcow2 orig/x.vhdx
check_disk "new_line" "new_line.qcow2" "orig/$nl.qcow2"
check_disk plain plain.qcow2 orig/plain.raw
check_disk disk disk.qcow2 orig/disk.IMG
check_disk "o $odd" "o-disk $chain.qcow2" "orig/o-disk $chain.vmdk"
[ -d "$tmp/ova-src" ] || { mkdir ova-src; tar -C ova-src -xf orig/app.ova; }
check_disk app appliance-disk1.qcow2 ova-src/appliance-disk1.vmdk
is "the OVA's domain keeps the appliance's name" \
  "$(xmllint --xpath 'string(/domain/name)' "$out/app/domain.xml")" appliance
is "the chain's parent and extent are not converted alone" \
  "$(find "$out" -mindepth 1 -maxdepth 1 \( -name "$chain" -o -name '*-flat' -o -name 'o-disk*' \) | wc -l)" 0
is "the chain's three files are its sources" \
  "$(jq -c '[.sources[].file] | sort' "$out/$chain-000001/result.json")" \
  "$(jq -nc --arg a "$chain.vmdk" --arg b "$chain-flat.vmdk" --arg c "$chain-000001.vmdk" '[$a,$b,$c] | sort')"
is "the OVF's disk is one of its sources" \
  "$(jq -c '[.sources[].file] | sort' "$out/o $odd/result.json")" \
  "$(jq -nc --arg a "o $odd.ovf" --arg b "o-disk $chain.vmdk" '[$a,$b] | sort')"
is "every source moved to .processed/" \
  "$(cd drop/.processed && ls -A | sort | tr '\n' /)" \
  "$(cd orig && ls | grep -v README | sort | tr '\n' /)"
is "left alone: the text file and the hidden file" "$(cd drop && ls -A | grep -v -e '^\.processed$' -e '^\.errors$' -e '^\.h2k-watch.lock$' | tr '\n' /)" ".partial.vmdk/README.txt/"
[ -e drop/.partial.vmdk ] && pass "the hidden file is still there" || fail "the hidden file is still there"
is "nothing but results in OUT" "$(ls -A "$out" | grep -c '^\.' || true)" 0
ok "a second --once has nothing to do" "$W" --once --no-fix --stable-seconds 1 --out "$out" drop

# A corrupt file: .errors/FILE.error.json, retried, then given up; the next
# file still converts.
mkdir bad
printf 'QFI\373\0\0\0\3' > bad/broken.qcow2
head -c 1000 /dev/zero | tr '\0' '\377' >> bad/broken.qcow2
make_disk bad/fine.qcow2 qcow2
EXPECT_STATUS=1 expect_fail "--once with a corrupt file exits 1" "broken.qcow2: img-convert failed" \
  "$W" --once --no-fix --stable-seconds 1 --retries 1 --retry-delay 0 --out bad/out bad
e=bad/.errors/broken.qcow2.error.json
ok "the error file is JSON with step, message, status, time, attempt" \
  jtest '.step == "img-convert" and (.message | test("cluster_bits")) and .exit_status == 1
         and (.time | test("^[0-9-]+T[0-9:]+Z$")) and .attempt == 1 and .gave_up == false' "$e"
ok "the log of the failed conversion is kept" grep -q cluster_bits bad/.errors/broken.qcow2.log
ok "the next file converted" converted bad/out fine
[ -e bad/broken.qcow2 ] && pass "the corrupt file stays in DIR for the retry" || fail "the corrupt file stays in DIR"
[ ! -e bad/out/broken ] && pass "no result for the corrupt file" || fail "no result for the corrupt file"
EXPECT_STATUS=1 expect_fail "the retry fails again" "attempt 2 of 2" \
  "$W" --once --no-fix --stable-seconds 1 --retries 1 --retry-delay 0 --out bad/out bad
ok "... and gives up" jtest '.attempt == 2 and .gave_up == true and .next_attempt == null' "$e"
ok "a file given up is not tried again" "$W" --once --no-fix --stable-seconds 1 --retries 1 --out bad/out bad
ok "... its error file untouched" jtest '.attempt == 2' "$e"
# A back-off not yet over: not tried by --once.
rm -f "$e"
EXPECT_STATUS=1 expect_fail "a first failure with a long back-off" "attempt 1 of 4" \
  "$W" --once --no-fix --stable-seconds 1 --retries 3 --retry-delay 3600 --out bad/out bad
ok "the next attempt is an hour away" jtest '.next_attempt_epoch - (.time | fromdate) == 3600' "$e"
ok "--once leaves it until then" "$W" --once --no-fix --stable-seconds 1 --retries 3 --out bad/out bad
# The file dropped again (another version) starts afresh.
make_disk bad/broken.qcow2 qcow2
ok "a fixed file dropped again converts" "$W" --once --no-fix --stable-seconds 1 --out bad/out bad
ok "... into its result" converted bad/out broken
[ ! -e "$e" ] && pass "... and its error file is gone" || fail "... its error file is gone"

# A name taken by an earlier drop's result is refused, not overwritten.
mkdir again
make_disk again/plain.raw raw
EXPECT_STATUS=1 expect_fail "a result already there" "exists from an earlier drop" \
  "$W" --once --no-fix --stable-seconds 1 --out "$out" again
ok "the earlier result is intact" qemu-img compare -q orig/plain.raw "$out/plain/plain.qcow2"

# A chain whose parent is missing: --once says what is missing.
mkdir half
make_chain half c
rm half/c-flat.vmdk
EXPECT_STATUS=1 expect_fail "a missing extent is named" "needs c-flat.vmdk, which is not in" \
  "$W" --once --no-fix --stable-seconds 1 --out half/out half

# A job file needs h2k-migrate; a job file that is not one is refused.
mkdir jobs
echo '{"name":"web01"}' > jobs/nojob.json
EXPECT_STATUS=1 expect_fail "a JSON file without a vm" 'want a JSON object with a "vm" name' \
  "$W" --once --no-fix --stable-seconds 1 --out jobs/out jobs

# guest-fix on a disk without an operating system: converted, and
# reported as such, not an error.  (One libguestfs launch.)
mkdir data
make_disk data/data.raw raw
ok "a data disk converts with guest-fix" "$W" --once --stable-seconds 1 --out data/out data
ok "result.json says no operating system" jtest '.status == "converted" and .fix == "no-os"' data/out/data/result.json
ok "guest-fix's report is kept" jtest '.program == "guest-fix"' data/out/data/fix-report.json
