#!/usr/bin/env bash
# vs-ls and vs-pull against a vCenter that attacks them
# (tests/hostileserver.py, loopback only): truncated XML, entity bombs,
# external entities, a huge reply, wrong namespaces, faults without
# detail, redirects to another host, and /folder replies whose
# Content-Length or Content-Range lie.  Each must fail with exit 1, a
# message with the server's words, bounded memory, no entity expanded,
# and nothing (no password, no session cookie) sent to the other host.
. "$(dirname "$0")/functions.sh"
requires python3 --version
requires jq --version
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_DATACENTER GOVC_INSECURE

secret='hostile-Pa55w0rd-7f3a'
printf '%s\n' "$secret" > "$tmp/pw"
printf 'file-secret-%s\n' "$RANDOM$RANDOM" > "$tmp/secret.txt"

srv_pid=
# srv_start MODE [ARGS...]: start the server; $port, $log.
srv_start ()
{
  local mode=$1; shift
  log=$tmp/log-$mode.jsonl
  rm -f "$tmp/srv.out"
  python3 "$H2K_TOP/tests/hostileserver.py" --mode "$mode" --log "$log" \
    --secret-file "$tmp/secret.txt" "$@" > "$tmp/srv.out" 2> "$tmp/srv.err" &
  srv_pid=$!
  cleanup_fn kill "$srv_pid"
  for _ in $(seq 300); do grep -q PORT= "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/PORT=//p' "$tmp/srv.out")
  [ -n "$port" ]
}
srv_stop ()
{
  kill "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
}

ncase=0
# vs_ls_case DESC MODE PATTERN: vs-ls fails with exit 1 and PATTERN.
vs_ls_case ()
{
  local desc=$1 mode=$2 pattern=$3
  ncase=$((ncase + 1))
  srv_start "$mode"
  EXPECT_STATUS=1 expect_fail "vs-ls, $desc" "$pattern" \
    vs-ls --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw"
  srv_stop
}

vs_ls_case "truncated XML" truncated \
  "RetrieveServiceContent: the server's answer is not SOAP.*malformed XML"
vs_ls_case "billion laughs" laughs \
  "RetrieveServiceContent: the server's answer is not SOAP.*refused: the document has a DOCTYPE"
vs_ls_case "wrong namespace" wrongns \
  "RetrieveServiceContent: the server's answer is not SOAP"
vs_ls_case "a fault without detail" fault-nodetail \
  "RetrieveServiceContent: fault: Permission to perform this operation was denied"
vs_ls_case "an empty fault" fault-empty \
  "RetrieveServiceContent: fault: \(no message\)"

# The same attacks on a streamed reply (RetrievePropertiesEx, read an
# object at a time with libxml2's xmlReader, which has no hook before the
# internal subset: the prolog is checked before the parser sees it).
vs_ls_case "a streamed reply with billion laughs" objects-laughs \
  "RetrievePropertiesEx: the server's answer is not SOAP.*refused: the document has a DOCTYPE"
vs_ls_case "a streamed reply in UTF-16" objects-utf16 \
  "RetrievePropertiesEx: the server's answer is not SOAP.*refused: not UTF-8"
ncase=$((ncase + 1))
srv_start objects-xxe
st=0
vs-ls --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw" \
  > "$tmp/out" 2> "$tmp/err" || st=$?
srv_stop
is "vs-ls, a streamed reply with an external entity: exit 1" "$st" 1
ok "... refused for its DOCTYPE" grep -q "RetrievePropertiesEx: .*refused: the document has a DOCTYPE" "$tmp/err"
ok "... the local file is read nowhere" \
  bash -c '! grep -qF "$(cat "$1")" "$2" "$3"' _ "$tmp/secret.txt" "$tmp/out" "$tmp/err"

# A server that trickles its replies (slow loris), a byte every 0.2 s:
# cut off after --stall-timeout (or H2K_STALL_TIMEOUT) seconds with less
# than 1 KiB, naming the server.
ncase=$((ncase + 1))
srv_start slowloris
EXPECT_STATUS=1 expect_fail "vs-ls, slow loris, --stall-timeout 2" \
  "^vs-ls: 127\.0\.0\.1:$port: RetrieveServiceContent: the server stalled: less than 1024 bytes in 2 seconds" \
  vs-ls --stall-timeout 2 --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw"
EXPECT_STATUS=1 expect_fail "vs-cbt, slow loris, H2K_STALL_TIMEOUT=1" \
  "^vs-cbt: 127\.0\.0\.1:$port: RetrieveServiceContent: the server stalled: less than 1024 bytes in 1 seconds" \
  env H2K_STALL_TIMEOUT=1 vs-cbt --vm x --enable --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw"
rm -f "$tmp/f.bin"
EXPECT_STATUS=1 expect_fail "vs-pull, slow loris on /folder, --stall-timeout 1" \
  "f\.bin\?dsName=ds1: bytes [0-9]+-[0-9]+: 127\.0\.0\.1:$port: the server stalled: less than 1024 bytes in 1 seconds \(--stall-timeout\)" \
  vs-pull --stall-timeout 1 --retries 1 --retry-wait 0.01 -o "$tmp/f.bin" \
  "http://127.0.0.1:$port/folder/f.bin?dsName=ds1"
