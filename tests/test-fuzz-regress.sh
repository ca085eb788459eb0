#!/usr/bin/env bash
# The fuzz targets (tests/fuzz/, built by make fuzz-build with clang) as a
# regression run: each replays its seed corpus, then the inputs that once
# crashed it (written here from text, never committed as binaries), then
# fuzzes a few seconds.  A crash, a sanitizer report or a hang (10 s per
# input) fails the target.  H2K_FUZZ_SECONDS sets the seconds (default 3).
. "$(dirname "$0")/functions.sh"
requires clang --version
fz=$H2K_TOP/build/fuzz
[ -d "$H2K_TOP/bin/fuzz" ] || skip_all "fuzz targets not built (make fuzz-build)"
[ -d "$fz/seeds" ] || skip_all "no seed corpora (make fuzz-build)"
secs=${H2K_FUZZ_SECONDS:-3}

# Inputs that crashed a target once, one directory per target.
reg=$tmp/regress
mkdir -p "$reg/http-range" "$reg/vmx" "$reg/jsonl" "$reg/qcow2" "$reg/vmdk" "$reg/probe"
# A status line whose code runs to the end of the line: strtol read past
# the header buffer, which libcurl does not terminate.
printf 'HTTP/1.105 \r\nContent1anRge:\0\0\0z bytes 5-9/*\r\n\r\n' > "$reg/http-range/status-at-end"
printf 'HTTP/1.1 206' > "$reg/http-range/status-no-crlf"
printf 'Retry-After: 1e3' > "$reg/http-range/retry-after-unterminated"
printf 'Content-Type: multipart' > "$reg/http-range/ctype-unterminated"
# A VMX without disks: qsort_r on an empty, NULL array.
printf 'displayName = "x"\n' > "$reg/vmx/no-disks"
printf '{"kind":"vm","name":"w","disks":[{"key":2000,"file":"[ds1] w/w.vmdk","chain":[1]}]}\n' > "$reg/jsonl/chain-number"
# Hangs (over the 10 s timeout): a 32 TiB qcow2 in 704 KiB whose 65,536
# L1 entries share one full L2 table, and an 8 TiB hosted sparse VMDK in
# 1.1 MB whose 262,144 directory entries share one full grain table; the
# deep check walked the table for each entry (hundreds of millions of
# lookups).  The probe target reads both.
. "$H2K_TOP/tests/fuzz/hostile-disks.sh"
qcow2_shared_l2 "$reg/qcow2/shared-l2" 65536
vmdk_shared_gt "$reg/vmdk/shared-gt" 262144
cp "$reg/qcow2/shared-l2" "$reg/vmdk/shared-gt" "$reg/probe/"

n=0
for b in "$H2K_TOP"/bin/fuzz/fuzz-*; do
  t=${b##*/fuzz-}
  n=$((n + 1))
  inputs=("$fz/seeds/$t")
  [ -d "$reg/$t" ] && inputs+=("$reg/$t")
  # Replay: every input once.
  if ! "$b" -runs=0 -timeout=10 -rss_limit_mb=2048 "${inputs[@]}" \
       < /dev/null > "$tmp/$t.replay" 2>&1; then
    fail "$t: replaying its seeds and past crashes"
    diag "$(grep -E 'ERROR|runtime error|SUMMARY|Test unit' "$tmp/$t.replay" | head -n 5)"
    continue
  fi
  # A short fuzzing run from a copy of the seeds (the seeds stay as made).
  mkdir -p "$tmp/corpus-$t" "$tmp/crash-$t"
  cp -r "${inputs[@]/%//.}" "$tmp/corpus-$t/" 2>/dev/null || true
  case $t in
    vhdx) max_len=4194304 ;;   # VHDX regions start past the first MiB
    vmdk|vhd|qcow2|probe|vmdk-stream|ova) max_len=1048576 ;;
    *) max_len=65536 ;;
  esac
  # The target's dictionary, as make fuzz gives it (a bad one fails here).
  dict=()
  [ -f "$H2K_TOP/tests/fuzz/$t.dict" ] && dict=(-dict="$H2K_TOP/tests/fuzz/$t.dict")
  if "$b" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
       -max_len="$max_len" -artifact_prefix="$tmp/crash-$t/" "${dict[@]}" \
       "$tmp/corpus-$t" < /dev/null > "$tmp/$t.log" 2>&1; then
    pass "$t: seeds, $(find "${inputs[@]}" -type f | wc -l) inputs replayed, then ${secs}s: $(grep -E '^#[0-9]+' "$tmp/$t.log" | tail -n 1 | sed 's/  */ /g')"
  else
    fail "$t: fuzzing ${secs}s found a crash"
    diag "$(grep -E 'ERROR|runtime error|SUMMARY' "$tmp/$t.log" | head -n 5)"
    for c in "$tmp/crash-$t"/*; do
      [ -f "$c" ] && diag "input (base64): $(base64 -w0 < "$c" | head -c 2000)"
    done
  fi
done
[ "$n" -gt 0 ] || fail "no fuzz target under bin/fuzz"
