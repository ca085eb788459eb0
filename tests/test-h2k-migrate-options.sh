#!/usr/bin/env bash
# h2k-migrate's command line, without a server: --help, --version (the
# programs' version), --long-options and --short-options as the C programs
# have them (the same set the man page documents), usage errors with exit
# 2, and shellcheck.
. "$(dirname "$0")/functions.sh"
requires jq --version
p=h2k-migrate
command -v "$p" >/dev/null || skip_all "h2k-migrate is not in $H2K_BIN (make all)"

ok "--help exits 0 and names the program" sh -c 'h2k-migrate --help | grep -q "Usage: h2k-migrate"'
ok "--help says how much scratch space a run takes" sh -c 'h2k-migrate --help | grep -q "Scratch space: at most the pulled files"'
is "--version is the programs' version" "$(h2k-migrate --version)" "h2k-migrate (h2k) $(vs-ls --version | sed 's/.* //')"
is "-V too" "$(h2k-migrate -V)" "$(h2k-migrate --version)"
ok "--long-options lists --help and --out" sh -c 'h2k-migrate --long-options | grep -qx -- --help && h2k-migrate --long-options | grep -qx -- --out'
ok "--short-options lists -V and -o" sh -c 'h2k-migrate --short-options | grep -qx -- -V && h2k-migrate --short-options | grep -qx -- -o'
for o in --help --version --long-options --short-options; do
  EXPECT_STATUS=1 expect_fail "$o to a full disk fails" "" sh -c "h2k-migrate $o > /dev/full"
done

# The options it takes, from --long-options and --short-options, against
# the ones every branch of its parser knows: each listed option parses.
for o in $(h2k-migrate --long-options) $(h2k-migrate --short-options); do
  case $o in
    --help|--version|-V|--long-options|--short-options) continue ;;
  esac
  st=0
  h2k-migrate "$o" >/dev/null 2>"$tmp/err" || st=$?
  if grep -q "unrecognized option" "$tmp/err"; then fail "$o is listed but not taken"; else pass "$o is taken"; fi
done

EXPECT_STATUS=2 expect_fail "an unknown option: exit 2 and the --help hint" \
  "unrecognized option '--no-such'.*|Try 'h2k-migrate --help' for more information" h2k-migrate --no-such
ok "the hint is there" sh -c "h2k-migrate --no-such 2>&1 | grep -qx \"Try 'h2k-migrate --help' for more information.\""
EXPECT_STATUS=2 expect_fail "no VM" "no VM given" h2k-migrate
EXPECT_STATUS=2 expect_fail "two VMs" "one VM at a time" h2k-migrate a b
EXPECT_STATUS=2 expect_fail "--out without its argument" "requires an argument" h2k-migrate a --out
EXPECT_STATUS=2 expect_fail "a bad --format" "want qcow2 or raw" h2k-migrate --format vmdk a
EXPECT_STATUS=2 expect_fail "a bad -j" "-j: 'x' is not a number" h2k-migrate -j x a
EXPECT_STATUS=2 expect_fail "--connect without --define" "--connect goes with --define" h2k-migrate --connect qemu:///system a
EXPECT_STATUS=2 expect_fail "--help takes no argument" "doesn't allow an argument" h2k-migrate --help=x
EXPECT_STATUS=2 expect_fail "an empty VM name" "empty" h2k-migrate ''
EXPECT_STATUS=2 expect_fail "--max-cycles 0" "not a positive number" h2k-migrate --warm --max-cycles 0 a
EXPECT_STATUS=2 expect_fail "--final-after x" "not a number of seconds" h2k-migrate --warm --final-after x a
EXPECT_STATUS=2 expect_fail "--max-cycles without --warm" "go with --warm" h2k-migrate --max-cycles 3 a
ok "no file is written by a usage error" sh -c 'cd "$1" && mkdir u && cd u && h2k-migrate --format vmdk a 2>/dev/null; [ -z "$(ls -A)" ]' _ "$tmp"

if command -v shellcheck >/dev/null; then
  ok "shellcheck: h2k-migrate" shellcheck "$H2K_TOP/scripts/h2k-migrate"
  ok "shellcheck: the demo and the guest chain script" shellcheck "$H2K_TOP/tests/demo.sh" "$H2K_TOP/tests/guests/vmware-chain.sh"
else
  skip "shellcheck is not installed"
fi
