# Sourced by the vs-pull transfer tests after functions.sh: start and stop
# tests/faultserver.py (files under $tmp/root, faults on request) and read
# its counters.  Set scheme=https insecure=1 for its TLS mode.
requires python3 --version
requires curl --version
requires jq --version

fs_pid= port=
scheme=${scheme:-http} insecure=${insecure:-}

# fs_start [SERVER ARGS...]: start it; $port is its port.  Waits for the
# server to say its port (up to a minute on a loaded machine).
fs_start ()
{
  rm -f "$tmp/fs.out"
  python3 "$H2K_TOP/tests/faultserver.py" --root "$tmp/root" --lifetime 300 \
    "$@" > "$tmp/fs.out" 2> "$tmp/fs.err" &
  fs_pid=$!
  cleanup_fn kill "$fs_pid"
  for _ in $(seq 600); do
    grep -q PORT= "$tmp/fs.out" 2>/dev/null && break
    kill -0 "$fs_pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(sed -n 's/PORT=//p' "$tmp/fs.out")
  [ -n "$port" ]
}

fs_stop ()
{
  kill "$fs_pid" 2>/dev/null || true
  wait "$fs_pid" 2>/dev/null || true
}

# stats JQ-EXPR: read the server's counters.
stats () { curl -s${insecure:+k} "$scheme://127.0.0.1:$port/_stats" | jq -r "$1"; }
