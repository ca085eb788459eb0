#!/usr/bin/env bash
# The valgrind mode of functions.sh (H2K_VALGRIND=1, which make
# check-valgrind sets) can fail: toy programs with a definite leak, an
# invalid read and a use of an uninitialised value, run as a test file
# runs programs, make that file fail, whether the test looks at the exit
# status (ok, expect_fail) or ignores it (`|| true`); a clean program's
# own exit status and output come through unchanged.
. "$(dirname "$0")/functions.sh"
requires valgrind --version
requires cc --version
[ "${H2K_SANITIZE:-}" = 1 ] && skip_all "valgrind cannot run the sanitizer build"
cd "$tmp"

mkdir -p fake/tests
cat > toy.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
  const char *what = argc > 1 ? argv[1] : "clean";
  if (strcmp (what, "leak") == 0) {
    char *p = malloc (100);
    memset (p, 1, 100);
    p = NULL;
    return 0;
  }
  if (strcmp (what, "read") == 0) {
    char *p = malloc (8);
    volatile char c = p[8];
    free (p);
    return c == 42;
  }
  if (strcmp (what, "uninit") == 0) {
    int *p = malloc (sizeof *p);
    int r = *p > 0 ? 1 : 0;
    free (p);
    return r;
  }
  printf ("clean %s\n", argc > 2 ? argv[2] : "");
  fprintf (stderr, "toy: a message\n");
  return argc > 2 ? atoi (argv[2]) : 0;
}
C
cc -g -O0 -o fake/toy toy.c
cp fake/toy fake/tests/bdev-cat
printf '#!/bin/sh\nexec toy "$@"\n' > fake/toy-script
chmod +x fake/toy-script

# sub NAME BODY: a test file of its own that sources functions.sh with
# H2K_VALGRIND=1 and the toy as its only program; its TAP in NAME.tap,
# its exit status in $st.
sub ()
{
  printf '. %q/tests/functions.sh\n%s\n' "$H2K_TOP" "$2" > "$1.sh"
  st=0
  env -u H2K_SKIP_LOG H2K_VALGRIND=1 H2K_SANITIZE=0 H2K_BIN="$tmp/fake" \
    PATH="$tmp/fake:$PATH" bash "$1.sh" > "$1.tap" 2>&1 || st=$?
}

sub clean 'ok "clean" toy; is "status comes through" "$(toy x 3 2>/dev/null; echo $?)" "clean 3
3"; ok "stderr comes through" sh -c "toy 2>&1 >/dev/null | grep -qx \"toy: a message\""; ok "a script calls the wrapped toy" toy-script; ok "a tool in tests/" "$H2K_BIN/tests/bdev-cat"'
is "a clean program passes" "$st" 0
ok "... and its valgrind point says how many runs" grep -qE '^ok [0-9]+ - valgrind: no error in 5 program runs' clean.tap
sub mirror 'ok "the toy is a valgrind wrapper" grep -q "exec valgrind" "$H2K_BIN/toy"; ok "the script is a link to the real one" test -L "$H2K_BIN/toy-script"'
is "the mirror of H2K_BIN: wrappers for programs, links for scripts" "$st" 0

for kind in leak read uninit; do
  sub "$kind-ignored" "toy $kind || true; pass 'ran'"
  is "$kind, status ignored: the file fails" "$st" 1
  ok "... on its valgrind point, with the command" \
    sh -c 'grep -qE "^not ok [0-9]+ - valgrind: errors in 1 of 1 program runs" "$1" && grep -q "command: .*toy $2" "$1"' _ "$kind-ignored.tap" "$kind"
  sub "$kind-ok" "ok 'runs' toy $kind"
  ok "$kind under ok: the point fails with valgrind's status 99" grep -qE "^not ok 1 - runs \(exit 99" "$kind-ok.tap"
  sub "$kind-expect" "expect_fail 'fails' '' toy $kind"
  ok "$kind under expect_fail: taken as a crash" grep -qE "^not ok 1 - fails \(crashed or timed out: exit 99" "$kind-expect.tap"
done
sub tool "\"\$H2K_BIN/tests/bdev-cat\" leak || true"
is "a wrapped test tool (bdev-cat) is checked too" "$st" 1
