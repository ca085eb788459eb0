# Shared helpers for h2k's shell tests.  Source it first:
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/functions.sh"
#   requires qemu-img --version        # skip the whole file if missing
#   qemu-img create -f vmdk "$tmp/a.vmdk" 1M
#   ok "flatten a fresh vmdk" vmdk-flatten "$tmp/a.vmdk" "$tmp/a.raw"
#   expect_fail "truncated header" "truncated" vmdk-flatten "$tmp/bad.vmdk" -
#
# The output is TAP, for prove.  Each `ok`/`expect_fail`/`pass`/`fail` is
# one test point; the plan is printed at exit.  A script that exits non-zero
# on its own (set -e, a failed command) is reported as a failed point, so a
# crash in setup cannot pass silently.  `skip_all REASON` (or a `requires`
# that is not met) skips the whole file.
#
# Variables provided:
#   $tmp        scratch directory, removed at exit
#   $H2K_TOP    top of the source tree
#   $H2K_BIN    directory of the programs under test (already on PATH)
#   $H2K_CACHE  cache for expensive fixtures, outside the repository
#   $H2K_SAMPLES  the shared sample disks (may not exist: test with -d)
#
# H2K_VALGRIND=1 (make check-valgrind sets it) runs every program of
# $H2K_BIN, and the test tools named in H2K_VALGRIND_TOOLS (default:
# bdev-cat, the disk reader), under valgrind: see _h2k_valgrind_setup.

set -e
set -o pipefail

H2K_TOP=${H2K_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
H2K_BIN=${H2K_BIN:-$H2K_TOP/bin}
H2K_CACHE=${H2K_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/h2k-tests}
H2K_SAMPLES=${H2K_SAMPLES:-$H2K_TOP/../shared/samples}
case ":$PATH:" in *":$H2K_BIN:"*) ;; *) PATH=$H2K_BIN:$PATH ;; esac
export H2K_TOP H2K_BIN H2K_CACHE H2K_SAMPLES PATH
mkdir -p "$H2K_CACHE"

# libguestfs only works with TCG on these machines (nested KVM aborts).
if [ "${H2K_TEST_KVM:-0}" != 1 ]; then
  export LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct}
  export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
fi

# Sanitizer reports get their own exit codes so that expect_fail can tell a
# caught crash from an ordinary, expected failure.
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:halt_on_error=1:print_stacktrace=1}
H2K_CRASH_CODES=" 86 87 "

tmp=$(mktemp -d "${TMPDIR:-/tmp}/h2k-test.XXXXXX")
export tmp

# Valgrind over the programs (H2K_VALGRIND=1).  A directory mirrors
# $H2K_BIN: each ELF program in it, and each test tool named in
# H2K_VALGRIND_TOOLS, is a small script that runs the real one under
# valgrind; everything else (the scripts, the fixture writers) is a
# symbolic link to the real file.  That directory becomes $H2K_BIN and
# comes first on PATH, so a test, and a script it runs, calls the wrapped
# programs without knowing.  The program's own exit status comes through;
# an error or a definite leak makes it 99 (a crash code for expect_fail),
# and valgrind's report goes to a log of its own, not to the stderr the
# test reads.  At exit every non-empty log fails one more test point,
# with the command that made it, so an error is caught even where a test
# ignores the status (`prog || true`).  Not with the sanitizer build:
# valgrind cannot run ASan programs.
H2K_VALGRIND_LOGS=
_h2k_valgrind_setup ()
{
  local real=$H2K_BIN vg=$tmp/.valgrind f rel name
  local tools=" ${H2K_VALGRIND_TOOLS-bdev-cat} "
  command -v valgrind >/dev/null || { echo "H2K_VALGRIND=1: valgrind is not installed" >&2; exit 1; }
  H2K_VALGRIND_LOGS=$vg/logs
  mkdir -p "$vg/bin/tests" "$H2K_VALGRIND_LOGS"
  for f in "$real"/* "$real"/tests/*; do
    [ -f "$f" ] && [ -x "$f" ] || continue
    rel=${f#"$real"/} name=${f##*/}
    if [ "$(head -c 4 "$f")" = $'\177ELF' ] &&
       { [ "$rel" = "$name" ] || [[ $tools == *" $name "* ]]; }; then
      # The log and the command line are named by the wrapper's process
      # id, which exec keeps for valgrind (its %p).
      {
        echo '#!/bin/sh'
        printf 'printf "%%s\\n" "$0 $*" > %q/%q.$$.cmd\n' "$H2K_VALGRIND_LOGS" "$name"
        printf 'exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-fds=no --log-file=%q/%q.%%p.log %q "$@"\n' \
          "$H2K_VALGRIND_LOGS" "$name" "$f"
      } > "$vg/bin/$rel"
      chmod +x "$vg/bin/$rel"
    else
      ln -s "$f" "$vg/bin/$rel"
    fi
  done
  H2K_BIN=$vg/bin
  PATH=$H2K_BIN:$PATH
  export H2K_BIN PATH H2K_VALGRIND_LOGS
  H2K_CRASH_CODES="${H2K_CRASH_CODES}99 "
}

