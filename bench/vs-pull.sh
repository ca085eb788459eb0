#!/usr/bin/env bash
# vs-pull benchmark: the same file pulled over loopback HTTPS by curl (one
# stream) and by vs-pull -j 1, -j 4 and -j 8, in one run.
#
#   bench/vs-pull.sh [SIZE_MIB] [RATE]
#
# Part 1 (throttled): tests/faultserver.py serves HTTPS with each connection
#   limited to RATE bytes/s (default 8 MiB/s), modelling a datastore's
#   per-stream cap.  The aim is at least 7x curl's throughput at -j 8.  The
#   last row is -j 8 on a file 8 times smaller: peak RSS must not grow with
#   the size.
# Part 2 (unthrottled): curl against vs-pull -j 1 on the simulator's
#   /folder (Go's HTTPS file server, tests/vcsim/h2k-vcsim; vs-pull logs in
#   through SOAP first, curl is given the URL), best of 3: the client's own
#   cost, the aim is within 10% of curl.  Without the simulator, the Python
#   server is used (then the server is the bottleneck).
#
# BENCH_PARTS=1 or 2 runs one part only.  Every result is checked with sha256 after the timing.  Prints a Markdown
# table for bench/RESULTS.md.  Needs python3, openssl, curl, /usr/bin/time
# and about 3 x SIZE of free disk in $BENCH_DIR (default /tmp).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PATH=$top/bin:$PATH
size_mib=${1:-2048}
rate=${2:-$((8 * 1024 * 1024))}
work=${BENCH_DIR:-${TMPDIR:-/tmp}}/h2k-bench-vs-pull
mkdir -p "$work/root" "$work/out"

big=$work/root/disk.bin
small=$work/root/small.bin
if [ "$(stat -c %s "$big" 2>/dev/null || echo 0)" -ne $((size_mib * 1024 * 1024)) ]; then
  head -c "${size_mib}M" /dev/urandom > "$big"
fi
if [ "$(stat -c %s "$small" 2>/dev/null || echo 0)" -ne $((size_mib * 1024 * 1024 / 8)) ]; then
  head -c $((size_mib * 1024 * 1024 / 8)) "$big" > "$small"
fi
want_big=$(sha256sum "$big" | cut -d' ' -f1)
want_small=$(sha256sum "$small" | cut -d' ' -f1)

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null

srv_pid=
start_server ()
{
  python3 "$top/tests/faultserver.py" --root "$work/root" --lifetime 3600 \
    --cert "$work/cert.pem" --key "$work/key.pem" "$@" > "$work/port" &
  srv_pid=$!
  for _ in $(seq 100); do grep -q PORT= "$work/port" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/PORT=//p' "$work/port")
}
stop_server () { kill "$srv_pid" 2>/dev/null || true; wait "$srv_pid" 2>/dev/null || true; }
trap stop_server EXIT

export GOVC_TLS_CA_CERTS=$work/cert.pem

