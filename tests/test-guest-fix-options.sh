#!/usr/bin/env bash
# guest-fix's command line: the fix list, option errors (status 2), and
# disks that are refused before any appliance starts (status 1, a report
# that says why, nothing written).
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires jq --version

out=$(guest-fix --list-fixes)
for f in vmware-tools network block-devices bootloader initramfs guest-agent selinux-relabel; do
  [[ "$out" == *"$f "* ]] && pass "--list-fixes lists $f" || fail "--list-fixes lists $f"
done
# Every fix is in the man page's table.
for f in $(guest-fix --list-fixes | awk '{ print $1 }'); do
  grep -q "^$f	" "$H2K_TOP/man/guest-fix.1" && pass "man page describes $f" || fail "man page describes $f"
done

EXPECT_STATUS=2 expect_fail "no disk" "no disk given" guest-fix
EXPECT_STATUS=2 expect_fail "--select with an unknown fix" "--select: nosuch: unknown fix" \
  guest-fix --select=network,nosuch x.img
EXPECT_STATUS=2 expect_fail "--skip with an unknown fix" "--skip: nosuch: unknown fix" \
  guest-fix --skip=nosuch x.img
EXPECT_STATUS=2 expect_fail "--format that qemu does not read" "--format: foo" \
  guest-fix --format=foo x.img

EXPECT_STATUS=1 expect_fail "a missing disk" "nosuch.img: No such file" guest-fix "$tmp/nosuch.img"
guest-fix "$tmp/nosuch.img" > "$tmp/r.json" 2>/dev/null || true
ok "a missing disk: the report says failed and why" \
  jqt '.status == "failed" and (.error | test("No such file"))' "$tmp/r.json"

truncate -s 64M "$tmp/busy.img"
if [ "$(id -u)" != 0 ]; then
  chmod 444 "$tmp/busy.img"
  EXPECT_STATUS=1 expect_fail "a read-only disk" "busy.img: Permission denied" guest-fix "$tmp/busy.img"
  chmod 644 "$tmp/busy.img"
else
  skip "a read-only disk (root may write anything)"
fi

# A disk a running machine holds: qemu locks its images.
if command -v qemu-system-x86_64 >/dev/null; then
  qemu-system-x86_64 -machine none -nodefaults -display none \
    -drive "file=$tmp/busy.img,format=raw,if=none,id=d0" -monitor none \
    -serial none </dev/null >/dev/null 2>&1 &
  qpid=$!
  cleanup_fn kill "$qpid"
  # Wait until qemu holds the lock (qemu-img info then fails).
  for i in $(seq 100); do
    qemu-img info "$tmp/busy.img" >/dev/null 2>&1 || break
    sleep 0.2
  done
  sum=$(sha256 "$tmp/busy.img")
  EXPECT_STATUS=1 expect_fail "a disk a running qemu holds" "busy.img: in use by a running machine" \
    guest-fix "$tmp/busy.img"
  is "the disk in use is unchanged" "$(sha256 "$tmp/busy.img")" "$sum"
  kill "$qpid"; wait "$qpid" 2>/dev/null || true
else
  skip "a disk a running qemu holds (no qemu)"
  skip "the disk in use is unchanged (no qemu)"
fi
