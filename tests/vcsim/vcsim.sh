# Start the vCenter simulator from a shell test.  Source it after
# functions.sh:
#
#   . "$(dirname "$0")/functions.sh"
#   . "$H2K_TOP/tests/vcsim/vcsim.sh"
#   start_vcsim -username u -password p      # any h2k-vcsim flags
#   vs-ls --insecure ...                      # GOVC_URL etc. are exported
#
# start_vcsim skips the test file when the simulator is not built, waits
# for it to print its settings, evals them (GOVC_URL, GOVC_USERNAME,
# GOVC_PASSWORD, VCSIM_URL, VCSIM_HOSTPORT, VCSIM_THUMBPRINT,
# VCSIM_THUMBPRINT256, VCSIM_CERT, VCSIM_DS_<i>_NAME / VCSIM_DS_<i>_DIR,
# VCSIM_DS_COUNT, VCSIM_HOSTS (host names, one a line), VCSIM_PID) and
# stops it at exit.  It listens on a free loopback port, and its
# datastores live under $VCSIM_DIR/ds.  Pass
# "-trace-file $VCSIM_DIR/trace"-style paths with your own names: each call
# gets a fresh $VCSIM_DIR.  Several simulators may run at once; the last
# one started owns the exported variables.

VCSIM_BIN=${VCSIM_BIN:-$H2K_TOP/tests/vcsim/h2k-vcsim}

stop_vcsim ()
{
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  # It removes its datastore directories on SIGTERM; give it a moment.
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

start_vcsim ()
{
  [ -x "$VCSIM_BIN" ] || skip_all "the simulator is not built (make vcsim)"
  VCSIM_DIR=$(mktemp -d "$tmp/vcsim.XXXXXX")
  mkdir -p "$VCSIM_DIR/ds"
  TMPDIR=$VCSIM_DIR/ds "$VCSIM_BIN" -l 127.0.0.1:0 "$@" \
    >"$VCSIM_DIR/env" 2>"$VCSIM_DIR/log" &
  local pid=$! i
  cleanup_fn stop_vcsim "$pid"
  for i in $(seq 300); do
    grep -q '^export VCSIM_PID=' "$VCSIM_DIR/env" 2>/dev/null && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$VCSIM_DIR/log" >&2
      echo "start_vcsim: the simulator exited" >&2
      return 1
    fi
    sleep 0.1
  done
  grep -q '^export VCSIM_PID=' "$VCSIM_DIR/env" || {
    echo "start_vcsim: the simulator did not start" >&2
    return 1
  }
  eval "$(cat "$VCSIM_DIR/env")"
}

# jq_ok DESC FILTER FILE [JQ-OPTIONS...]: one test point, passing when the
# jq FILTER is true for every value of FILE (jq -e).
jq_ok ()
{
  local desc=$1 filter=$2 file=$3; shift 3
  if jq -e "$@" "$filter" "$file" >/dev/null 2>&1; then
    pass "$desc"
  else
    fail "$desc"
    diag "jq $* '$filter' gave: $(jq "$@" "$filter" "$file" 2>&1 | head -5)"
  fi
}

# quiet CMD...: run CMD with its standard output thrown away (for `ok`).
quiet ()
{
  "$@" >/dev/null
}
