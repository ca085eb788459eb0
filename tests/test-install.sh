#!/usr/bin/env bash
# The Debian package and the installs, as a user gets them: `make dist`
# makes the release tarball; from its unpacked contents dpkg-buildpackage
# builds the package (its unit tests run during the build, from the
# tarball's own files) and a fast part of the suite passes; lintian reports
# no error; apt accepts the package's dependencies on this Debian; dpkg
# installs it into a fresh root, where every program answers --version and
# --help, every page renders with man -l, every script answers --help and
# --version, completion works and the systemd unit starts a script that is
# there; purging it leaves no file.  Last, `make install DESTDIR=...
# PREFIX=/usr` then `make uninstall` in the same build tree leaves nothing.
#
# Everything is built once, under $tmp: dpkg-buildpackage writes its
# products into the parent of the tree it builds, so it never builds in the
# work tree.
# shellcheck source=tests/functions.sh
. "$(dirname "$0")/functions.sh"
requires command -v dpkg-buildpackage
slow_test "builds the Debian package, twice the same under the sanitizers"

# The make running this test passes its options and variables (SANITIZE=1,
# TESTS=..., -j) in the environment; the package build must not see them.
# It is built with warnings as errors, whatever the caller's make had: the
# distribution's flags (_FORTIFY_SOURCE, -O2) raise warnings the suite's own
# build does not, and a package that warns is a defect this test should
# report.  debian/rules itself leaves -Werror off, as Debian asks of packages.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES SANITIZE TESTS V
export WERROR=1

# quiet CMD ARGS...: CMD with its stdout kept out of the TAP stream.
quiet ()
{
  "$@" > "$tmp/quiet.out"
}

# The source of the package: the release tarball in a git checkout, a copy
# of the tree otherwise (this test running from an unpacked tarball).
mkdir -p "$tmp/src"
if git -C "$H2K_TOP" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  ok "make dist writes the release tarball" quiet make -s -C "$H2K_TOP" dist DIST_DIR="$tmp/src"
  tarball=$(find "$tmp/src" -maxdepth 1 -name 'h2k-*.tar.gz')
  version=$("$H2K_TOP/build-aux/version-gen")
  is "the tarball is named after the version" "$(basename "$tarball")" "h2k-$version.tar.gz"
  tar -C "$tmp/src" -xzf "$tarball"
  tree=$tmp/src/h2k-$version
  is "the tarball carries its version" "$(cat "$tree/VERSION")" "$version"
  is "the tarball holds exactly the committed files and VERSION" \
    "$(cd "$tree" && find . -type f ! -name VERSION | sed 's|^\./||' | LC_ALL=C sort)" \
    "$(git -C "$H2K_TOP" ls-tree -r --name-only HEAD | LC_ALL=C sort)"
else
  version=$("$H2K_TOP/build-aux/version-gen")
  tree=$tmp/src/h2k-$version
  mkdir -p "$tree"
  (cd "$H2K_TOP" && tar --exclude=./bin --exclude=./build --exclude=./lib/libh2k.a \
     --exclude=./tests/vcsim/h2k-vcsim -cf - .) | tar -C "$tree" -xf -
  skip "make dist (not a git checkout)"
fi
is "the version comes from the tree" "$("$tree/build-aux/version-gen" 2>&1 || true)" "$version"

# The build, logged: a failure shows its end.
ok "the build dependencies are installed (make deps)" bash -c "cd '$tree' && dpkg-checkbuilddeps"
if (cd "$tree" && dpkg-buildpackage -us -uc -b) > "$tmp/build.log" 2>&1; then
  pass "dpkg-buildpackage -us -uc -b builds from the tarball"
else
  fail "dpkg-buildpackage -us -uc -b builds from the tarball"
  diag "$(tail -n 40 "$tmp/build.log")"
  exit 1
