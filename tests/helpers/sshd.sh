# shellcheck shell=bash
# Loopback sshd hosts for the multi-host tests and bench/migrate-batch.sh:
# each sshd of its own on a 127.0.0.0/8 address, key only, with its own
# host key and a free port, as a conversion host for GNU parallel's
# --sshloginfile.  Sourced by a test after functions.sh (its cleanup_fn
# stops the daemons at exit); a script without functions.sh defines its
# own cleanup_fn CMD ARGS... first.
#
#   . "$H2K_TOP/tests/helpers/sshd.sh"
#   sshd_setup "$tmp/ssh"              # the client key, known_hosts
#   sshd_start 127.0.0.2               # port and pid in sshd_port[], sshd_pid[]
#   sshd_hosts_file hosts.txt 127.0.0.2 127.0.0.3
#   sshd_wait_up 60 127.0.0.2 || ...
#
# sshd runs as the user that starts it (root here: the tests that use it
# require it), with PermitRootLogin prohibit-password.

declare -A sshd_port=() sshd_pid=()
sshd_dir=

# sshd_free_port: a port nobody listens on (checked with ss).
sshd_free_port ()
{
  local p
  while :; do
    p=$(( 20000 + RANDOM % 20000 ))
    ss -ltn | awk '{print $4}' | grep -q ":$p\$" || { echo "$p"; return; }
  done
}

# sshd_setup DIR: the client's key (DIR/id), the daemons' authorized_keys
# and the client's known_hosts, all in DIR (made here, mode 700).
sshd_setup ()
{
  sshd_dir=$1
  mkdir -p "$sshd_dir"
  chmod 700 "$sshd_dir"
  ssh-keygen -q -t ed25519 -N '' -f "$sshd_dir/id" -C h2k-test
  cp "$sshd_dir/id.pub" "$sshd_dir/authorized_keys"
  : > "$sshd_dir/known_hosts"
  mkdir -p /run/sshd 2>/dev/null || true
}

# sshd_start ADDR: an sshd on ADDR (in the foreground of a background job,
# its messages in DIR/sshd-ADDR.log), stopped at exit.
sshd_start ()
{
  local a=$1 p d=$sshd_dir
  p=$(sshd_free_port)
  ssh-keygen -q -t ed25519 -N '' -f "$d/host-$a" -C "host $a"
  cat > "$d/sshd-$a.conf" <<CONF
ListenAddress $a:$p
HostKey $d/host-$a
PidFile $d/sshd-$a.pid
AuthorizedKeysFile $d/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel ERROR
CONF
  /usr/sbin/sshd -D -e -f "$d/sshd-$a.conf" 2>>"$d/sshd-$a.log" &
  sshd_pid[$a]=$!
  cleanup_fn kill "${sshd_pid[$a]}"
  sshd_port[$a]=$p
  printf '[%s]:%s %s\n' "$a" "$p" "$(cut -d' ' -f1,2 "$d/host-$a.pub")" >> "$d/known_hosts"
}

# sshd_stop ADDR: stop ADDR's sshd and wait for it.
sshd_stop ()
{
  kill "${sshd_pid[$1]}" 2>/dev/null || true
  wait "${sshd_pid[$1]}" 2>/dev/null || true
}

# sshd_command ADDR: the ssh command that reaches ADDR (key, known_hosts,
# port, no prompts), as one line for a host file.
sshd_command ()
{
  printf 'ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 -p %s' \
    "$sshd_dir/id" "$sshd_dir/known_hosts" "${sshd_port[$1]}"
}

# sshd_hosts_file FILE ADDR...: GNU parallel's --sshloginfile for ADDRs,
# one job at a time on each ("1/ssh ... root@ADDR").
sshd_hosts_file ()
{
  local f=$1 a; shift
  for a in "$@"; do
    printf '1/%s root@%s\n' "$(sshd_command "$a")" "$a"
  done > "$f"
}

# sshd_up ADDR: true when ADDR's sshd takes the key.
sshd_up ()
{
  ssh -i "$sshd_dir/id" -o UserKnownHostsFile="$sshd_dir/known_hosts" -o BatchMode=yes \
    -o ConnectTimeout=10 -p "${sshd_port[$1]}" "root@$1" true </dev/null 2>/dev/null
}

# sshd_wait_up SECONDS ADDR: poll until ADDR's sshd takes the key; false
# after SECONDS.
sshd_wait_up ()
{
  local limit=$1 a=$2 i=0
  until sshd_up "$a"; do
    i=$((i + 1))
    [ "$i" -lt $((limit * 5)) ] || return 1
    sleep 0.2
  done
}
