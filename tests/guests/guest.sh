#!/bin/bash
# Print the path of a cached test guest, building it first if needed.
#
#   guest.sh NAME
#
# NAME is debian-vmware, debian-dracut, debian-lvm, debian-uefi (bootable
# Debian guests from make-debian.sh), debian-multi (a directory holding
# the three disks of make-debian.sh's multi variant), windows (a phony Windows disk from
# make-windows.sh) or virtio-win (a fake virtio-win tree from
# make-virtio-win.sh).  Guests live in $H2K_GUEST_CACHE; a lock file makes
# tests that run at the same time wait for one build instead of racing.
# Exit status 77 when the guest cannot be built here (a tool is missing,
# not root, no mirror), so a test can skip; 1 when a build fails.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 1 ] || { echo "usage: ${0##*/} NAME" >&2; exit 2; }
name=$1
case $name in
    debian-vmware|debian-dracut|debian-lvm|debian-uefi)
        out=$H2K_GUEST_CACHE/$name.img
        build=("$guests_dir/make-debian.sh" "${name#debian-}" "$out")
        needs="debootstrap sfdisk mkfs.ext4 guestfish"
        [ "$name" = debian-uefi ] && needs+=" mkfs.fat mmd mcopy" ;;
    debian-multi)
        # A directory: disk1.img, disk2.img, disk3.img.
        out=$H2K_GUEST_CACHE/$name
        build=("$guests_dir/make-debian.sh" multi "$out")
        needs="debootstrap sfdisk mkfs.ext4 guestfish" ;;
    windows)
        out=$H2K_GUEST_CACHE/windows.img
        build=("$guests_dir/make-windows.sh" "$out")
        needs="guestfish hivexregedit perl" ;;
    virtio-win)
        out=$H2K_GUEST_CACHE/virtio-win
        build=("$guests_dir/make-virtio-win.sh" "$out")
        needs= ;;
    *) guest_die "$name: unknown guest" ;;
esac

mkdir -p "$H2K_GUEST_CACHE"
exec 9>"$H2K_GUEST_CACHE/$name.lock"
flock 9
if [ ! -e "$out" ]; then
    for c in $needs; do
        command -v "$c" >/dev/null || { guest_msg "$name: $c not installed"; exit 77; }
    done
    if [ "$name" != virtio-win ] && [ "$(id -u)" != 0 ] && [ "${name#debian}" != "$name" ]; then
        guest_msg "$name: building needs root"; exit 77
    fi
    rc=0; "${build[@]}" >&2 || rc=$?
    [ $rc = 0 ] || { guest_msg "$name: build failed (exit $rc)"; exit $rc; }
fi
echo "$out"
