#!/bin/bash
# Store a raw disk image as vSphere stores a VM's disk after one snapshot,
# and print the leaf descriptor's path:
#
#   vmware-chain.sh RAW DIR NAME
#
# DIR/NAME.vmdk          the base's descriptor (createType "vmfs")
# DIR/NAME-flat.vmdk     the base's data: RAW as it was before the snapshot,
#                        here RAW with its first MiB (the MBR and the boot
#                        loader's core image) zeroed
# DIR/NAME-000001.vmdk   the snapshot delta's descriptor (vmfsSparse), naming
#                        the base as its parent
# DIR/NAME-000001-delta.vmdk
#                        the delta's data: an ESX COWD file (512-byte
#                        grains) holding RAW's first MiB
#
# so the guest only boots when the whole chain is read: the base alone has
# no boot loader.  A finished DIR is reused (DIR/.done); DIR is built as
# DIR.part and renamed.  Needs vmdk-gen (tests/tools, `make check` or
# `make demo` builds it) on PATH or in $H2K_BIN/tests.
set -euo pipefail

[ $# -eq 3 ] || { echo "usage: ${0##*/} RAW DIR NAME" >&2; exit 2; }
raw=$1 dir=$2 name=$3
gen=$(command -v vmdk-gen || echo "${H2K_BIN:-$(dirname "$0")/../../bin}/tests/vmdk-gen")
[ -x "$gen" ] || { echo "${0##*/}: vmdk-gen is not built (make bin/tests/vmdk-gen)" >&2; exit 1; }

# Tests and the demo that run at once wait for one build.
mkdir -p "$(dirname "$dir")"
exec 8>"$dir.lock"
flock 8
if [ -e "$dir/.done" ] && [ "$dir/.done" -nt "$raw" ]; then
    echo "$dir/$name-000001.vmdk"
    exit 0
fi
rm -rf "$dir.part" "$dir"
mkdir -p "$dir.part"
size=$(stat -c %s "$raw")
[ $((size % 512)) -eq 0 ] || { echo "${0##*/}: $raw: size is not a multiple of 512" >&2; exit 1; }
sectors=$((size / 512))

cp --sparse=always "$raw" "$dir.part/$name-flat.vmdk"
fallocate --punch-hole --offset 0 --length 1048576 "$dir.part/$name-flat.vmdk" 2>/dev/null ||
    dd if=/dev/zero of="$dir.part/$name-flat.vmdk" bs=1M count=1 conv=notrunc status=none
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'encoding="UTF-8"' 'CID=b0a5e001' \
    'parentCID=ffffffff' 'createType="vmfs"' '' '# Extent description' \
    "RW $sectors VMFS \"$name-flat.vmdk\"" '' '# The Disk Data Base' '#DDB' '' \
    'ddb.adapterType = "lsilogic"' 'ddb.virtualHWVersion = "13"' \
    'ddb.uuid = "60 00 c2 9a 0b 1c 2d 3e-4f 50 61 72 83 94 a5 b6"' \
    'ddb.longContentID = "00000000000000000000000000b0a5e001"' > "$dir.part/$name.vmdk"

spec=$dir.part/spec.raw
truncate -s "$size" "$spec"
dd if="$raw" of="$spec" bs=1M count=1 conv=notrunc status=none
"$gen" cowd "$dir.part/$name-000001-delta.vmdk" "$spec" 1
rm -f "$spec"
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'encoding="UTF-8"' 'CID=de17a001' \
    'parentCID=b0a5e001' 'createType="vmfsSparse"' "parentFileNameHint=\"$name.vmdk\"" \
    '' '# Extent description' "RW $sectors VMFSSPARSE \"$name-000001-delta.vmdk\"" '' \
    '# The Disk Data Base' '#DDB' '' 'ddb.longContentID = "000000000000000000000000de17a001"' \
    > "$dir.part/$name-000001.vmdk"
touch "$dir.part/.done"
mv "$dir.part" "$dir"
echo "$dir/$name-000001.vmdk"
