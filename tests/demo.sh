#!/bin/sh
# make demo: the first thing to run.  Builds a small VMware snapshot chain
# with qemu-img (a base and two snapshots), flattens it with vmdk-flatten,
# and checks the result against `qemu-img convert -O raw` of the same chain.
set -eu
command -v qemu-img >/dev/null || { echo "demo: qemu-img is missing: run 'make deps'" >&2; exit 1; }
command -v vmdk-flatten >/dev/null || { echo "demo: vmdk-flatten is not built: run 'make'" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/h2k-demo.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"

say () { printf '\n== %s\n' "$*"; }
run () { printf '$ %s\n' "$*"; "$@"; }

say "1. A 256 MiB base disk with some data, and two snapshots on top"
run qemu-img create -q -f vmdk web01.vmdk 256M
run qemu-io -f vmdk -c 'write -P 0xaa 0 4M' -c 'write -P 0xbb 100M 8M' web01.vmdk >/dev/null
run qemu-img create -q -f vmdk -b web01.vmdk -F vmdk web01-000001.vmdk
run qemu-io -f vmdk -c 'write -P 0xcc 2M 4M' web01-000001.vmdk >/dev/null
run qemu-img create -q -f vmdk -b web01-000001.vmdk -F vmdk web01-000002.vmdk
run qemu-io -f vmdk -c 'write -z 102M 1M' -c 'write -P 0xdd 200M 1M' web01-000002.vmdk >/dev/null
grep -a -m1 parentFileNameHint web01-000002.vmdk

say "2. Flatten the chain into one sparse raw disk"
run vmdk-flatten --verbose web01-000002.vmdk web01.raw
run ls -ls web01.raw

say "3. Where the data is (--map, JSON extent lines)"
run vmdk-flatten --map web01-000002.vmdk

say "4. Check against qemu-img"
run qemu-img convert -O raw web01-000002.vmdk qemu.raw
run qemu-img compare -q -f raw -F raw web01.raw qemu.raw
echo "identical: vmdk-flatten and qemu-img agree"

say "5. Streaming to a pipe works too"
printf '$ vmdk-flatten web01-000002.vmdk - | sha256sum\n'
a=$(vmdk-flatten web01-000002.vmdk - | sha256sum | cut -d' ' -f1)
b=$(sha256sum < qemu.raw | cut -d' ' -f1)
echo "$a"
[ "$a" = "$b" ] && echo "same as qemu-img's output" || { echo "demo: MISMATCH" >&2; exit 1; }
echo
echo "demo: ok"
