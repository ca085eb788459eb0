# Helpers for the tests that start a domain virt-define wrote with
# libvirt's embedded QEMU driver (virt-qemu-run: libvirt and qemu in one
# process, no daemon).  Source it after functions.sh.
#
#   embed_setup                   $run, and as_user for running as nobody
#   embed_adapt XML OUT NAME      the test-only changes to a domain
#   embed_run NAME REGEXP SECS    start $run/NAME.xml, wait, stop

# embed_setup: $run, a directory for the domains and their consoles, and
# the as_user command prefix.  libvirt's privileged embedded driver wants
# the libvirt-qemu user; as root without it, libvirt and qemu run as
# nobody in $run.
embed_setup ()
{
  run=$tmp/run
  mkdir "$run"
  as_user=()
  if [ "$(id -u)" = 0 ] && ! id libvirt-qemu >/dev/null 2>&1; then
    command -v setpriv >/dev/null || skip_all "root without libvirt-qemu, and no setpriv"
    chmod 711 "$tmp"
    # The embedded driver keeps its state under $XDG_CACHE_HOME and the
    # like when they are set: point them into $run as well, where nobody
    # can write.
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups env HOME="$run"
             XDG_CACHE_HOME="$run/.cache" XDG_CONFIG_HOME="$run/.config"
             XDG_RUNTIME_DIR="$run/.run")
  fi
}

# embed_adapt XML OUT NAME: the two changes the embedded driver needs,
# since it has neither a network driver nor a way to read a pty: the NIC
# becomes user-mode networking (MAC and model kept), and the serial
# console goes to the file $run/NAME.log.
embed_adapt ()
{
  sed -e 's#<interface type="network">#<interface type="user">#' \
      -e '/<source network=/d' \
      -e "s#<serial type=\"pty\">#<serial type=\"file\"><source path=\"$run/$3.log\"/>#" \
      -e "s#<console type=\"pty\">#<console type=\"file\"><source path=\"$run/$3.log\"/>#" \
      "$1" > "$2"
}

# embed_stop PID NAME: stop virt-qemu-run PID and the qemu it started.
embed_stop ()
{
  kill "$1" 2>/dev/null || true
  local pidfile
  for pidfile in "$run/$2-root"/run/qemu/*.pid; do
    [ -f "$pidfile" ] || continue
    sleep 2
    kill "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || true
  done
  wait "$1" 2>/dev/null || true
}

# embed_run NAME REGEXP SECS: start $run/NAME.xml in its own embedded
# root, wait until its console ($run/NAME.log) matches the extended
# REGEXP (then a little more, for the rest of the line), virt-qemu-run
# exits, or SECS seconds pass; then stop it.  It is stopped at exit too,
# whatever happens.  virt-qemu-run's own output is in $tmp/NAME.run.
embed_run ()
{
  local name=$1 regexp=$2 end pid
  # stdio_handler=file avoids virtlogd.
  mkdir -p "$run/$name-root/etc"
  echo 'stdio_handler = "file"' > "$run/$name-root/etc/qemu.conf"
  [ ${#as_user[@]} -eq 0 ] || chown -R 65534:65534 "$run"
  "${as_user[@]}" virt-qemu-run --root "$run/$name-root" "$run/$name.xml" \
    > "$tmp/$name.run" 2>&1 &
  pid=$!
  cleanup_fn embed_stop "$pid" "$name"
  end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ] && kill -0 "$pid" 2>/dev/null; do
    if grep -qaE "$regexp" "$run/$name.log" 2>/dev/null; then
      sleep 3
      break
    fi
    sleep 2
  done
  embed_stop "$pid" "$name"
}
