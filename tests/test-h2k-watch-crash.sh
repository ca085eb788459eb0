#!/usr/bin/env bash
# h2k-watch killed at the worst moments: kill -9 of the watcher and its
# children mid-conversion (two at once, --jobs 2), then a restart: each
# file converted exactly once, completely, no half result left; a stop
# after the result was renamed into place but before the sources moved;
# the watcher killed alone while a conversion still runs (the lock stays
# with it).  A stand-in img-convert that blocks makes "mid-conversion"
# certain.  Oracles: qemu-img compare and check, jq.
. "$(dirname "$0")/functions.sh"
. "$(dirname "$0")/h2k-watch-lib.sh"
requires qemu-img --version
requires qemu-io --version
requires jq --version
requires setsid --version

W=$H2K_WATCH
cd "$tmp"
mkdir drop orig fake marks
out=$tmp/out

# The stand-in: answers --version and --list-files (h2k-watch's question
# for a disk's parents) like the real one; otherwise writes part of its
# output, says it started, and blocks.
REAL_IMG_CONVERT=$(command -v img-convert)
export REAL_IMG_CONVERT MARKS=$tmp/marks
cat > fake/img-convert <<'SH'
#!/usr/bin/env bash
case " $* " in *" --version "*|*" --list-files "*) exec "$REAL_IMG_CONVERT" "$@" ;; esac
for last; do :; done
printf 'half a disk' > "$last.part"
touch "$MARKS/$$"
exec sleep 600
SH
chmod +x fake/img-convert

make_disk "drop/one disk.vhdx" vhdx
make_disk drop/two.qcow2 qcow2
cp drop/* orig/

marks () { [ "$(find marks -type f | wc -l)" -ge "$1" ]; }

PATH=$tmp/fake:$PATH setsid "$W" -v --no-fix -j 2 --stable-seconds 1 --out "$out" drop 2>w1.log &
wpid=$!
cleanup_fn kill -KILL -- "-$wpid"
ok "--jobs 2: two conversions run at once" wait_for 120 marks 2
is "nothing in OUT looks done mid-conversion" \
  "$(find "$out" -name result.json | wc -l)" 0
kill -KILL -- "-$wpid"
wait "$wpid" 2>/dev/null || true
ok "the lock is free once the group is gone" wait_for 60 flock -n drop/.h2k-watch.lock true

ok "the restart converts what was interrupted" \
  "$W" -v --once --no-fix --stable-seconds 1 --out "$out" drop
for n in "one disk:one disk.vhdx" "two:two.qcow2"; do
  name=${n%%:*} src=${n#*:}
  ok "$name: complete" converted "$out" "$name"
  ok "$name: the guest's bytes" qemu-img compare -q "orig/$src" "$out/$name/$name.qcow2"
  ok "$name: qemu-img check" qemu-img check -q "$out/$name/$name.qcow2"
done
is "each converted once, in one directory" "$(find "$out" -mindepth 1 -maxdepth 1 | sort | tr '\n' /)" \
  "$out/one disk/$out/two/"
is "no work directory or .part left" "$(find "$out" -name '.*' -o -name '*.part' | wc -l)" 0
is "both sources in .processed/" "$(cd drop/.processed && find . -type f | sort | tr '\n' /)" "./one disk.vhdx/./two.qcow2/"

# Stopped after the rename into OUT, before the sources moved: the
# restart finds the result and finishes the move, without converting
# again.  (Moving the source back keeps its inode and times.)
before=$(sha256sum "$out/two/result.json")
mv drop/.processed/two.qcow2 drop/
st=0; "$W" -v --once --no-fix --stable-seconds 1 --out "$out" drop 2>w2.log || st=$?
is "a restart with the result already in place" "$st" 0
ok "... says so" grep -qF "two.qcow2: converted by an earlier run: moved to .processed/" w2.log
! grep -q "converting" w2.log && pass "... and converts nothing" || fail "... it converted again"
is "... the result is untouched" "$(sha256sum "$out/two/result.json")" "$before"
[ -e drop/.processed/two.qcow2 ] && [ ! -e drop/two.qcow2 ] && pass "... the source is in .processed/" \
  || fail "the source is in .processed/"

# The watcher killed alone: its conversion goes on and keeps the lock, so
# a second watcher cannot start beside it.
rm -f marks/*
make_disk drop/three.raw raw
cp drop/three.raw orig/
PATH=$tmp/fake:$PATH setsid "$W" -v --no-fix --stable-seconds 1 --out "$out" drop 2>w3.log &
wpid=$!
cleanup_fn kill -KILL -- "-$wpid"
ok "a conversion starts" wait_for 120 marks 1
kill -KILL "$wpid"
wait "$wpid" 2>/dev/null || true
EXPECT_STATUS=1 expect_fail "while its conversion runs, a restart is refused" "another h2k-watch is watching it" \
  "$W" --once --no-fix --out "$out" drop
kill -KILL -- "-$wpid"
ok "once it is gone, the lock is free" wait_for 60 flock -n drop/.h2k-watch.lock true
ok "the restart converts it" "$W" --once --no-fix --stable-seconds 1 --out "$out" drop
ok "... completely" qemu-img compare -q -f raw orig/three.raw "$out/three/three.qcow2"
