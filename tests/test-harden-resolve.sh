#!/usr/bin/env bash
# vs-pull --direct where the hosts' names do not resolve (no --connect-to):
# not a transient fault.  With the default retries it must fail at once
# (one attempt, not ten backoffs over two minutes) and say --connect-to.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version

start_vcsim -ds 1
mkdir -p "$VCSIM_DS_0_DIR/files"
head -c 4096 /dev/urandom > "$VCSIM_DS_0_DIR/files/one.bin"

st=0
# The time limit only keeps a regression from hanging the suite; the
# checks are on what vs-pull says, not on how long it took.
timeout 600 vs-pull --thumbprint "$VCSIM_THUMBPRINT" --direct -v \
  --retry-wait 5 -o "$tmp/one.bin" "[LocalDS_0] files/one.bin" 2> "$tmp/err" || st=$?
is "--direct, names that do not resolve: exit 1" "$st" 1
ok "... curl's words, naming the host" grep -q "Could not resolve host" "$tmp/err"
ok "... says --connect-to" grep -q -- "--connect-to NAME:443:ADDRESS:443" "$tmp/err"
ok "... without retrying (no 'gave up after N attempts')" \
  bash -c '! grep -q "gave up after" "$1"' _ "$tmp/err"
ok "... and writes nothing" test ! -e "$tmp/one.bin"
[ "$st" = 1 ] || diag "$(cat "$tmp/err")"
