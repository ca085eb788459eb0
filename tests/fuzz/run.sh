#!/usr/bin/env bash
# Run fuzz targets one after the other.
# Usage: tests/fuzz/run.sh FUZZDIR SECONDS TARGET...
# Each target starts from its seeds (FUZZDIR/seeds/T) and keeps what it
# finds in OUT/corpus/T; crashes, leaks and slow inputs go to
# OUT/crashes/T/.  OUT is $FUZZ_OUT, FUZZDIR when unset (a long run can
# keep its corpora outside the work tree).  A dictionary
# tests/fuzz/T.dict, when there is one, is given with -dict=.  One line
# per target is appended to OUT/summary.txt: executions, exec/s, corpus,
# edges (cov), features, peak RSS, the slowest input's seconds, crashes
# (timeouts and slow inputs included), and the load average at the end
# (the machine may be shared).  Exits 1 if any target found a crash.
set -euo pipefail
dir=$1 secs=$2; shift 2
out=${FUZZ_OUT:-$dir}
top=$(cd "$(dirname "$0")/../.." && pwd)
status=0
for t in "$@"; do
  bin=$top/bin/fuzz/fuzz-$t
  corpus=$out/corpus/$t crashes=$out/crashes/$t log=$out/log-$t.txt
  mkdir -p "$corpus" "$crashes"
  dict=()
  [ -f "$top/tests/fuzz/$t.dict" ] && dict=(-dict="$top/tests/fuzz/$t.dict")
  # Disk images and archives need room; texts stay small.
  case $t in
    vhdx) max_len=4194304 ;;
    vmdk|vhd|qcow2|probe|vmdk-stream|ova) max_len=1048576 ;;
    *) max_len=65536 ;;
  esac
  before=$(find "$crashes" -type f | wc -l)
  start=$(date +%s)
  rc=0
  # -reload=0: one process per corpus, nothing to reread (rereading a
  # growing corpus of 1 MiB inputs and hashing them again cost a sixth
  # of the OVA target's time).
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -reload=0 \
    -max_len="$max_len" -artifact_prefix="$crashes/" -print_final_stats=1 \
    "${dict[@]}" "$corpus" "$dir/seeds/$t" < /dev/null > "$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
  slow=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -n 1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(find "$corpus" -type f | wc -l)
  ncrash=$(( $(find "$crashes" -type f | wc -l) - before ))
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  line="$t: ${took}s runs=${runs:-?} exec/s=${eps:-?} corpus=$corp edges=${cov:-?} features=${ft:-?} peak_rss_mb=${rss:-?} slowest_s=${slow:-?} crashes=$ncrash exit=$rc load=\"$load\""
  echo "$line" | tee -a "$out/summary.txt"
  if [ "$rc" -ne 0 ] || [ "$ncrash" -gt 0 ]; then
    status=1
    grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -n 5 || true
  fi
done
exit "$status"
