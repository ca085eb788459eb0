#!/usr/bin/env bash
# Defects a mutation fuzzer found (issue 14), each kept as a case: a VMX
# without disks (qsort on an empty list, caught by UBSan under SANITIZE=1),
# a bad VM record whose message must be said once and cleanly, and
# vs-pull --dir creating directories before it has anything to write.
. "$(dirname "$0")/functions.sh"
requires jq --version

cd "$tmp"

# A VMX with a name and nothing else: a domain without disks, no crash.
printf 'displayName = "x"\n' > x.vmx
if virt-define x.vmx > x.xml 2> x.err; then
  if grep -qE 'runtime error|Sanitizer' x.err; then
    fail "virt-define: VMX without disks: sanitizer report"; diag "$(cat x.err)"
  else
    pass "virt-define: VMX without disks gives a domain"
  fi
else
  fail "virt-define: VMX without disks (exit $?)"; diag "$(cat x.err)"
fi
ok "... which is one domain named x" \
  test "$(xmllint --xpath 'string(/domain/name)' x.xml)" = x
ok "... with no disk" test "$(xmllint --xpath 'count(//disk)' x.xml)" = 0

# The same through --out-dir.
mkdir od
ok "virt-define --out-dir: VMX without disks" virt-define --out-dir od x.vmx

# A "chain" entry that is a number: the reason, said once, where it is.
rec='{"kind":"vm","name":"w","disks":[{"key":2000,"file":"[ds1] w/w.vmdk","chain":[1]}]}'
st=0
printf '%s\n' "$rec" | vs-pull --dir d1 > out 2> err || st=$?
is "vs-pull: bad chain entry: exit 1" "$st" 1
is "... the message, exactly" "$(cat err)" \
  'vs-pull: <stdin>: record 1: VM w: disk 0: a "chain" entry is not a file name'
ok "... nothing written to stdout" test ! -s out
ok "... and no directory made" test ! -e d1

# Every bad record: one line, said once, no directory.
n=0
for bad in \
  '{"kind":"vm","disks":[]}' \
  '{"kind":"vm","name":"w","disks":{}}' \
  '{"kind":"vm","name":"w","disks":[{"key":1,"file":"[ds1] w/w.vmdk","chain":"x"}]}' \
  '{"kind":"vm","name":"w","disks":[{"key":1,"file":7}]}' \
  '{"kind":"vm","name":"w","disks":[{"key":1,"file":"[ds1] w/w.vmdk","chain":["[ds1] w/.."]}]}' \
  '{"kind":"vm","name":"w","disks":[{"key":1,"file":"[ds1] w/w.vmdk","chain":[null]}]}'; do
  n=$((n + 1))
  st=0
  printf '%s\n' "$bad" | vs-pull --dir "d$n" > out 2> err || st=$?
  lines=$(wc -l < err)
  if [ "$st" -eq 1 ] && [ "$lines" -eq 1 ] && [ ! -e "d$n" ] \
     && ! grep -qE 'runtime error|Sanitizer' err \
     && [ "$(grep -o 'record 1' err | wc -l)" -le 1 ]; then
    pass "bad record $n: one clean line, no directory: $(cat err)"
  else
    fail "bad record $n: exit $st, $lines lines, dir $(test -e "d$n" && echo made || echo absent)"
    diag "$(cat err)"
  fi
done

# A "chain" that is not a list is the record's fault, said before any
# connection is tried (it was ignored, and the disk pulled without its
# parents).
printf '%s\n' '{"kind":"vm","name":"w","disks":[{"key":1,"file":"[ds1] w/w.vmdk","chain":"x"}]}' |
  vs-pull --dir d-chain > out 2> err || true
is "vs-pull: a \"chain\" that is not a list" "$(cat err)" \
  'vs-pull: <stdin>: record 1: VM w: disk 0: "chain" is not an array'

# A connection that fails: no DIR, no DIR/<name>/.
port=9   # discard: nothing listens on it on loopback
rec='{"kind":"vm","name":"w","disks":[{"key":2000,"file":"[ds1] w/w.vmdk","chain":["[ds1] w/w.vmdk"]}]}'
st=0
printf '%s\n' "$rec" | vs-pull --retries 0 --url "https://127.0.0.1:$port/sdk" \
  --username u --password-file /dev/null --insecure --dir d-conn > out 2> err || st=$?
is "vs-pull: vCenter refuses the connection: exit 1" "$st" 1
ok "... said with curl's words" grep -q "127.0.0.1" err
ok "... and --dir DIR is not created" test ! -e d-conn

st=0
vs-pull --retries 0 --dir d-url "http://127.0.0.1:$port/x.vmdk" 2> err || st=$?
is "vs-pull URL: connection refused: exit 1" "$st" 1
ok "... and --dir DIR is not created" test ! -e d-url

# An existing DIR gets no empty VM directory either.
mkdir d-exists
printf '%s\n' "$rec" | vs-pull --retries 0 --url "https://127.0.0.1:$port/sdk" \
  --username u --password-file /dev/null --insecure --dir d-exists > out 2> err || true
ok "... nor DIR/<name>/ in an existing DIR" test -z "$(ls -A d-exists)"

# Found by tests/fuzz/fuzz-vmx: a value that is not valid in the file's
# .encoding, after the .encoding line itself was converted (the message
# read the freed encoding name).
printf '.encoding = "UTF-7"\ndisplayName = "x"\nnvme0:0.fileName = "d\020b.vmdk"\n' > utf7.vmx
EXPECT_STATUS=1 expect_fail "virt-define: a value invalid in .encoding UTF-7" \
  'nvme0:0.fileName: not valid UTF-7' virt-define utf7.vmx
printf '.encoding = "windows-1252"\ndisplayName = "caf\351"\n' > cp1252.vmx
ok "virt-define: a windows-1252 VMX still converts" virt-define --out-dir od cp1252.vmx
