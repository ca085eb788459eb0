#!/usr/bin/env bash
# vs-pull's options against a well-behaved server (plain http URLs, no
# vSphere session): ranges, stdout, --patch, --skip-zero, --sha256,
# --verify, --progress=FD, --no-clobber, and usage errors.
. "$(dirname "$0")/functions.sh"
requires python3 --version
requires jq --version

mkdir -p "$tmp/root" "$tmp/out"
head -c 3M /dev/urandom > "$tmp/root/a.bin"
head -c 8M /dev/zero >> "$tmp/root/a.bin"
head -c 3M /dev/urandom >> "$tmp/root/a.bin"
head -c 1000 /dev/urandom > "$tmp/root/small.bin"
: > "$tmp/root/empty.bin"
mkdir -p "$tmp/root/dir with space"
head -c 70000 /dev/urandom > "$tmp/root/dir with space/b c.bin"

python3 "$H2K_TOP/tests/faultserver.py" --root "$tmp/root" --lifetime 300 \
  > "$tmp/fs.out" 2> "$tmp/fs.err" &
cleanup_fn kill $!
for _ in $(seq 100); do grep -q PORT= "$tmp/fs.out" 2>/dev/null && break; sleep 0.1; done
u=http://127.0.0.1:$(sed -n 's/PORT=//p' "$tmp/fs.out")

# Whole files.
ok "-o FILE" vs-pull -o "$tmp/out/a" "$u/a.bin"
same_file "-o FILE is identical" "$tmp/out/a" "$tmp/root/a.bin"
ok "--dir keeps the names" vs-pull -j 2 --dir "$tmp/out/d" "$u/a.bin" "$u/small.bin" \
  "$u/empty.bin" "$u/dir%20with%20space/b%20c.bin"
same_file "--dir: a.bin" "$tmp/out/d/a.bin" "$tmp/root/a.bin"
same_file "--dir: small.bin" "$tmp/out/d/small.bin" "$tmp/root/small.bin"
same_file "--dir: an empty file" "$tmp/out/d/empty.bin" "$tmp/root/empty.bin"
same_file "--dir: a percent-encoded name" "$tmp/out/d/b c.bin" "$tmp/root/dir with space/b c.bin"
vs-pull -j 3 -o - "$u/a.bin" "$u/small.bin" > "$tmp/out/cat"
cat "$tmp/root/a.bin" "$tmp/root/small.bin" > "$tmp/out/cat.want"
same_file "stdout: several files one after the other" "$tmp/out/cat" "$tmp/out/cat.want"

# Ranges, checked against dd.
vs-pull --range 1000:5000 --range 0:10 --range 13M:1M -o - "$u/a.bin" > "$tmp/out/r"
{ dd if="$tmp/root/a.bin" bs=1 skip=1000 count=5000 status=none
  dd if="$tmp/root/a.bin" bs=1 count=10 status=none
  dd if="$tmp/root/a.bin" bs=1M skip=13 count=1 status=none; } > "$tmp/out/r.want"
same_file "--range to stdout, concatenated in order" "$tmp/out/r" "$tmp/out/r.want"
ok "--range to a file" vs-pull --range 1000:5000 --range 0:10 --range 13M:1M -o "$tmp/out/rf" "$u/a.bin"
same_file "--range to a file: identical" "$tmp/out/rf" "$tmp/out/r.want"
EXPECT_STATUS=1 expect_fail "a range past the end" "beyond the end of the file" \
  vs-pull --range 14M:1 -o - "$u/a.bin"

# --patch: a sparse target created from ranges.
ok "--patch creates a sparse target" \
  vs-pull --range 0:1M --range 12M:2M --patch "$tmp/out/p" "$u/a.bin"
is "the target has the remote size" "$(stat -c %s "$tmp/out/p")" "$(stat -c %s "$tmp/root/a.bin")"
cmp -s <(head -c 1M "$tmp/out/p") <(head -c 1M "$tmp/root/a.bin") \
  && cmp -s <(tail -c 2M "$tmp/out/p") <(tail -c 2M "$tmp/root/a.bin") \
  && cmp -s <(dd if="$tmp/out/p" bs=1M skip=1 count=11 status=none) <(head -c 11M /dev/zero) \
  && pass "--patch wrote the ranges and nothing else" || fail "--patch wrote the ranges and nothing else"

# --skip-zero: the 8 MiB zero area becomes a hole.
ok "--skip-zero" vs-pull --skip-zero -o "$tmp/out/z" "$u/a.bin"
same_file "--skip-zero: identical" "$tmp/out/z" "$tmp/root/a.bin"
blocks=$(( $(stat -c '%b * %B' "$tmp/out/z") ))
[ "$blocks" -lt $((8 * 1024 * 1024)) ] && pass "--skip-zero: $blocks bytes allocated of 14 MiB" \
  || fail "--skip-zero: $blocks bytes allocated of 14 MiB"
