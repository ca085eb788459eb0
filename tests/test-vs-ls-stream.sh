#!/usr/bin/env bash
# vs-ls reads the property collector's replies as a stream, one object at
# a time: against a server that ignores the page size it asks for
# (h2k-vcsim -ignore-max-objects, as upstream's simulator does) and
# answers 2,000 VMs in one reply, its peak memory stays near what 200 VMs
# cost; a reply that breaks off, or whose XML ends, in the middle of a VM
# fails with a clear message, exit 1 and no output at all.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires python3 --version
export GOVC_INSECURE=1

# listing N: vs-ls against a simulator with N VMs answering in one reply;
# sets $rss (KiB, when GNU time is there) and leaves the listing in
# $tmp/list-N.jsonl and the simulator's trace in $tmp/trace-N.
listing ()
{
  local n=$1
  start_vcsim -vm $((n / 2)) -ignore-max-objects -trace-file "$tmp/trace-$n"
  rss=
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o "$tmp/rss-$n" vs-ls > "$tmp/list-$n.jsonl"
    rss=$(tail -n 1 "$tmp/rss-$n")
  else
    vs-ls > "$tmp/list-$n.jsonl"
  fi
  stop_vcsim "$VCSIM_PID"
}

listing 200
rss200=$rss
listing 2000
rss2000=$rss
is "200 VMs listed" "$(wc -l < "$tmp/list-200.jsonl")" 200
is "2000 VMs listed" "$(jq -r .name "$tmp/list-2000.jsonl" | sort -u | wc -l)" 2000
ok "... every record has its disks and host" \
  jq -e -s 'all(.[]; (.disks | length) > 0 and (.host | type) == "string")' "$tmp/list-2000.jsonl"
ok "vs-ls asked for pages of 100" grep -q '<maxObjects>100</maxObjects>' "$tmp/trace-2000"
ok "... and the server answered all 2000 in one reply (no ContinueRetrievePropertiesEx)" \
  bash -c '! grep -q "<ContinueRetrievePropertiesEx" "$1"' _ "$tmp/trace-2000"

if [ -z "$rss200" ]; then
  skip "peak memory: GNU time not installed"
  skip "peak memory: GNU time not installed"
elif [ "${H2K_SANITIZE:-}" = 1 ]; then
  diag "peak RSS (ASan) 200 VMs: $((rss200 / 1024)) MiB, 2000 VMs: $((rss2000 / 1024)) MiB"
  skip "peak memory (ASan's shadow memory counts too)"
  skip "peak memory (ASan's shadow memory counts too)"
else
  diag "peak RSS 200 VMs: $((rss200 / 1024)) MiB, 2000 VMs: $((rss2000 / 1024)) MiB"
  # Whole-reply trees took 31 and 179 MiB; streamed, with the listing
  # kept in a temporary file until the end, 17.5 and 17.6 MiB.
  if [ "$rss2000" -lt $((rss200 * 2)) ]; then
    pass "peak RSS for 2000 VMs in one reply is under twice that for 200"
  else
    fail "peak RSS for 2000 VMs in one reply is under twice that for 200"
  fi
  if [ "$rss2000" -lt $((64 * 1024)) ]; then
    pass "... and under 64 MiB"
  else
    fail "... and under 64 MiB"
  fi
fi

# The same listing read through the window of VMs waiting for names
# (every VM refers to a host not named yet at first) equals one made
# a page at a time.
start_vcsim -vm 20 -trace-file "$tmp/trace-paged"
vs-ls --page-size 7 > "$tmp/paged.jsonl"
vs-ls --page-size 1000 > "$tmp/whole.jsonl"
same_file "pages of 7 and one reply give the same listing" "$tmp/paged.jsonl" "$tmp/whole.jsonl"
stop_vcsim "$VCSIM_PID"

# The listing waits in a temporary file in TMPDIR: one that cannot be
# made is said at once.
EXPECT_STATUS=1 expect_fail "an unusable TMPDIR is named" \
  "^vs-ls: $tmp/no-such-dir: cannot create a temporary file for the listing" \
  env TMPDIR="$tmp/no-such-dir" vs-ls --url http://127.0.0.1:9/sdk --username u

# Replies that go wrong half way (tests/hostileserver.py).
printf '%s\n' 'stream-Pa55w0rd' > "$tmp/pw"
srv_pid=
srv_start ()
{
  rm -f "$tmp/srv.out"
  python3 "$H2K_TOP/tests/hostileserver.py" --mode "$1" --log "$tmp/log-$1.jsonl" \
    --objects 500 > "$tmp/srv.out" 2> "$tmp/srv.err" &
  srv_pid=$!
  cleanup_fn kill "$srv_pid"
  for _ in $(seq 300); do grep -q PORT= "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/PORT=//p' "$tmp/srv.out")
  [ -n "$port" ]
}
half_way ()
{
  local desc=$1 mode=$2 pattern=$3 st=0
  srv_start "$mode"
  vs-ls --url "http://127.0.0.1:$port/sdk" --username u --password-file "$tmp/pw" \
    > "$tmp/out" 2> "$tmp/err" || st=$?
  kill "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  is "$desc: exit 1" "$st" 1
  ok "... says so: $pattern" grep -Eq "$pattern" "$tmp/err"
  is "... no output, not even half a record" "$(wc -c < "$tmp/out")" 0
  ok "... no crash" bash -c '! grep -Eq "Sanitizer|runtime error:" "$1"' _ "$tmp/err"
}
half_way "the connection drops in the middle of a VM" objects-close \
  '^vs-ls: 127\.0\.0\.1:[0-9]+: RetrievePropertiesEx: the reply broke off after [0-9]+ objects: '
half_way "the XML ends in the middle of a VM" objects-cut \
  '^vs-ls: 127\.0\.0\.1:[0-9]+: RetrievePropertiesEx: the reply ends half way, after 250 objects \(reply\.xml: line'