# run NAME WANT FILE CMD...: time CMD, which writes $work/out/f; prints
# "wall rss_kib" after checking the result.
run ()
{
  local want=$1; shift
  rm -f "$work/out/f"
  sync
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > /dev/null
  local got
  got=$(sha256sum "$work/out/f" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "bench: $*: wrong result" >&2
    exit 1
  fi
  rm -f "$work/out/f"
  cat "$work/time"
}

row ()
{
  local name=$1 bytes=$2 wall=$3 rss=$4 base=${5:-}
  local mibs ratio=""
  mibs=$(awk -v b="$bytes" -v w="$wall" 'BEGIN { printf "%.1f", b / 1048576 / w }')
  [ -n "$base" ] && ratio=$(awk -v a="$base" -v w="$wall" 'BEGIN { printf "%.2fx", a / w }')
  printf '| %s | %s | %s | %s | %s |\n' "$name" "$wall" "$mibs" "$((rss / 1024))" "$ratio"
}

bytes=$((size_mib * 1024 * 1024))
url_big() { echo "https://127.0.0.1:$port/disk.bin"; }

if [[ ${BENCH_PARTS:-12} == *1* ]]; then
echo "## vs-pull: $size_mib MiB over loopback HTTPS, each connection throttled to $((rate / 1048576)) MiB/s"
echo
echo "| client | wall s | MiB/s | peak RSS MiB | speed vs curl |"
echo "|---|---|---|---|---|"
start_server --rate "$rate"
read -r w r < <(run "$want_big" curl -sS --cacert "$work/cert.pem" -o "$work/out/f" "$(url_big)")
curl_wall=$w
row "curl (one stream)" "$bytes" "$w" "$r" "$curl_wall"
for j in 1 4 8; do
  read -r w r < <(run "$want_big" vs-pull -j "$j" -o "$work/out/f" "$(url_big)")
  row "vs-pull -j $j" "$bytes" "$w" "$r" "$curl_wall"
  [ "$j" = 8 ] && rss_big=$r
done
read -r w r < <(run "$want_small" vs-pull -j 8 -o "$work/out/f" "https://127.0.0.1:$port/small.bin")
row "vs-pull -j 8, file 1/8 the size" "$((bytes / 8))" "$w" "$r"
stop_server
fi
[[ ${BENCH_PARTS:-12} == *2* ]] || exit 0

vcsim=$top/tests/vcsim/h2k-vcsim
sim_pid=
if [ -x "$vcsim" ]; then
  mkdir -p "$work/sim"
  TMPDIR=$work/sim "$vcsim" -l 127.0.0.1:0 > "$work/sim.env" 2> "$work/sim.log" &
  sim_pid=$!
  for _ in $(seq 100); do grep -q VCSIM_PID "$work/sim.env" 2>/dev/null && break; sleep 0.1; done
  eval "$(cat "$work/sim.env")"
  mkdir -p "$VCSIM_DS_0_DIR/bench"
  ln -f "$big" "$VCSIM_DS_0_DIR/bench/disk.bin"
  server="the simulator's /folder (Go)"
  curl_cmd=(curl -sS -k -o "$work/out/f" "${VCSIM_URL%/sdk}/folder/bench/disk.bin?dcPath=DC0&dsName=$VCSIM_DS_0_NAME")
  pull_src="[$VCSIM_DS_0_NAME] bench/disk.bin"
  export GOVC_INSECURE=1
else
  start_server
  server="tests/faultserver.py"
  curl_cmd=(curl -sS --cacert "$work/cert.pem" -o "$work/out/f" "$(url_big)")
  pull_src=$(url_big)
fi
trap 'stop_server; [ -z "$sim_pid" ] || kill "$sim_pid"' EXIT

echo
echo "## vs-pull: unthrottled, $size_mib MiB over loopback HTTPS from $server (best of 3)"
echo
echo "| client | wall s | MiB/s | peak RSS MiB | speed vs curl |"
echo "|---|---|---|---|---|"
best () {
  local b= br=
  for _ in 1 2 3; do
    read -r w r < <(run "$@")
    echo "bench: $(basename "$2") ${3:-}: $w s" >&2
    if [ -z "$b" ] || awk -v a="$w" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$w br=$r; fi
  done
  echo "$b $br"
}
read -r w r < <(best "$want_big" "${curl_cmd[@]}")
curl_wall=$w
row "curl (one stream)" "$bytes" "$w" "$r" "$curl_wall"
# vs-pull fsyncs a file before renaming it into place (and its state file
# names only synced bytes); curl leaves the writeback for later.  The same
# work for both: curl, then sync of the file.
read -r w r < <(best "$want_big" sh -c 'curl "$@" && sync "$0"' "$work/out/f" "${curl_cmd[@]:1}")
row "curl, then sync" "$bytes" "$w" "$r" "$curl_wall"
read -r w r < <(best "$want_big" vs-pull -j 1 -o "$work/out/f" "$pull_src")
row "vs-pull -j 1" "$bytes" "$w" "$r" "$curl_wall"
read -r w r < <(best "$want_big" vs-pull -j 4 -o "$work/out/f" "$pull_src")
row "vs-pull -j 4" "$bytes" "$w" "$r" "$curl_wall"

# The same into tmpfs, where neither write-back nor fsync costs anything:
# what is left is the client's own work (TLS, checks, CRC, pwrite).
if [ -d /dev/shm ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt $((size_mib * 1024 + 65536)) ]; then
  echo
  echo "Into tmpfs (/dev/shm): the client's own cost (best of 5; CPU = user + system seconds)"
  echo
  echo "| client | wall s | MiB/s | CPU s | speed vs curl |"
  echo "|---|---|---|---|---|"
  shm=$(mktemp -d /dev/shm/h2k-bench.XXXXXX)
  trap 'rm -rf "$shm"; stop_server; [ -z "$sim_pid" ] || kill "$sim_pid"' EXIT
  cpu_best () {
    local b= bc=
    for _ in 1 2 3 4 5; do
      rm -f "$shm/f"
      /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" > /dev/null
      read -r w u s < "$work/time"
      echo "bench: tmpfs $1 ${2:-}: $w s" >&2
      if [ -z "$b" ] || awk -v a="$w" -v b="$b" 'BEGIN { exit !(a < b) }'; then
        b=$w bc=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
      fi
    done
    [ "$(sha256sum "$shm/f" | cut -d' ' -f1)" = "$want_big" ] || { echo "bench: wrong result" >&2; exit 1; }
    rm -f "$shm/f"
    echo "$b $bc"
  }
  tcurl=()
  for a in "${curl_cmd[@]}"; do
    [ "$a" = "$work/out/f" ] && a=$shm/f
    tcurl+=("$a")
  done
  read -r w c < <(cpu_best "${tcurl[@]}")
  shm_curl=$w
  printf '| curl (one stream) | %s | %s | %s | 1.00x |\n' "$w" \
    "$(awk -v b="$bytes" -v w="$w" 'BEGIN { printf "%.1f", b / 1048576 / w }')" "$c"
  for j in 1 4; do
    read -r w c < <(cpu_best vs-pull -j "$j" -o "$shm/f" "$pull_src")
    printf '| vs-pull -j %s | %s | %s | %s | %s |\n' "$j" "$w" \
      "$(awk -v b="$bytes" -v w="$w" 'BEGIN { printf "%.1f", b / 1048576 / w }')" "$c" \
      "$(awk -v a="$shm_curl" -v w="$w" 'BEGIN { printf "%.2fx", a / w }')"
  done
fi
stop_server