fi
ok "the unit tests passed during the package build" grep -q '^All tests successful' "$tmp/build.log"
deb=$tmp/src/h2k_${version}_$(dpkg --print-architecture).deb
ok "the package is h2k_VERSION_ARCH.deb" test -f "$deb"
is "the package's version is the programs' version" "$(dpkg-deb -f "$deb" Version)" "$version"
depends=$(dpkg-deb -f "$deb" Depends)
for want in libguestfs0 libcurl4 jq; do
  ok "Depends: $want" grep -qE "(^|, )$want( |,|$)" <<< "$depends"
done
for never in golang qemu-system debootstrap qemu-utils lintian debhelper; do
  case $depends in
    *"$never"*) fail "Depends: no $never ($depends)" ;;
    *) pass "Depends: no $never" ;;
  esac
done
is "Recommends" "$(dpkg-deb -f "$deb" Recommends)" "inotify-tools, libguestfs-xfs"

if command -v lintian >/dev/null; then
  changes=$(find "$tmp/src" -maxdepth 1 -name 'h2k_*.changes')
  lintian --tag-display-limit 0 "$changes" > "$tmp/lintian.txt" 2>&1 || true
  diag "lintian:" "$(cat "$tmp/lintian.txt")"
  is "lintian reports no error" "$(grep '^E:' "$tmp/lintian.txt" || true)" ""
else
  skip "lintian is not installed"
fi

# apt resolves the dependencies on this machine's Debian without installing.
if apt-get -s install "$deb" > "$tmp/apt.txt" 2>&1 && grep -q '^Inst h2k ' "$tmp/apt.txt"; then
  pass "apt can install the package with its dependencies"
else
  fail "apt can install the package with its dependencies"
  diag "$(tail -n 20 "$tmp/apt.txt")"
fi

# A fresh root: an empty dpkg database and nothing else.  The package's
# dependencies are not in it (--force-depends), so the programs run with
# this machine's libraries; maintainer scripts run outside the chroot, as
# dpkg's DPKG_ROOT support has them, and must leave the host alone.
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/log"
: > "$root/var/lib/dpkg/status"
dpkg_root=(dpkg --root="$root" --force-depends --force-script-chrootless --log="$root/var/log/dpkg.log")
[ "$(id -u)" -eq 0 ] || dpkg_root+=(--force-not-root)
ok "dpkg --root installs the package into a fresh root" quiet "${dpkg_root[@]}" -i "$deb"
is "the package is installed there" "$(dpkg-query --root="$root" -W -f='${Status} ${Version}' h2k 2>&1)" \
  "install ok installed $version"

export PATH="$root/usr/bin:$PATH"
mapfile -t programs < <(cd "$tree/cmd" && ls)
mapfile -t scripts < <(cd "$tree/scripts" && find . -maxdepth 1 -name 'h2k-*' ! -name '*.service' -printf '%f\n' | sort)
for p in "${programs[@]}" "${scripts[@]}"; do
  ok "$p is installed in /usr/bin" test -x "$root/usr/bin/$p"
  is "$p --version" "$("$root/usr/bin/$p" --version 2>&1 || true)" "$p (h2k) $version"
  ok "$p --help" bash -c "'$root/usr/bin/$p' --help | grep -q ."
  page=$root/usr/share/man/man1/$p.1.gz
  ok "$p has a man page" test -f "$page"
  if [ -f "$page" ]; then
    MANWIDTH=80 man --warnings -l "$page" > "$tmp/page.txt" 2> "$tmp/page.err" || true
    is "man -l $p.1.gz renders without warnings" "$(cat "$tmp/page.err")" ""
    ok "man -l $p.1.gz has EXAMPLES and EXIT STATUS" \
      bash -c "grep -q '^EXAMPLES' '$tmp/page.txt' && grep -q '^EXIT STATUS' '$tmp/page.txt'"
  fi
  is "$p completes from its own file" \
    "$(readlink "$root/usr/share/bash-completion/completions/$p" || true)" h2k
done
got=$(dpkg-query --root="$root" -L h2k | grep -c '^/usr/bin/.' || true)
is "/usr/bin holds the programs and scripts and nothing else" "$got" \
  "$(( ${#programs[@]} + ${#scripts[@]} ))"