# Patching zeros over old data must clear it, not skip it.
head -c 14M /dev/urandom > "$tmp/out/old"
ok "--skip-zero --patch over old data" \
  vs-pull --skip-zero --range 0:14M --patch "$tmp/out/old" "$u/a.bin"
same_file "--skip-zero --patch: zeros replace old data" "$tmp/out/old" "$tmp/root/a.bin"

# Extent records.
jq -nc --arg f "$u/a.bin" '{kind:"extent",file:$f,offset:65536,length:131072},
  {kind:"extent",file:$f,offset:196608,length:65536,change_id:"x"},
  {kind:"extent",file:$f,offset:12582912,length:1048576}' > "$tmp/ext.jsonl"
ok "extent records --patch" vs-pull --patch "$tmp/out/e" < "$tmp/ext.jsonl"
cmp -s <(dd if="$tmp/out/e" bs=64k skip=1 count=3 status=none) \
       <(dd if="$tmp/root/a.bin" bs=64k skip=1 count=3 status=none) \
  && cmp -s <(dd if="$tmp/out/e" bs=1M skip=12 count=1 status=none) \
            <(dd if="$tmp/root/a.bin" bs=1M skip=12 count=1 status=none) \
  && cmp -s <(head -c 65536 "$tmp/out/e") <(head -c 65536 /dev/zero) \
  && pass "extent records: those bytes and nothing else" \
  || fail "extent records: those bytes and nothing else"
# vmdk-flatten --map style: "data": false areas are zeroed, not fetched.
head -c 14M /dev/urandom > "$tmp/out/m"
jq -nc --arg f "$u/a.bin" '{kind:"extent",file:$f,offset:0,length:3145728,data:true,zero:false},
  {kind:"extent",file:$f,offset:3145728,length:8388608,data:false,zero:true},
  {kind:"extent",file:$f,offset:11534336,length:3145728,data:true,zero:false}' > "$tmp/map.jsonl"
ok "map records --patch over old data" vs-pull --patch "$tmp/out/m" < "$tmp/map.jsonl"
same_file "map records: data fetched, zero areas zeroed" "$tmp/out/m" "$tmp/root/a.bin"
EXPECT_STATUS=1 expect_fail "extent records need --patch" "need --patch" \
  vs-pull --dir "$tmp/out" < "$tmp/ext.jsonl"
echo '{"kind":"extent","file":"x"}' > "$tmp/bad.jsonl"
EXPECT_STATUS=1 expect_fail "an extent record without offset" "offset" \
  vs-pull --patch "$tmp/out/e" < "$tmp/bad.jsonl"
echo '{"kind":"vm",' > "$tmp/bad.jsonl"
EXPECT_STATUS=1 expect_fail "broken JSON" "line 1: not valid JSON" \
  vs-pull --dir "$tmp/out" < "$tmp/bad.jsonl"
echo '{"kind":"host","name":"h"}' > "$tmp/bad.jsonl"
EXPECT_STATUS=1 expect_fail "a record of another kind" 'must be "vm" or "extent"' \
  vs-pull --dir "$tmp/out" < "$tmp/bad.jsonl"

# --sha256 and --verify.
vs-pull --sha256 --dir "$tmp/out/s" "$u/a.bin" "$u/small.bin" > "$tmp/sums"
ok "--sha256 prints sha256sum lines" sha256sum --quiet -c "$tmp/sums"
(cd "$tmp/root" && sha256sum a.bin small.bin) > "$tmp/manifest"
ok "--verify=FILE accepts matching files" \
  vs-pull --verify="$tmp/manifest" --dir "$tmp/out/v" "$u/a.bin" "$u/small.bin"
printf 'SHA256(a.bin)= %s\n' "$(sha256 "$tmp/root/small.bin")" > "$tmp/bad.mf"
EXPECT_STATUS=1 expect_fail "--verify with an OVF manifest that disagrees" "SHA-256 mismatch" \
  vs-pull --verify="$tmp/bad.mf" --dir "$tmp/out/w" "$u/a.bin"
[ ! -e "$tmp/out/w/a.bin" ] && [ ! -e "$tmp/out/w/a.bin.part" ] \
  && pass "--verify mismatch leaves no file" || fail "--verify mismatch leaves no file"
EXPECT_STATUS=1 expect_fail "--verify: a file the manifest does not know" "no checksum known" \
  vs-pull --verify="$tmp/manifest" --dir "$tmp/out/w" "$u/empty.bin"
got=$(vs-pull --sha256 -o - "$u/a.bin" 2>&1 >/dev/null)
is "--sha256 with stdout: the digest goes to stderr" "$got" "$(sha256 "$tmp/root/a.bin")  -"

# Progress for scripts, and --no-clobber.
vs-pull --progress=3 -o "$tmp/out/pg" "$u/a.bin" 3> "$tmp/progress"
is "--progress=FD ends with 100/100" "$(tail -n1 "$tmp/progress")" "100/100"
echo keep > "$tmp/out/nc"
ok "--no-clobber" vs-pull -n -o "$tmp/out/nc" "$u/a.bin"
is "--no-clobber kept the file" "$(cat "$tmp/out/nc")" keep

