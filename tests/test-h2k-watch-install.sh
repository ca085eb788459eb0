#!/usr/bin/env bash
# make install puts h2k-watch, its systemd unit (the directory as the
# instance, ExecStart at the installed path), migrate.mk and the man pages
# in place, and make uninstall takes them away; the scripts are
# shellcheck-clean.  Oracles: make, shellcheck, systemd-escape, man.
. "$(dirname "$0")/functions.sh"
requires make --version

if command -v shellcheck >/dev/null; then
  ok "shellcheck: h2k-watch" shellcheck "$H2K_TOP/scripts/h2k-watch"
  ok "shellcheck: the test helpers" shellcheck -s bash "$H2K_TOP/tests/h2k-watch-lib.sh" -e SC2154
else
  skip "shellcheck is not installed"
fi

stage=$tmp/stage
ok "make install" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEFILES make -s -C "$H2K_TOP" install DESTDIR="$stage" PREFIX=/usr
ok "h2k-watch in bin" test -x "$stage/usr/bin/h2k-watch"
[ ! -e "$stage/usr/bin/h2k-watch@.service" ] && pass "the unit is not in bin" || fail "the unit is in bin"
unit=$stage/usr/lib/systemd/system/h2k-watch@.service
ok "the unit is installed" test -f "$unit"
ok "... running the installed h2k-watch on the instance's path" grep -qx 'ExecStart=/usr/bin/h2k-watch $H2K_WATCH_OPTIONS %f' "$unit"
if command -v systemd-escape >/dev/null; then
  is "the instance of /srv/drop zone names it back" \
    "$(systemd-escape --path --unescape "$(systemd-escape --path '/srv/drop zone')")" "/srv/drop zone"
fi
ok "migrate.mk is installed" test -f "$stage/usr/share/h2k/migrate.mk"
ok "man pages" test -f "$stage/usr/share/man/man1/h2k-watch.1" -a -f "$stage/usr/share/man/man1/migrate.mk.1"
if command -v man >/dev/null; then
  for m in h2k-watch migrate.mk; do
    ok "$m man page renders without warnings" bash -c "! MANWIDTH=80 man --warnings -l '$H2K_TOP/man/$m.1' 2>&1 >/dev/null | grep ."
    grep -q '^\.SH EXAMPLES' "$H2K_TOP/man/$m.1" && grep -q '^\.SH EXIT STATUS' "$H2K_TOP/man/$m.1" &&
      pass "$m man page has EXAMPLES and EXIT STATUS" || fail "$m man page has EXAMPLES and EXIT STATUS"
  done
fi
# The options h2k-watch takes are the ones its page documents.
doc=$(sed -n '/^\.SH OPTIONS/,/^\.SH [^O]/p' "$H2K_TOP/man/h2k-watch.1" | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
      grep -oE '(^|[ ,"])--?[A-Za-z][A-Za-z-]*' | sed 's/^[ ,"]//' | sort -u)
have=$({ "$H2K_TOP/scripts/h2k-watch" --long-options; "$H2K_TOP/scripts/h2k-watch" --short-options; } | sort -u)
is "the man page documents exactly h2k-watch's options" "$(comm -3 <(echo "$have") <(echo "$doc") | tr -d '\t' | tr '\n' ' ')" ""
ok "README has ## h2k-watch and ## migrate.mk" bash -c "grep -q '^## h2k-watch' '$H2K_TOP/README.md' && grep -q '^## migrate.mk' '$H2K_TOP/README.md'"
ok "make uninstall" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEFILES make -s -C "$H2K_TOP" uninstall DESTDIR="$stage" PREFIX=/usr
is "nothing of h2k-watch is left" "$(find "$stage" -name 'h2k-watch*' -o -name 'migrate.mk*' | wc -l)" 0
