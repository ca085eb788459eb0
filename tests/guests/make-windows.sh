#!/bin/bash
# Build a phony Windows Server 2008 R2 guest: enough for libguestfs's
# inspection and for guest-fix's registry work, not bootable.
#
#   make-windows.sh OUTPUT
#
# One NTFS partition with C:\Windows\System32\config\{SYSTEM,SOFTWARE}
# (hives made from windows-system.reg and windows-software.reg with
# hivexregedit, on an empty hive from make-hive.pl), System32\drivers, and
# a minimal x86-64 PE file as cmd.exe (inspection reads the architecture
# from it).  The registry is set up as VMware leaves it: pvscsi is the
# boot driver and the VMware Tools services start automatically.
# Written as OUTPUT.part, renamed when complete.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 1 ] || { echo "usage: ${0##*/} OUTPUT" >&2; exit 2; }
out=$1
command -v hivexregedit >/dev/null || { guest_msg "hivexregedit not installed"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/h2k-windows.XXXXXX")
trap 'rm -rf "$work"; rm -f "$out.part"' EXIT

for h in system software; do
  H=$(echo "$h" | tr a-z A-Z)
  perl "$guests_dir/make-hive.pl" "$work/$H"
  hivexregedit --merge "$work/$H" --prefix "HKEY_LOCAL_MACHINE\\$H" \
    "$guests_dir/windows-$h.reg"
done

# The smallest PE32+ image file(1) calls "x86-64, for MS Windows": a DOS
# header pointing at the PE header, a COFF header for AMD64 and an
# optional header with the PE32+ magic and the console subsystem.
perl -e '
  my $dos = pack ("a2 x58 V", "MZ", 0x40);
  my $coff = pack ("a4 v v V V V v v", "PE\0\0", 0x8664, 0, 0, 0, 0, 0xf0, 0x22);
  my $opt = pack ("v x66 v", 0x20b, 3);
  $opt .= "\0" x (0xf0 - length $opt);
  print $dos, $coff, $opt;' > "$work/cmd.exe"

# NTFS support is optional in libguestfs; asking costs no extra launch
# when it is the first command of the session that builds the disk.
if ! guestfish -N "$out.part=disk:256M" <<GF 2>"$work/guestfish.err"
available ntfs3g
part-init /dev/sda mbr
part-add /dev/sda p 2048 -64
part-set-bootable /dev/sda 1 true
pwrite-device /dev/sda "\x33\x17\xb2\x54" 0x1b8 | cat >/dev/null
mkfs ntfs /dev/sda1
mount /dev/sda1 /
mkdir-p /Windows/System32/config
mkdir-p /Windows/System32/drivers
upload $work/SYSTEM /Windows/System32/config/SYSTEM
upload $work/SOFTWARE /Windows/System32/config/SOFTWARE
upload $work/cmd.exe /Windows/System32/cmd.exe
touch /Windows/System32/drivers/pvscsi.sys
mkdir-p "/Program Files/VMware/VMware Tools"
touch "/Program Files/VMware/VMware Tools/vmtoolsd.exe"
GF
then
  cat "$work/guestfish.err" >&2
  if grep -q 'available' "$work/guestfish.err"; then
    guest_msg "libguestfs has no NTFS support"; exit 77
  fi
  guest_die "building the disk failed"
fi
mv "$out.part" "$out"
guest_msg "windows: done: $out"