# _h2k_valgrind_report: one failed test point if any valgrind log has
# something in it (printed with the command that wrote it).
_h2k_valgrind_report ()
{
  [ -n "$H2K_VALGRIND_LOGS" ] && [ -d "$H2K_VALGRIND_LOGS" ] || return 0
  local logs=() l runs
  runs=$(find "$H2K_VALGRIND_LOGS" -name '*.cmd' | wc -l)
  while IFS= read -r -d '' l; do logs+=("$l"); done \
    < <(find "$H2K_VALGRIND_LOGS" -name '*.log' -size +0 -print0)
  _tap_n=$((_tap_n + 1))
  if [ "${#logs[@]}" -eq 0 ]; then
    echo "ok $_tap_n - valgrind: no error in $runs program runs"
    return 0
  fi
  _tap_failed=$((_tap_failed + 1))
  echo "not ok $_tap_n - valgrind: errors in ${#logs[@]} of $runs program runs"
  for l in "${logs[@]:0:5}"; do
    diag "command: $(cat "${l%.log}.cmd" 2>/dev/null | head -c 500)" "$(head -n 40 "$l")"
  done
}


_tap_n=0
_tap_failed=0
_cleanups=()

# cleanup_fn CMD ARGS...: run CMD at exit (last registered runs first).
cleanup_fn ()
{
  _cleanups+=("$(printf '%q ' "$@")")
}

