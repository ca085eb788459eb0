#!/usr/bin/env bash
# Every program: --help (stdout, exit 0), --version, a usage error exits 2,
# a man page with EXAMPLES and EXIT STATUS, and a README section.
. "$(dirname "$0")/functions.sh"


progs=$(cd "$H2K_TOP/cmd" 2>/dev/null && ls -d */ 2>/dev/null | tr -d /) || true
[ -n "$progs" ] || skip_all "no programs yet"
# The scripts answer like the programs (bash completion and tests use it);
# make all puts them in bin/ next to the programs.
for s in "$H2K_TOP"/scripts/h2k-*; do
  [ -f "$s" ] && [ -x "$s" ] && progs="$progs ${s##*/}"
done

for p in $progs; do
  ok "$p --help exits 0" "$p" --help
  out=$("$p" --help 2>/dev/null || true)
  [[ "$out" == *"$p"* ]] && pass "$p --help names the program" || fail "$p --help names the program"
  ok "$p --long-options lists --help" bash -c "'$p' --long-options | grep -qx -- --help"
  ok "$p --short-options lists -V" bash -c "'$p' --short-options | grep -qx -- -V"
  ver=$("$p" -V 2>/dev/null || true)
  [[ "$ver" == "$p (h2k) "* ]] && pass "$p -V" || fail "$p -V: '$ver'"
  for o in --help --version --long-options; do
    EXPECT_STATUS=1 expect_fail "$p $o to a full disk fails" "" bash -c "'$p' $o > /dev/full"
  done
  ver=$("$p" --version 2>/dev/null || true)
  [[ "$ver" == "$p (h2k) "* ]] && pass "$p --version" || fail "$p --version: '$ver'"
  EXPECT_STATUS=2 expect_fail "$p rejects an unknown option with status 2, pointing to --help" \
    "Try '$p --help' for more information" "$p" --no-such-option-xyz
  man=$H2K_TOP/man/$p.1
  if [ -f "$man" ]; then
    pass "$p has a man page"
    grep -q '^\.SH EXAMPLES' "$man" && pass "$p man page has EXAMPLES" || fail "$p man page has EXAMPLES"
    # The options the program takes and the options its page documents
    # are the same set (the hidden --long-options/--short-options aside).
    diffs=$(comm -3 <({ "$p" --long-options; "$p" --short-options; } | sort -u) \
                    <(man_options "$man") | tr -d '\t' | tr '\n' ' ')
    is "$p: the man page documents exactly the options $p takes" "$diffs" ""
    grep -q '^\.SH "\?EXIT STATUS' "$man" && pass "$p man page has EXIT STATUS" || fail "$p man page has EXIT STATUS"
    if command -v man >/dev/null; then
      ok "$p man page renders without warnings" bash -c "! MANWIDTH=80 man --warnings -l '$man' 2>&1 >/dev/null | grep ."
    fi
  else
    fail "$p has a man page (man/$p.1)"
  fi
  grep -q "^## $p" "$H2K_TOP/README.md" && pass "$p has a README section" \
    || fail "$p has a README section (## $p)"
done
