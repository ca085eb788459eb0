#!/usr/bin/env bash
# Resuming: a download killed with kill -9 (or stopped by Ctrl-C) and run
# again completes bit-identical without fetching again the ranges its state
# file names (the server counts the bytes it sends).  A state that no
# longer matches the remote file is not trusted.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/faultserver.sh"

mkdir -p "$tmp/root" "$tmp/out"
size=$((32 * 1024 * 1024))
head -c "$size" /dev/urandom > "$tmp/root/disk.bin"
want=$(sha256 "$tmp/root/disk.bin")

reset () { curl -s "http://127.0.0.1:$port/_reset" >/dev/null; }

# Each connection at 4 MB/s: 4 connections need about 2 s for 32 MiB.
fs_start --rate 4000000
url=http://127.0.0.1:$port/disk.bin
out=$tmp/out/disk.bin

# wait_done BYTES: wait until the state file names at least BYTES.
wait_done ()
{
  for _ in $(seq 200); do
    d=$(jq '[.done[][1]] | add // 0' "$out.part.state" 2>/dev/null || echo 0)
    [ "${d:-0}" -ge "$1" ] && return 0
    sleep 0.05
  done
  return 1
}

# pull_killed: start a download, kill -9 it once its state names 8 MiB,
# and set done_bytes to what the state left behind names.
pull_killed ()
{
  local pid
  vs-pull -j 4 --chunk-size 1M -o "$out" "$url" &
  pid=$!
  wait_done $((8 * 1024 * 1024)) || true
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  done_bytes=$(jq '[.done[][1]] | add // 0' "$out.part.state")
}

pull_killed
[ ! -e "$out" ] && [ -e "$out.part" ] \
  && pass "killed: only NAME.part and its state are left" \
  || fail "killed: only NAME.part and its state are left"
[ "$done_bytes" -gt 0 ] && [ "$done_bytes" -lt "$size" ] \
  && pass "the state names $done_bytes of $size bytes" \
  || fail "the state names $done_bytes of $size bytes"

reset
ok "rerun after kill -9 completes" vs-pull -j 8 --chunk-size 1M -o "$out" "$url"
is "the file is bit-identical" "$(sha256 "$out")" "$want"
is "the rerun fetched only what the state did not name" \
  "$(stats .bytes)" "$((size - done_bytes))"
[ ! -e "$out.part" ] && [ ! -e "$out.part.state" ] \
  && pass "no .part or state file after completion" \
  || fail "no .part or state file after completion"

# A chunk the state names but whose bytes changed on disk (a crash that
# lost them, or a stray write) fails its CRC and is fetched again.
rm -f "$out"
pull_killed
first=$(jq '.done[0][0]' "$out.part.state")
printf 'XYZ' | dd of="$out.part" bs=1 seek=$((first + 1000)) conv=notrunc status=none
reset
ok "rerun with a damaged chunk" vs-pull -v -j 8 --chunk-size 1M -o "$out" "$url"
is "the damaged chunk was caught: the file is bit-identical" "$(sha256 "$out")" "$want"
is "the rerun fetched the rest and the damaged chunk" "$(stats .bytes)" \
  "$((size - done_bytes + 1024 * 1024))"

# Ctrl-C: the state is written on the way out.
rm -f "$out"
vs-pull -j 2 --chunk-size 1M -o "$out" "$url" 2> "$tmp/int.err" &
pid=$!
wait_done $((1024 * 1024)) || true
kill -INT "$pid"
st=0; wait "$pid" || st=$?
is "SIGINT: exit status 1" "$st" 1
grep -q interrupted "$tmp/int.err" && pass "SIGINT: says it was interrupted" \
  || fail "SIGINT: says it was interrupted ($(cat "$tmp/int.err"))"
done_bytes=$(jq '[.done[][1]] | add // 0' "$out.part.state")
reset
ok "rerun after SIGINT completes" vs-pull -o "$out" "$url"
is "the file is bit-identical" "$(sha256 "$out")" "$want"
is "the rerun after SIGINT fetched only the rest" "$(stats .bytes)" \
  "$((size - done_bytes))"

# The remote file changed since the state was written: start afresh.
rm -f "$out"
vs-pull -j 2 --chunk-size 1M -o "$out" "$url" &
pid=$!
wait_done $((2 * 1024 * 1024)) || true
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
head -c "$size" /dev/urandom > "$tmp/root/disk.bin.new"
touch -d '2001-01-01' "$tmp/root/disk.bin.new"
mv "$tmp/root/disk.bin.new" "$tmp/root/disk.bin"
reset
ok "rerun against a changed file" vs-pull -o "$out" "$url"
same_file "the result is the new file" "$out" "$tmp/root/disk.bin"
is "all of it was fetched again" "$(stats .bytes)" "$size"