_h2k_exit ()
{
  local status=$?
  set +e
  local i
  for (( i=${#_cleanups[@]}-1; i>=0; i-- )); do
    eval "${_cleanups[$i]}" >/dev/null 2>&1
  done
  if [ "$status" -ne 77 ]; then
    _h2k_valgrind_report
  fi
  rm -rf "$tmp"
  if [ "$status" -eq 77 ]; then
    # make check prints this log after prove's summary, where CI's tail
    # shows it: a skipped slow test must not pass unnoticed.
    [ -n "${H2K_SKIP_LOG:-}" ] &&
      echo "$(basename "$0"): ${_skip_reason:-skipped}" >> "$H2K_SKIP_LOG"
    [ "$_tap_n" -eq 0 ] && echo "1..0 # SKIP ${_skip_reason:-skipped}"
    [ "$_tap_n" -gt 0 ] && echo "1..$_tap_n"
    exit 0
  fi
  if [ "$status" -ne 0 ]; then
    _tap_n=$((_tap_n + 1))
    echo "not ok $_tap_n - $(basename "$0") exited with status $status (line ${_h2k_line:-?})"
    echo "1..$_tap_n"
    exit 1
  fi
  if [ "$_tap_n" -eq 0 ]; then
    echo "ok 1 - $(basename "$0")"
    _tap_n=1
  fi
  echo "1..$_tap_n"
  [ "$_tap_failed" -eq 0 ] || exit 1
  exit 0
}
trap _h2k_exit EXIT
trap '_h2k_line=$LINENO' ERR
trap 'exit 130' INT TERM

if [ "${H2K_VALGRIND:-0}" = 1 ] && [ "${H2K_SANITIZE:-0}" != 1 ]; then
  _h2k_valgrind_setup
fi

# skip_all REASON: skip every test of this file.
skip_all ()
{
  _skip_reason=$*
  exit 77
}

# requires CMD ARGS...: skip this file unless CMD ARGS succeeds.
requires ()
{
  if ! "$@" >/dev/null 2>&1; then
    skip_all "requires: $*"
  fi
}

# slow_test REASON: a test of minutes (guest builds, boots under TCG).  The
# sanitizer run (make check SANITIZE=1) skips it: what it proves is the
# guest, and the C code it runs is covered under the sanitizers by the
# faster tests.  H2K_SLOW_TESTS=1 runs it anyway, =0 always skips it.
slow_test ()
{
  case "${H2K_SLOW_TESTS:-}" in
    1) return 0 ;;
    0) skip_all "slow test ($*): H2K_SLOW_TESTS=0" ;;
  esac
  if [ "${H2K_SANITIZE:-}" = 1 ]; then
    skip_all "slow test ($*): runs in the normal run only"
  fi
}

# requires_vmdk_gen: qemu-img and qemu-io, and $gen, the project's own
# VMDK writer (tests/tools/vmdk-gen) for the forms qemu-img cannot make.
requires_vmdk_gen ()
{
  requires qemu-img --version
  requires qemu-io --version
  gen=$H2K_BIN/tests/vmdk-gen
  [ -x "$gen" ] || skip_all "vmdk-gen not built"
}

# man_options PAGE: the options a man page documents, one per line
# ("--name" or "-x"): what its OPTIONS sections set in bold (.B, .BR, and
# the tag line after .TP).
man_options ()
{
  awk '
    /^\.SH/ { insec = ($0 ~ /OPTIONS/); next }
    insec && /^\.TP/ { tag = 1; next }
    insec && (tag || /^\.B/) { print; tag = 0 }
  ' "$1" | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
    grep -oE '(^|[ ,"])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^[ ,"]//' | sort -u
}

# requires_root: skip unless running as root.
requires_root ()
{
  [ "$(id -u)" -eq 0 ] || skip_all "requires root"
}

pass ()
{
  _tap_n=$((_tap_n + 1))
  echo "ok $_tap_n - $*"
}

fail ()
{
  _tap_n=$((_tap_n + 1))
  _tap_failed=$((_tap_failed + 1))
  echo "not ok $_tap_n - $*"
}

skip ()
{
  _tap_n=$((_tap_n + 1))
  echo "ok $_tap_n # SKIP $*"
}

# diag TEXT: a TAP comment (prove shows it with -v, or on failure).
diag ()
{
  printf '%s\n' "$@" | sed 's/^/# /'
}

# ok DESC CMD ARGS...: one test point that passes when CMD exits 0.
# Its stderr is shown as diagnostics if it fails.
ok ()
{
  local desc=$1; shift
  local err=$tmp/.stderr.$$
  if "$@" 2>"$err"; then
    pass "$desc"
  else
    local st=$?
    fail "$desc (exit $st: $*)"
    diag "$(tail -n 20 "$err")"
  fi
  rm -f "$err"
}

# expect_fail DESC PATTERN CMD ARGS...: CMD must exit non-zero but not crash
# (no signal, no sanitizer report), and its stderr must match the extended
# regular expression PATTERN (use '' to accept any message).  The exit
# status may be pinned with EXPECT_STATUS=N.
expect_fail ()
{
  local desc=$1 pattern=$2; shift 2
  local err=$tmp/.stderr.$$ st=0
  "$@" >/dev/null 2>"$err" || st=$?
  if [ "$st" -eq 0 ]; then
    fail "$desc (expected failure, got exit 0)"
  elif [ "$st" -ge 124 ] || [[ "$H2K_CRASH_CODES" == *" $st "* ]] \
       || grep -qE 'Sanitizer|runtime error:' "$err"; then
    fail "$desc (crashed or timed out: exit $st)"
    diag "$(tail -n 20 "$err")"
  elif [ -n "${EXPECT_STATUS:-}" ] && [ "$st" -ne "$EXPECT_STATUS" ]; then
    fail "$desc (exit $st, expected $EXPECT_STATUS)"
    diag "$(tail -n 5 "$err")"
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" "$err"; then
    fail "$desc (message does not match /$pattern/)"
    diag "$(tail -n 5 "$err")"
  else
    pass "$desc"
  fi
  rm -f "$err"
}

# same_file DESC A B: the two files have identical contents.
same_file ()
{
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1 ($2 and $3 differ)"; fi
}

# is DESC GOT EXPECTED: string equality.
is ()
{
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (got '$2', expected '$3')"; fi
}

# sha256 FILE: print the SHA-256 of FILE (or of stdin with -).
sha256 ()
{
  sha256sum "$1" | cut -d' ' -f1
}
