#!/usr/bin/env bash
# The session API of lib/vsphere.h against the simulator: connect with a
# pin, views, paging and cancelling, tasks that succeed and fail, faults,
# a ranged /folder GET with the session's TLS settings and cookie,
# re-login.  The checks are in tests/unit/test-vsphere-session.c; this
# script gives it a simulator and checks the wire from the server's side.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"

prog=$H2K_BIN/tests/test-vsphere-session
[ -x "$prog" ] || skip_all "$prog is not built"

start_vcsim -trace-file "$tmp/trace"
st=0
"$prog" > "$tmp/tap" 2>&1 || st=$?
if [ "$st" -eq 0 ] && ! grep -q '^not ok' "$tmp/tap" && grep -q '^1\.\.[1-9]' "$tmp/tap"; then
  pass "the session API against the simulator ($(grep -c '^ok' "$tmp/tap") checks)"
else
  fail "the session API against the simulator (exit $st)"
  diag "$(grep -v '^ok' "$tmp/tap" | head -30)"
fi

ok "the stopped retrieval was cancelled on the server" grep -q '<CancelRetrievePropertiesEx' "$tmp/trace"
ok "the client asked for the page size it was given" grep -q '<maxObjects>1</maxObjects>' "$tmp/trace"
is "it logged out of both sessions" "$(grep -c '<Logout' "$tmp/trace")" 2
ok "the /folder GET went through the front door" grep -q '^GET /folder/h2k%20probe.bin?dcPath=DC0&dsName=LocalDS_0' "$tmp/trace"

# SIGTERM: the simulator stops and removes its datastore directories.
[ -d "$VCSIM_DS_0_DIR" ] && pass "the datastore directory exists while it runs" || fail "datastore directory"
kill "$VCSIM_PID"
for i in $(seq 50); do kill -0 "$VCSIM_PID" 2>/dev/null || break; sleep 0.1; done
ok "SIGTERM stops the simulator" bash -c "! kill -0 $VCSIM_PID 2>/dev/null"
ok "... and removes its datastore directories" test ! -e "$VCSIM_DS_0_DIR"