ok "... no output file" test ! -e "$tmp/f.bin"
srv_stop
EXPECT_STATUS=2 expect_fail "a bad H2K_STALL_TIMEOUT is a usage error" \
  "H2K_STALL_TIMEOUT: 'soon' is not a number of seconds" \
  env H2K_STALL_TIMEOUT=soon vs-ls --url "http://127.0.0.1:9/sdk" --username u --password-file "$tmp/pw"
EXPECT_STATUS=2 expect_fail "so is --stall-timeout 0" \
  "--stall-timeout: '0' is not a number of seconds" \
  vs-pull --stall-timeout 0 -o "$tmp/f.bin" "http://127.0.0.1:9/folder/f.bin?dsName=ds1"

# An external entity naming a local file: refused, and the file's
# contents appear nowhere.
ncase=$((ncase + 1))
srv_start xxe
st=0
vs-ls --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw" \
  > "$tmp/out" 2> "$tmp/err" || st=$?
srv_stop
is "vs-ls, external entity: exit 1" "$st" 1
ok "... refused for its DOCTYPE" grep -q "refused: the document has a DOCTYPE" "$tmp/err"
ok "... the local file is read nowhere" \
  bash -c '! grep -qF "$(cat "$1")" "$2" "$3"' _ "$tmp/secret.txt" "$tmp/out" "$tmp/err"

# A reply without end: refused at the limit, memory bounded by it.
ncase=$((ncase + 1))
if command -v /usr/bin/time > /dev/null; then
  srv_start huge --huge-mib 320
  st=0
  /usr/bin/time -f '%M' -o "$tmp/rss" vs-ls --url "http://127.0.0.1:$port/sdk" \
    --username u --password-file "$tmp/pw" > /dev/null 2> "$tmp/err" || st=$?
  srv_stop
  is "vs-ls, a 320 MiB reply: exit 1" "$st" 1
  ok "... refused at the limit" grep -q "reply is larger than 256 MiB: refused" "$tmp/err"
  rss_kib=$(tail -n 1 "$tmp/rss")
  diag "peak RSS $((rss_kib / 1024)) MiB"
  # The limit plus the program: well under the reply's size, never more.
  if [ -n "${H2K_SANITIZE:-}" ] && [ "$H2K_SANITIZE" = 1 ]; then
    skip "peak memory (ASan's shadow memory counts too)"
  elif [ "$rss_kib" -lt $((300 * 1024)) ]; then
    pass "... peak RSS $((rss_kib / 1024)) MiB, under 300 MiB"
  else
    fail "... peak RSS $((rss_kib / 1024)) MiB"
  fi
else
  skip "GNU time not installed"
fi

# Redirects to another host: not followed; nothing reaches that host.
# The "other host" is another loopback address: it must see no request.
python3 "$H2K_TOP/tests/hostileserver.py" --mode redirect --host 127.0.0.2 \
  --log "$tmp/log-other.jsonl" > "$tmp/other.out" 2>/dev/null &
elsewhere=$!
cleanup_fn kill "$elsewhere"
for _ in $(seq 300); do grep -q PORT= "$tmp/other.out" 2>/dev/null && break; sleep 0.1; done
eport=$(sed -n 's/PORT=//p' "$tmp/other.out")
for mode in redirect redirect-after-login; do
  ncase=$((ncase + 1))
  srv_start "$mode" --redirect-to "http://127.0.0.2:$eport/sdk"
  EXPECT_STATUS=1 expect_fail "vs-ls, $mode: not followed, said" "HTTP 302" \
    vs-ls --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw"
  srv_stop
done
ok "... the login happened (the session cookie was set)" \
  grep -q '"method": "POST"' "$tmp/log-redirect-after-login.jsonl"
is "... the other host received nothing" "$(wc -l < "$tmp/log-other.jsonl")" 0
ok "... no password in what the other host saw" \
  bash -c '! grep -qF "$1" "$2"' _ "$secret" "$tmp/log-other.jsonl"

# vs-pull over plain URLs: /folder replies that lie.
folder_case ()
{
  local desc=$1 mode=$2 pattern=$3
  ncase=$((ncase + 1))
  srv_start "$mode"
  rm -f "$tmp/f.bin" "$tmp/f.bin.part" "$tmp/f.bin.part.state"
  EXPECT_STATUS=1 expect_fail "vs-pull, $desc" "$pattern" \
    vs-pull --retries 1 --retry-wait 0.01 --chunk-size 64k -o "$tmp/f.bin" \
    "http://127.0.0.1:$port/folder/f.bin?dsName=ds1"
  ok "... no output file" test ! -e "$tmp/f.bin"
  srv_stop
}
folder_case "a Content-Range for other bytes" folder-cr-wrong \
  "asked for bytes [0-9]+-[0-9]+, the server sent Content-Range: bytes 8192-12287/1048576"
folder_case "a Content-Range total that changed" folder-cr-total \
  "the file is now 2097152 bytes, not 1048576"
folder_case "a body shorter than its Content-Length" folder-cl-short \
  "f.bin\\?dsName=ds1: bytes [0-9]+-[0-9]+: transfer closed with [0-9]+ bytes remaining"
folder_case "a body longer than the file" folder-cl-long \
  "the server sent 200 with 2097152 bytes, but the file has 1048576"

diag "hostile server: $ncase cases tried"
