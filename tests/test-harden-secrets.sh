#!/usr/bin/env bash
# A known password, given every way the vs-* programs take one
# (--password-file, GOVC_PASSWORD, the URL, a prompt on the terminal), under
# failures: a wrong password (the simulator), a server that quotes the
# Login request back in its fault, a server that dies at Login, TLS to a
# server that does not speak it.  The password must appear in nothing the
# programs print or write: stdout, stderr, the terminal, files under the
# output directory.  vs-ls and vs-pull start no child processes (checked
# in the sources), so there is no child command line or environment to
# leak into.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires python3 --version
requires jq --version
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_DATACENTER GOVC_INSECURE
cd "$tmp"

pw="Zq7-secret-$RANDOM$RANDOM"
printf '%s\n' "$pw" > pwfile

# No program of these starts another: nothing to inherit the password.
ok "vs-ls, vs-pull and their libraries start no child process" \
  bash -c '! grep -nE "\b(fork|vfork|posix_spawn[p]?|execv[pe]?|execl[pe]?|popen|system) \(" \
    "$1"/cmd/vs-ls/*.c "$1"/cmd/vs-pull/*.c "$1"/lib/vsphere/*.c "$1"/lib/http/*.c' _ "$H2K_TOP"

srv_pid=
srv_start ()
{
  local mode=$1
  rm -f srv.out
  python3 "$H2K_TOP/tests/hostileserver.py" --mode "$mode" --log "srv-$mode.log" > srv.out 2>/dev/null &
  srv_pid=$!
  cleanup_fn kill "$srv_pid"
  for _ in $(seq 300); do grep -q PORT= srv.out 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/PORT=//p' srv.out)
  [ -n "$port" ]
}
srv_stop () { kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }

# run_way WAY URL PROG ARGS...: run PROG with the password given WAY;
# everything it printed in $tmp/all.
run_way ()
{
  local way=$1 url=$2; shift 2
  local prog=$1; shift
  rm -rf outdir; mkdir outdir
  case $way in
    file) "$prog" --url "$url" --username admin --password-file pwfile "$@" > o.txt 2> e.txt || true ;;
    env) GOVC_PASSWORD=$pw "$prog" --url "$url" --username admin "$@" > o.txt 2> e.txt || true ;;
    url) "$prog" --url "${url/:\/\//://admin:$pw@}" "$@" > o.txt 2> e.txt || true ;;
    prompt)
      # A terminal of our own: the program asks on it, we answer.
      python3 - "$pw" "$prog" --url "$url" --username admin "$@" > e.txt 2>&1 <<'PY' || true
import os, pty, sys, select, time
pw = sys.argv[1].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b""
answered = False
deadline = time.time() + 120
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 1)
    if not r:
        continue
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not answered and b"Password for" in out:
        os.write(fd, pw + b"\n")
        answered = True
os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.stdout.write("\nANSWERED=%s\n" % answered)
PY
      : > o.txt ;;
  esac
  cat o.txt e.txt > all
  find outdir -type f -exec cat {} + >> all 2>/dev/null || true
}

ncase=0
check_case ()
{
  local desc=$1 want=$2
  ncase=$((ncase + 1))
  if grep -qF -- "$pw" all; then
    fail "$desc: the password appears in the output"
    diag "$(grep -F -- "$pw" all | head -n 3 | sed "s/$pw/<PASSWORD>/g")"
  elif ! grep -qE -- "$want" all; then
    fail "$desc: message does not match /$want/"
    diag "$(tail -n 5 all)"
  else
    pass "$desc: failed without showing the password"
  fi
}

ways=(file env url prompt)
start_vcsim -username admin -password "right-password-not-ours"
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_INSECURE
vurl=$VCSIM_URL
for way in "${ways[@]}"; do
  run_way "$way" "$vurl" vs-ls --insecure
  check_case "vs-ls, wrong password, $way" "InvalidLogin|incorrect user name or password"
  run_way "$way" "$vurl" vs-pull --insecure --dir outdir "[LocalDS_0] x/x.vmdk"
  check_case "vs-pull, wrong password, $way" "InvalidLogin|incorrect user name or password"
  if [ "$way" = prompt ]; then
    ok "... the prompt was asked and answered on the terminal" grep -q "ANSWERED=True" e.txt
  fi
done

srv_start login-echo
for way in "${ways[@]}"; do
  run_way "$way" "http://127.0.0.1:$port/sdk" vs-ls
  check_case "vs-ls, a fault quoting the Login request, $way" "Login: fault: cannot log in with .*\(password\)"
  run_way "$way" "http://127.0.0.1:$port/sdk" vs-pull --dir outdir "[ds1] x/x.vmdk"
  check_case "vs-pull, a fault quoting the Login request, $way" "Login: fault: cannot log in"
done
srv_stop

srv_start die-after-login
for way in "${ways[@]}"; do
  run_way "$way" "http://127.0.0.1:$port/sdk" vs-ls
  check_case "vs-ls, the server dies at Login, $way" "Empty reply|reset|Recv failure|closed"
done
srv_stop

# TLS to a plain HTTP server.
srv_start truncated
for way in "${ways[@]}"; do
  run_way "$way" "https://127.0.0.1:$port/sdk" vs-ls --insecure
  check_case "vs-ls, TLS to a plain HTTP server, $way" "TLS|SSL"
done
srv_stop
diag "secrets: $ncase cases, ${#ways[@]} ways to give the password"
