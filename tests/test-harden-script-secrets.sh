#!/usr/bin/env bash
# A known password through the scripts (h2k-migrate, h2k-sync, h2k-watch
# with a job file) and vs-cbt, given every way they take one
# (--password-file, GOVC_PASSWORD, GOVC_URL), under failures (a wrong
# password, a server fault quoting the Login request, a server dying at
# Login) and on success.  The password must appear in nothing they print or
# write (stdout, stderr, every file under the run's directories:
# migration.json, logs, .errors/*.json, result.json), and in no command
# line of any process they start, sampled from /proc while they run.
#
# The environment: the scripts pass the connection to the vs-* programs
# as they got it, so a password given in GOVC_PASSWORD or GOVC_URL is in
# their children's environments too (as govc's own tools pass it), and a
# prompted one is exported as GOVC_PASSWORD.  /proc/PID/environ is
# readable by the same user (and root) only, as a 0600 file would be, and
# it leaves nothing on disk; so that is accepted, and counted.  A password
# given by --password-file must reach no child's environment.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires python3 --version
requires jq --version
requires qemu-img --version
requires qemu-io --version
command -v h2k-migrate >/dev/null || PATH=$PATH:$H2K_TOP/scripts
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_DATACENTER GOVC_INSECURE
cd "$tmp"

pw="Zq7-secret-$RANDOM$RANDOM"
printf '%s\n' "$pw" > pwfile
mark="h2k-mark-$RANDOM$RANDOM"

truncate -s 1M d.raw
qemu-io -f raw -c 'write -P 0x61 0 64k' d.raw >/dev/null
chain=$("$H2K_TOP/tests/guests/vmware-chain.sh" d.raw chain sys)

srv_pid=
srv_start ()
{
  rm -f srv.out
  python3 "$H2K_TOP/tests/hostileserver.py" --mode "$1" --log "srv-$1.log" > srv.out 2>/dev/null &
  srv_pid=$!
  cleanup_fn kill "$srv_pid"
  for _ in $(seq 300); do grep -q PORT= srv.out 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/PORT=//p' srv.out)
  [ -n "$port" ]
}
srv_stop () { kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }

# sample FILE: until the file stop exists, the command lines and the
# environments of every process carrying $mark in its environment (the
# run's descendants), appended to FILE as cmdline/environ records.
sample ()
{
  python3 - "$mark" "$1" stop ready <<'PY'
import os, sys, time
mark, out, stop, ready = sys.argv[1].encode(), sys.argv[2], sys.argv[3], sys.argv[4]
seen = {}
me = os.getpid()
while True:
    done = os.path.exists(stop)
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            env = open("/proc/%s/environ" % pid, "rb").read()
            cmd = open("/proc/%s/cmdline" % pid, "rb").read()
        except OSError:
            continue
        if b"H2K_SECRETS_MARK=" + mark not in env:
            continue
        seen[(pid, cmd)] = env
    if done:
        break
    open(ready, "w").close()
    time.sleep(0.01)
with open(out, "wb") as f:
    for (pid, cmd), env in seen.items():
        f.write(b"CMD " + cmd.replace(b"\0", b" ") + b"\n")
        f.write(b"ENV " + env.replace(b"\0", b" ") + b"\n")
PY
}

# run_way WAY URL CMD...: CMD with the password given WAY (file, env,
# url), sampled; its output in all, the samples in procs.
run_way ()
{
  local way=$1 url=$2; shift 2
  rm -rf outdir stop ready procs; mkdir outdir
  sample procs & local sp=$!
  # The sampler is looking before the command starts.
  for _ in $(seq 600); do [ -e ready ] && break; sleep 0.05; done
  local -a pre=(env H2K_SECRETS_MARK="$mark")
  case $way in
    file) "${pre[@]}" GOVC_URL="$url" GOVC_USERNAME=admin "$@" --password-file "$tmp/pwfile" > o.txt 2> e.txt || true ;;
    env) "${pre[@]}" GOVC_URL="$url" GOVC_USERNAME=admin GOVC_PASSWORD="$pw" "$@" > o.txt 2> e.txt || true ;;
    url) "${pre[@]}" GOVC_URL="${url/:\/\//://admin:$pw@}" "$@" > o.txt 2> e.txt || true ;;
  esac
  touch stop
  wait "$sp" || true
  cat o.txt e.txt > all
  find outdir -type f -exec cat {} + >> all 2>/dev/null || true
}