for mk in $(cd "$tree/scripts" && find . -maxdepth 1 -name '*.mk' -printf '%f\n'); do
  ok "$mk is in /usr/share/h2k" cmp -s "$tree/scripts/$mk" "$root/usr/share/h2k/$mk"
done
for unit in $(cd "$tree/scripts" && find . -maxdepth 1 -name '*.service' -printf '%f\n'); do
  f=$root/lib/systemd/system/$unit
  ok "$unit is in /lib/systemd/system" test -f "$f"
  exec_path=$(sed -n 's/^ExecStart=[-@:+!]*\([^ ]*\).*/\1/p' "$f" 2>/dev/null | head -n 1)
  ok "$unit starts an installed script ($exec_path)" test -x "$root$exec_path"
done
ok "the README is in /usr/share/doc/h2k" test -f "$root/usr/share/doc/h2k/README.md.gz"

# Completion, loaded by bash-completion from the installed file.
if [ -r /usr/share/bash-completion/bash_completion ]; then
  completions=$(bash --norc -c '
    . /usr/share/bash-completion/bash_completion
    . "$1/usr/share/bash-completion/completions/vs-pull"
    COMP_WORDS=(vs-pull --sk) COMP_CWORD=1 COMP_LINE="vs-pull --sk" COMP_POINT=12
    _h2k vs-pull --sk vs-pull
    printf "%s\n" "${COMPREPLY[@]}"' bash "$root")
  is "vs-pull --sk<TAB> completes from the installed file" "$completions" "--skip-zero"
else
  skip "bash-completion is not installed"
fi

ok "dpkg --purge removes the package" quiet "${dpkg_root[@]}" --purge h2k
is "no file of h2k is left in the root" \
  "$(find "$root" \( -type f -o -type l \) ! -path "$root/var/lib/dpkg/*" ! -path "$root/var/log/*" -print)" ""

# make install / make uninstall in the package's build tree (already built:
# nothing is compiled again).
stage=$tmp/stage
ok "make install DESTDIR=... PREFIX=/usr" quiet make -s -C "$tree" install DESTDIR="$stage" PREFIX=/usr
installed=$(cd "$stage" && find . \( -type f -o -type l \) | sed 's|^\.||' | LC_ALL=C sort)
packaged=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed -e 's|^\.||' -e 's|\.1\.gz$|.1|' -e 's|README.md.gz$|README.md|' |
  grep -v -e '^/usr/share/doc/h2k/changelog' -e '^/usr/share/doc/h2k/copyright$' -e '^/usr/share/lintian/' | sed 's|^/lib/systemd|/usr/lib/systemd|' | LC_ALL=C sort)
is "make install installs what the package holds" "$installed" "$packaged"
ok "make uninstall" quiet make -s -C "$tree" uninstall DESTDIR="$stage" PREFIX=/usr
is "make uninstall leaves no file behind" "$(find "$stage" \( -type f -o -type l \) -print)" ""
is "nor a directory of h2k's own" "$(find "$stage" -name h2k -print)" ""

# A fast part of the suite, from the tarball's tree and its build.  The
# simulator is not built (it is Go, and these tests do not use it).
# shellcheck disable=SC2016 # make expands these, not the shell
if (cd "$tree" && make check CHECK_DEPS='$(PROG_BINS) $(UNIT_BINS) $(TOOL_BINS)' \
      TESTS='tests/test-layout.sh tests/test-programs-common.sh') \
    > "$tmp/check.log" 2>&1; then
  pass "make check (unit tests, layout, programs) passes from the tarball"
else
  fail "make check (unit tests, layout, programs) passes from the tarball"
  diag "$(tail -n 40 "$tmp/check.log")"
fi

is "nothing was built beside the work tree" \
  "$(find "$H2K_TOP/.." -maxdepth 1 \( -name 'h2k_*' -o -name 'h2k-dbgsym_*' \) -print)" ""
