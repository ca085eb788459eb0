#!/usr/bin/env bash
# make check-load: the test suite with busy loops beside it, the way a
# loaded CI machine runs it.  A test that fails here and passes on a quiet
# machine waits for a time instead of a condition: make it wait for the
# condition.
# Usage: tests/check-load.sh LOOPS MAKE [MAKE ARGS...]
set -euo pipefail
loops=$1; shift
pids=()
stop () { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
for _ in $(seq "$loops"); do
  # Each loop stops by itself after two hours, should this script die.
  timeout 7200 sh -c 'while :; do :; done' &
  pids+=("$!")
done
echo "check-load: $loops busy loops beside the suite (pids ${pids[*]})"
"$@" check