ncase=0 nchild_env=0
check_case ()
{
  local desc=$1 want=$2 way=$3
  ncase=$((ncase + 1))
  local nproc
  nproc=$(grep -c '^CMD ' procs || true)
  if grep -qF -- "$pw" all; then
    fail "$desc: the password appears in the output or a written file"
    diag "$(grep -aF -- "$pw" all | head -n 3 | sed "s/$pw/<PASSWORD>/g")"
  elif grep -a '^CMD ' procs | grep -qF -- "$pw"; then
    fail "$desc: the password is on a child's command line"
    diag "$(grep -a '^CMD ' procs | grep -aF -- "$pw" | head -n 3 | sed "s/$pw/<PASSWORD>/g" | cut -c1-300)"
  elif [ "$way" = file ] && grep -a '^ENV ' procs | grep -qF -- "$pw"; then
    fail "$desc: --password-file, yet the password is in a child's environment"
  elif ! grep -qaE -- "$want" all; then
    fail "$desc: message does not match /$want/"
    diag "$(tail -n 5 all)"
  else
    pass "$desc: nothing shows the password ($nproc processes sampled)"
  fi
  nchild_env=$((nchild_env + $(grep -a '^ENV ' procs | grep -cF -- "$pw" || true)))
}

# The programs and scripts, each as a command taking the connection from
# GOVC_* (and --password-file after its other arguments).
watch_job ()
{
  rm -rf drop wout; mkdir drop
  jq -nc --arg vm "$1" '{vm: $vm}' > drop/job.json
  local pf=()
  [ "$2" != --password-file ] || pf=(--migrate-arg=--password-file="$3")
  "$H2K_WATCH" --once --no-fix --stable-seconds 1 --out "$tmp/outdir/wout" "${pf[@]}" drop
  local st=$?
  cp -r drop outdir/drop 2>/dev/null || true
  return "$st"
}
mig () { h2k-migrate --no-fix --out "$tmp/outdir/m" -- "$@"; }
mig_file () { local vm=$1; shift; h2k-migrate --no-fix --out "$tmp/outdir/m" "$@" -- "$vm"; }
sync_run () { local vm=$1; shift; h2k-sync "$@" -- "$vm" "$tmp/outdir/s"; }
cbt () { local vm=$1; shift; vs-cbt --insecure --vm "$vm" --snapshot "$@"; }
export -f mig mig_file sync_run cbt watch_job
export H2K_WATCH tmp

ways=(file env url)
run_all ()  # URL VM WANT-REGEX LABEL
{
  local url=$1 vm=$2 want=$3 label=$4 way
  for way in "${ways[@]}"; do
    export GOVC_INSECURE=1
    run_way "$way" "$url" bash -c 'mig_file "$@"' _ "$vm"
    check_case "h2k-migrate, $label, $way" "$want" "$way"
    run_way "$way" "$url" bash -c 'sync_run "$@"' _ "$vm"
    check_case "h2k-sync, $label, $way" "$want" "$way"
    run_way "$way" "$url" bash -c 'cbt "$@"' _ "$vm"
    check_case "vs-cbt, $label, $way" "$want" "$way"
    run_way "$way" "$url" bash -c 'watch_job "$@"' _ "$vm"
    check_case "h2k-watch job, $label, $way" "$want|h2k-migrate" "$way"
    unset GOVC_INSECURE
  done
}

start_vcsim -username admin -password "$pw" -vm-disk "web=$chain"
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_INSECURE
good=$VCSIM_URL
# Success: the migration is done, the sync refused (CBT off), and the
# password is nowhere.
run_all "$good" web "migrated into|Changed Block Tracking is off|converted" "the right password"
ok "... the migration happened (migration.json done)" \
  sh -c 'jq -e ".status == \"done\"" outdir/wout/job/migration.json >/dev/null'
start_vcsim -username admin -password "not-$pw" -vm-disk "web=$chain"
unset GOVC_URL GOVC_USERNAME GOVC_PASSWORD GOVC_INSECURE
run_all "$VCSIM_URL" web "InvalidLogin|incorrect user name or password" "a wrong password"

srv_start login-echo
run_all "http://127.0.0.1:$port/sdk" web "Login: fault: cannot log in" "a fault quoting the Login request"
srv_stop
srv_start die-after-login
run_all "http://127.0.0.1:$port/sdk" web "Empty reply|reset|Recv failure|closed" "the server dies at Login"
srv_stop

diag "script secrets: $ncase cases, ${#ways[@]} ways; $nchild_env child environments held the password (given in GOVC_PASSWORD or GOVC_URL: the user's variable, inherited)"