# A URL with credentials: used, never shown.
u2=${u/http:\/\//http://bob:hunter2@}
EXPECT_STATUS=1 expect_fail "a URL's password is not in messages" "127.0.0.1:[0-9]+/nothere.bin: server answered 404" \
  vs-pull -o "$tmp/out/pw" "$u2/nothere.bin"
msg=$(vs-pull -o "$tmp/out/pw" "$u2/nothere.bin" 2>&1 || true)
[[ "$msg" != *hunter2* && "$msg" != *bob* ]] && pass "no user or password in the message" \
  || fail "no user or password in the message: $msg"
EXPECT_STATUS=1 expect_fail "two sources with one local name" "would both be written to" \
  vs-pull --dir "$tmp/out/dup" "$u/a.bin" "$u/dir%20with%20space/../a.bin"

# Usage errors: exit 2, before anything is fetched.
EXPECT_STATUS=2 expect_fail "no destination" "say where" vs-pull "$u/a.bin"
EXPECT_STATUS=2 expect_fail "-o and --dir" "together" vs-pull -o x --dir y "$u/a.bin"
EXPECT_STATUS=2 expect_fail "-o FILE with two sources" "one SOURCE" vs-pull -o x "$u/a.bin" "$u/b"
EXPECT_STATUS=2 expect_fail "--range without OFFSET:LENGTH" "OFFSET:LENGTH" vs-pull --range 5 -o - "$u/a.bin"
EXPECT_STATUS=2 expect_fail "--range of length 0" "zero" vs-pull --range 5:0 -o - "$u/a.bin"
EXPECT_STATUS=2 expect_fail "-j 0" "-j: '0' is out of range \\(1 to 64\\)" vs-pull -j 0 -o - "$u/a.bin"
EXPECT_STATUS=2 expect_fail "-j x" "not a number" vs-pull -j x -o - "$u/a.bin"
EXPECT_STATUS=2 expect_fail "--patch without --range" "needs exactly one SOURCE and --range" \
  vs-pull --patch "$tmp/out/t" "$u/a.bin"
EXPECT_STATUS=2 expect_fail "--direct is for datastore paths, not URLs" "applies to datastore paths" vs-pull --direct -o - "$u/a.bin"
EXPECT_STATUS=2 expect_fail "--connect-to: not four fields" "expected HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT" vs-pull --connect-to a:1:b -o - "$u/a.bin"
ok "--connect-to with a plain URL (curl's meaning)" vs-pull --connect-to "nowhere.invalid:${u##*:}:127.0.0.1:${u##*:}" -o "$tmp/out/ct" "http://nowhere.invalid:${u##*:}/a.bin"
same_file "--connect-to: identical" "$tmp/out/ct" "$tmp/root/a.bin"
EXPECT_STATUS=2 expect_fail "--progress=junk" "not a file descriptor" vs-pull --progress=x -o - "$u/a.bin"
EXPECT_STATUS=1 expect_fail "a source that is neither path nor URL" "neither a datastore path" \
  vs-pull -o "$tmp/out/q" "ftp://x/y"
EXPECT_STATUS=1 expect_fail "a URL without a file name for --dir" "no usable file name" \
  vs-pull --dir "$tmp/out" "$u/"

# Two VMs whose names are made safe alike ("a/b" and "a_b"), and two VMs
# of one name (two folders in vCenter): each VM gets a directory of its
# own, the later ones with their moref (or record number) added, and the
# records say where each one's files went.
jq -nc --arg f "$u/small.bin" --arg g "$u/a.bin" '
  {kind:"vm",name:"a/b",moref:"vm-1",disks:[{key:1,file:$f,chain:[$f]}]},
  {kind:"vm",name:"a_b",moref:"vm-2",disks:[{key:1,file:$g,chain:[$g]}]},
  {kind:"vm",name:"a_b",disks:[{key:1,file:$f,chain:[$f]}]}' > "$tmp/alike.jsonl"
ok "VMs whose names are made safe alike" \
  eval 'vs-pull --dir "$tmp/out/alike" < "$tmp/alike.jsonl" > "$tmp/alike.out" 2> "$tmp/alike.err"'
is "each VM has its own directory" "$(cd "$tmp/out/alike" && ls | LC_ALL=C sort | tr '\n' ' ')" "a_b a_b-3 a_b-vm-2 "
same_file "the first VM's file" "$tmp/out/alike/a_b/small.bin" "$tmp/root/small.bin"
same_file "the second VM's file, in its moref's directory" "$tmp/out/alike/a_b-vm-2/a.bin" "$tmp/root/a.bin"
is "the records name the directories" \
  "$(jq -r '.disks[0].local_chain[0] // .disks[0].local // empty' "$tmp/alike.out" | sed "s|^$tmp/out/alike/||" | tr '\n' ' ')" \
  "a_b/small.bin a_b-vm-2/a.bin a_b-3/small.bin "
ok "the warning names the other directory" grep -q "record 2: VM a_b: another VM of the stream has the directory" "$tmp/alike.err"
