#!/usr/bin/env bash
# Hostile names through vs-ls and the scripts, on the simulator: VMs called
# '../../etc', '..', '.', '/', '-rf', '--help', with a newline, a CR, an
# escape sequence, a tab, '$(touch pwned)', backticks, 4 KiB long, invalid
# UTF-8, '~root' (the list of test-harden-names.sh), each with a tiny disk.
#
#  * vs-ls: one record per VM, each one line of valid UTF-8 JSON, the name
#    as the simulator holds it (XML cannot carry an escape character or
#    bytes that are not UTF-8: the simulator sends U+FFFD for them).
#  * h2k-migrate VM: OUT/<one safe name>/ inside OUT, at most 200 bytes,
#    migration.json naming the VM and its directory as they are; a name
#    the simulator does not have fails with h2k-migrate's message.
#  * migrate.mk VMLIST=file of these names: each VM's stamps, log and
#    summary line; the directory it verifies is h2k-migrate's.
#  * h2k-watch: dropped disks and job files with these names (as file
#    names, '/' made '_'), converted into OUT/<name>/ or left alone
#    (hidden files).
#  * h2k-sync VM DIR: a clean, one-line refusal (CBT is off), DIR only.
# Nothing is created outside the directories given, and no `pwned` file
# appears anywhere under $tmp.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires python3 --version
requires qemu-img --version
requires qemu-io --version
requires make --version
command -v h2k-migrate >/dev/null || PATH=$PATH:$H2K_TOP/scripts
command -v h2k-migrate >/dev/null || skip_all "h2k-migrate is not there"
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"
start_dir=$PWD
cd "$tmp"

long=$(head -c 4096 /dev/zero | tr '\0' n)
names=('../../etc' '..' '.' '/' '-rf' '--help' $'a\nb' $'cr\rlf' $'esc\e[31mred' \
       $'tab\there' '$(touch pwned)' '`touch pwned`' "$long" '~root' $'bad\xff\xfeutf8')
ncase=0
no_pwned ()
{
  [ -z "$(find "$tmp" -name pwned 2>/dev/null)" ] && [ ! -e "$H2K_TOP/pwned" ] && [ ! -e "$start_dir/pwned" ]
}

truncate -s 1M d.raw
qemu-io -f raw -c 'write -P 0x61 0 64k' d.raw >/dev/null
chain=$("$H2K_TOP/tests/guests/vmware-chain.sh" d.raw chain sys)
args=()
for n in "${names[@]}"; do args+=(-vm-disk "$n=$chain"); done
start_vcsim "${args[@]}"
export GOVC_INSECURE=1

# --- vs-ls -------------------------------------------------------------------
vs-ls > ls.jsonl 2> ls.err || { fail "vs-ls"; diag "$(cat ls.err)"; }
printf '%s\0' "${names[@]}" > names.bin
# The checks in Python, on bytes: strict UTF-8, one JSON object a line,
# and each name once, as XML 1.0 lets it through (escape and bytes that
# are not UTF-8 become U+FFFD).  The names as vs-ls gave them go to
# held.bin, NUL-separated, for the scripts.
if python3 - ls.jsonl names.bin held.bin > ls.check 2>&1 <<'PY'
import json, re, sys
data = open(sys.argv[1], "rb").read()
given = open(sys.argv[2], "rb").read().split(b"\0")[:-1]
bad = 0
recs = []
for i, line in enumerate(data.split(b"\n")[:-1]):
    try:
        text = line.decode("utf-8")
        rec = json.loads(text)
        if not isinstance(rec, dict):
            raise ValueError("not an object")
        if re.search(r"[\x00-\x1f]", text):
            raise ValueError("a raw control character")
        recs.append(rec)
    except Exception as e:
        print("line %d: %s: %r" % (i + 1, e, line[:80]))
        bad += 1
if not data.endswith(b"\n"):
    print("no final newline"); bad += 1
names = [r.get("name") for r in recs]
held = []
for g in given:
    want = re.sub("\x1b", "\ufffd", g.decode("utf-8", "replace"))
    if names.count(want) != 1:
        print("name %r: %d records" % (want[:60], names.count(want))); bad += 1
    held.append(want)
open(sys.argv[3], "wb").write(b"".join(h.encode("utf-8") + b"\0" for h in held))
print("records=%d" % len(recs))
sys.exit(1 if bad else 0)
PY
then
  pass "vs-ls: every record one line of valid JSON, each of ${#names[@]} hostile names once ($(tail -n 1 ls.check))"
else
  fail "vs-ls: records or names"; diag "$(head -n 20 ls.check)"
