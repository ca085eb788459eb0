#!/bin/bash
# Build a fake virtio-win tree (the layout of Red Hat's virtio-win ISO:
# DRIVER/OS/ARCH/DRIVER.{sys,inf,cat}) for the Windows tests.  The files
# hold only their own names: guest-fix copies them and writes the
# registry, which is what the tests check.
#
#   make-virtio-win.sh OUTPUT-DIR
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 1 ] || { echo "usage: ${0##*/} OUTPUT-DIR" >&2; exit 2; }
out=$1
rm -rf "$out.part"
for d in viostor vioscsi NetKVM Balloon; do
  f=$(echo "$d" | tr A-Z a-z)
  for os in 2k8R2 w7 2k19 w10; do
    for arch in amd64 x86; do
      mkdir -p "$out.part/$d/$os/$arch"
      for ext in sys inf cat; do
        echo "fake $f.$ext for $os $arch" > "$out.part/$d/$os/$arch/$f.$ext"
      done
    done
  done
done
mv "$out.part" "$out"
