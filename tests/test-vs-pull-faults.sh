#!/usr/bin/env bash
# vs-pull against a server that misbehaves on purpose (tests/faultserver.py,
# loopback only): dropped connections, 503 and 429, stalls, truncated
# bodies, 200 to range requests, Range ignored.  Every transfer must end
# bit-identical, or fail with a message naming the file, the range and the
# server's answer.  Each test reports the faults it survived.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/helpers/faultserver.sh"
requires openssl version

mkdir -p "$tmp/root" "$tmp/out"
# Random data with a zero area in the middle (for --skip-zero).
head -c 10M /dev/urandom > "$tmp/root/disk.bin"
head -c 4M /dev/zero >> "$tmp/root/disk.bin"
head -c 10M /dev/urandom >> "$tmp/root/disk.bin"
want=$(sha256 "$tmp/root/disk.bin")

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" \
  -out "$tmp/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null


scheme=http insecure=
fast=(--retry-wait 0.02 --stall-timeout 2 --chunk-size 1M -v)

# fault_case DESC SERVER-FAULT-KEY "SERVER ARGS" [VS-PULL ARGS...]
fault_case ()
{
  local desc=$1 key=$2 sargs=$3; shift 3
  fs_start $sargs --seed 7
  rm -f "$tmp/out/disk.bin"
  if vs-pull "${fast[@]}" "$@" -o "$tmp/out/disk.bin" \
       "$scheme://127.0.0.1:$port/disk.bin" 2> "$tmp/err"; then
    local got injected
    got=$(sha256 "$tmp/out/disk.bin")
    injected=$(stats ".faults[\"$key\"]")
    if [ "$got" = "$want" ] && [ "$injected" -gt 0 ]; then
      pass "$desc: bit-identical after $injected injected faults"
    else
      fail "$desc: sha256 $got (want $want), $injected faults injected"
    fi
    diag "$(grep 'faults survived' "$tmp/err")" "server: $(stats -c .)"
  else
    fail "$desc: vs-pull failed"
    diag "$(tail -5 "$tmp/err")"
  fi
  fs_stop
}

fault_case "connections dropped every ~2 MiB" drop "--drop-every 2000000"
fault_case "503 and 429 at random" 503 "--p503 0.3 --p429 0.2"
fault_case "bodies truncated at random" truncate "--truncate 0.3"
fault_case "200 (whole file) to range requests at random" 200 "--p200 0.3"
fault_case "Range ignored by the server" 200 "--ignore-range"
fault_case "stalls longer than the stall timeout" stall "--stall-every 6000000 --stall-secs 3"
fault_case "everything at once, -j 8, --skip-zero" drop \
  "--drop-every 3000000 --p503 0.1 --p429 0.1 --truncate 0.1 --p200 0.05" -j 8 --skip-zero

# Range ignored: one pass over the file per connection at most, not one per
# chunk (24 chunks would cost ~300 MiB).
fs_start --ignore-range
vs-pull -j 4 --chunk-size 1M -o "$tmp/out/ign.bin" "http://127.0.0.1:$port/disk.bin"
served=$(stats .bytes)
[ "$served" -le $((5 * 24 * 1024 * 1024)) ] \
  && pass "Range ignored: $served bytes served for a 24 MiB file" \
  || fail "Range ignored: $served bytes served for a 24 MiB file"
fs_stop

# The same over HTTPS (certificate made at test time), to stdout.
scheme=https insecure=1
fs_start --cert "$tmp/cert.pem" --key "$tmp/key.pem" --drop-every 3000000 --p200 0.1 --p503 0.1 --seed 3
got=$(GOVC_TLS_CA_CERTS=$tmp/cert.pem vs-pull "${fast[@]}" -o - \
        "https://127.0.0.1:$port/disk.bin" 2> "$tmp/err" | sha256sum | cut -d' ' -f1)
is "HTTPS to stdout through drops, 200s and 503s" "$got" "$want"
diag "$(grep 'faults survived' "$tmp/err")" "server: $(stats -c .)"
EXPECT_STATUS=1 expect_fail "HTTPS: an untrusted certificate is refused" \
  'certificate|SSL' vs-pull --retries 1 -o "$tmp/out/x" "https://127.0.0.1:$port/disk.bin"
ok "HTTPS: --insecure accepts it" \
  vs-pull --insecure -o "$tmp/out/ins.bin" "https://127.0.0.1:$port/disk.bin"
fs_stop
scheme=http insecure=

# Failures that do not go away: a clear message, exit 1, no final file.
fs_start --p503 1.0 --max-faults 100000
rm -f "$tmp/out/disk.bin"
EXPECT_STATUS=1 expect_fail "503 forever: gives up naming file, range and answer" \
  'disk\.bin: bytes [0-9]+-[0-9]+: server answered 503 Service Unavailable.*gave up after 3 attempts' \
  vs-pull --retries 2 --retry-wait 0.01 -o "$tmp/out/disk.bin" "http://127.0.0.1:$port/disk.bin"
[ ! -e "$tmp/out/disk.bin" ] && pass "no final file after a failure" \
  || fail "no final file after a failure"
fs_stop

fs_start
EXPECT_STATUS=1 expect_fail "404: the file and the server's answer" \
  'nothere\.bin: server answered 404' \
  vs-pull -o "$tmp/out/n" "http://127.0.0.1:$port/nothere.bin"
fs_stop
EXPECT_STATUS=1 expect_fail "server gone: connection refused after the retries" \
  'disk\.bin: .*(refused|connect).*gave up' \
  vs-pull --retries 2 --retry-wait 0.01 -o "$tmp/out/n" "http://127.0.0.1:$port/disk.bin"

# Extents patched through faults.
fs_start --drop-every 1500000 --p503 0.2 --seed 11
cp "$tmp/root/disk.bin" "$tmp/target"
dd if=/dev/zero of="$tmp/target" bs=1M seek=2 count=3 conv=notrunc status=none
dd if=/dev/zero of="$tmp/target" bs=1M seek=15 count=6 conv=notrunc status=none
ok "patch ranges through drops and 503s" \
  vs-pull "${fast[@]}" --range 2M:3M --range 15M:6M --patch "$tmp/target" \
    "http://127.0.0.1:$port/disk.bin"
same_file "patched target equals the source" "$tmp/target" "$tmp/root/disk.bin"
fs_stop