fi
ncase=$((ncase + ${#names[@]}))
mapfile -d '' -t held < held.bin
is "... every name XML can carry round-trips (all but the escape and invalid UTF-8)" \
  "$(for i in "${!names[@]}"; do [ "${names[$i]}" = "${held[$i]}" ] || printf '%s ' "$i"; done)" "8 14 "

# --- h2k-migrate ----------------------------------------------------------------
mkdir -p work home
touch stamp
cd work
bad=0
for n in "${held[@]}"; do
  ncase=$((ncase + 1))
  st=0
  HOME=$tmp/home h2k-migrate --no-fix --out out -- "$n" > m.out 2> m.err || st=$?
  if [ "$st" -ne 0 ]; then
    bad=$((bad + 1)); diag "h2k-migrate ${n@Q}: exit $st: $(tail -n 2 m.err | head -c 300)"
    continue
  fi
  # The one directory of OUT whose migration.json names the VM.
  found=0
  for d in out/*/ out/.*/; do
    [ -f "$d/migration.json" ] || continue
    if jq -e --arg vm "$n" '.vm == $vm and .status == "done"' "$d/migration.json" >/dev/null; then
      found=$((found + 1))
      b=${d%/}; b=${b#out/}
      jq -e --arg b "$b" '.dir == $b' "$d/migration.json" >/dev/null ||
        { bad=$((bad + 1)); diag "${n@Q}: migration.json's dir is not ${b@Q}"; }
      [ "${#b}" -le 255 ] && [[ $b != *[$'\n\r\t\e/']* ]] && [ "$b" != . ] && [ "$b" != .. ] ||
        { bad=$((bad + 1)); diag "${n@Q}: directory ${b@Q}"; }
      qemu-img compare -q -f raw ../d.raw "$d/sys.qcow2" ||
        { bad=$((bad + 1)); diag "${n@Q}: the disk differs"; }
    fi
  done
  [ "$found" = 1 ] || { bad=$((bad + 1)); diag "${n@Q}: $found directories name it"; }
done
is "h2k-migrate: ${#held[@]} VMs, each into one directory of OUT, with its disk" "$bad" 0
is "... one directory each in OUT" "$(find out -mindepth 1 -maxdepth 1 | wc -l)" "${#held[@]}"
ok "... the 4 KiB name cut to 200 bytes" test -d "out/${long:0:200}"
for n in $'esc\e[31mred' $'bad\xff\xfeutf8'; do
  ncase=$((ncase + 1))
  EXPECT_STATUS=1 expect_fail "h2k-migrate ${n@Q} (not a name the simulator can hold): refused" \
    "no VM named" env HOME="$tmp/home" h2k-migrate --no-fix --out out2 -- "$n"
done
ok "... its message on one line, the name quoted" \
  bash -c 'h2k-migrate --no-fix --out out2 -- "$1" 2>&1 | grep -qF "no VM named \$'"'"'esc\\E[31mred'"'"'"' _ $'esc\e[31mred'
ok "nothing was written outside work/ (and the simulator's files)" \
  sh -c 'found=$(find "$1" -newer "$1/stamp" -not -path "$1/work*" -not -path "$1/vcsim*" -not -path "$1/home*" -not -name ".stderr.*" -not -path "$1" -not -path "$1/.valgrind*");
         [ -z "$found" ] || { echo "$found" >&2; exit 1; }' _ "$tmp"
ok "no pwned file" no_pwned

# --- migrate.mk -----------------------------------------------------------------
# VMLIST is one name a line: the name with a newline cannot be in it.  The
# batch runs over the OUT of the runs above, where h2k-migrate finds each
# run done: what is tested is make's part (stamps, logs, verification of
# the directory h2k-migrate made, the summary).
: > vms.txt
nl=0
for n in "${held[@]}"; do
  if [[ $n == *$'\n'* ]]; then nl=$((nl + 1)); continue; fi
  printf '%s\n' "$n" >> vms.txt
done
nvms=$(wc -l < vms.txt)
ncase=$((ncase + nvms))
st=0
HOME=$tmp/home make -s -f "$H2K_TOP/scripts/migrate.mk" -j2 VMLIST=vms.txt OUT=out FLAGS=--no-fix \
  > mk.out 2> mk.err || st=$?
is "migrate.mk: $nvms VMs with hostile names (and $nl left out: a newline)" "$st" 0
[ "$st" = 0 ] || diag "$(tail -n 20 mk.err)"
ok "... the summary: all migrated" grep -qx "migrate.mk: $nvms migrated, 0 failed, 0 skipped (logs in out/logs/)" mk.out
is "... one log per VM, in out/logs/" "$(find out/logs -maxdepth 1 -type f -name '*.log' | wc -l)" "$nvms"
is "... one verified stamp per VM" "$(find out/.batch -name '*.verified' | wc -l)" "$nvms"
ok "... each summary line names its VM as it is" \
  python3 -c '
import sys
out = open("mk.out", "rb").read()
for n in open("vms.txt", "rb").read().split(b"\n")[:-1]:
    if b"migrated  " + n + b"\n" not in out:
        sys.exit("missing: %r" % n[:60])'
ok "no pwned file" no_pwned
cd "$tmp"

# --- h2k-watch ------------------------------------------------------------------
# Each name as a file name ('/' made '_', cut to 240 bytes): a tiny raw
# disk; three names also as job files naming the hostile VM.  '.', '..'
# and names that start with '.' are hidden files, left alone.
mkdir drop
qemu-img create -q -f raw w.raw 1M
nfiles=0 hidden=0 want=()
for n in "${names[@]}"; do
  f=${n//\//_}
  f=${f:0:240}
  if [ "$f" = . ] || [ "$f" = .. ]; then f=x$f; fi
  cp w.raw "drop/$f.raw"
  nfiles=$((nfiles + 1))
  if [[ $f == .* ]]; then hidden=$((hidden + 1)); else want+=("$f"); fi
done
for i in 4 10 6; do
  f=job-${names[$i]//\//_}.json
  jq -nc --arg vm "${held[$i]}" '{vm: $vm}' > "drop/$f"
  want+=("${f%.json}")
  nfiles=$((nfiles + 1))
done
ncase=$((ncase + nfiles))
# A file whose name is not UTF-8 cannot be named in a domain's XML:
# virt-define refuses it, and the error file has its message.
badf=$'bad\xff\xfeutf8'
st=0
"$H2K_WATCH" --once --no-fix --stable-seconds 1 --out "$tmp/wout" drop > w.out 2> w.log || st=$?
is "h2k-watch --once: $nfiles dropped files with hostile names ($hidden hidden), one refused" "$st" 1
bad=0
for f in "${want[@]}"; do
  [ "$f" != "$badf" ] || continue
  o=${f//[[:cntrl:]]/_}
  if ! jq -e --arg f "$f" '.status == "converted" and (.file | startswith($f))' "wout/$o/result.json" >/dev/null 2>&1; then
    bad=$((bad + 1)); diag "no result for ${f@Q} in wout/${o@Q}"
  fi
done
is "... a result directory for each, named after the file" "$bad" 0
is "... nothing else in OUT" "$(find wout -mindepth 1 -maxdepth 1 -not -name '.h2k-watch-*' | wc -l)" "$(( ${#want[@]} - 1 ))"
is "... the hidden files left alone in DIR" "$(find drop -maxdepth 1 -name '.*.raw' | wc -l)" "$hidden"
is "... every other file moved out of DIR (to .processed/) but the refused one" \
  "$(find drop -maxdepth 1 -type f -not -name '.*' -printf '%f\n' | od -c | head -n 2)" "$(printf '%s\n' "$badf.raw" | od -c | head -n 2)"
jq_ok "... the name that is not UTF-8: virt-define's message in .errors/" \
  '.step == "virt-define" and (.message | test("not valid UTF-8"))' "drop/.errors/$badf.raw.error.json"
for f in "${want[@]}"; do
  [[ $f == job-* ]] || continue
  o=${f//[[:cntrl:]]/_}
  jq_ok "... job ${f@Q}: the hostile VM migrated" '.status == "done" and .vm != null' "wout/$o/migration.json"
done
ok "no pwned file" no_pwned

# --- h2k-sync -------------------------------------------------------------------
# CBT is off on these VMs: each run is refused, in one line, and writes
# nothing but its DIR.
bad=0
i=0
for n in "${held[@]}"; do
  i=$((i + 1)) ncase=$((ncase + 1))
  st=0
  h2k-sync -- "$n" "sync/$i" > s.out 2> s.err || st=$?
  lines=$(grep -c '' s.err || true)
  if [ "$st" -ne 1 ] || ! grep -q 'Changed Block Tracking is off' s.err; then
    bad=$((bad + 1)); diag "h2k-sync ${n@Q}: exit $st: $(head -c 300 s.err)"
  fi
  [[ $n == *$'\n'* ]] || [ "$lines" -le 2 ] || { bad=$((bad + 1)); diag "h2k-sync ${n@Q}: $lines lines"; }
done
is "h2k-sync: ${#held[@]} hostile VM names refused cleanly (CBT off)" "$bad" 0
is "... nothing but the DIRs under sync/" "$(find sync -mindepth 1 -maxdepth 1 | wc -l)" "${#held[@]}"
ok "no pwned file" no_pwned
diag "hostile script names: $ncase cases (${#names[@]} names through vs-ls, h2k-migrate, migrate.mk, h2k-watch, h2k-sync)"
