#!/usr/bin/env bash
# guest-fix on disks it must refuse: no operating system, an unknown
# Linux distribution, an encrypted root.  Each: exit 1, a clear message,
# a report that says failed and why, and the disk unchanged.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
requires guestfish --version
requires mkfs.ext4 -V
requires jq --version

# refused DESC PATTERN DISK: guest-fix refuses DISK, says PATTERN, writes
# nothing.
refused ()
{
  local desc=$1 pattern=$2 disk=$3 sum
  local st=0
  sum=$(sha256 "$disk")
  # One run (each costs an appliance launch): status, message and report.
  guest-fix "$disk" > "$tmp/r.json" 2> "$tmp/r.err" || st=$?
  if [ "$st" = 1 ] && grep -qE -- "$pattern" "$tmp/r.err" &&
     ! grep -qE 'Sanitizer|runtime error:' "$tmp/r.err"; then
    pass "$desc: refused with exit 1 and a clear message"
  else
    fail "$desc: refused with exit 1 and a clear message (exit $st)"
    diag "$(tail -n 5 "$tmp/r.err")"
  fi
  ok "$desc: the report says failed and why" \
    jqt --arg p "$pattern" '.status == "failed" and (.error | test($p)) and .fixes == []' "$tmp/r.json"
  is "$desc: the disk is unchanged" "$(sha256 "$disk")" "$sum"
}

# A file system and nothing else.
mkdir -p "$tmp/empty"
echo "just data" > "$tmp/empty/readme.txt"
mkfs.ext4 -q -F -d "$tmp/empty" "$tmp/noos.img" 32M > /dev/null
refused "a disk with no OS" "no operating system found" "$tmp/noos.img"

# Something libguestfs sees as Linux, but no distribution it knows.
r=$tmp/unknown
mkdir -p "$r/bin" "$r/etc" "$r/usr/bin" "$r/lib" "$r/var" "$r/boot"
printf '/dev/sda / ext4 defaults 0 1\n' > "$r/etc/fstab"
printf 'NAME="H2K Phony"\nID=h2kphony\nVERSION_ID=1\n' > "$r/etc/os-release"
printf 'h2kphony\n' > "$r/etc/hostname"
mkfs.ext4 -q -F -d "$r" "$tmp/unknown.img" 32M > /dev/null
refused "an unknown distribution" "unknown linux distribution" "$tmp/unknown.img"

# A LUKS volume (cached: making it costs an appliance launch).
luks=$H2K_CACHE/guests/luks.img
if [ ! -f "$luks" ]; then
  mkdir -p "$(dirname "$luks")"
  echo h2k-test-key | guestfish --keys-from-stdin -N "$luks.part=disk:64M" \
    part-disk /dev/sda mbr : luks-format /dev/sda1 0
  mv "$luks.part" "$luks"
fi
cp "$luks" "$tmp/luks.img"
refused "an encrypted root" "encrypted \\(LUKS\\)" "$tmp/luks.img"
