#!/usr/bin/env bash
# vmdk-flatten on the forms qemu-img cannot write, made by the project's
# own writer (tests/tools/vmdk-gen) and by hand: COWD and seSparse deltas,
# streamOptimized with the grain directory at the end, descriptors with
# ZERO/RDONLY/NOACCESS extents, offsets, spaces, CRLF and an encoding, and a
# chain mixing a flat base with COWD and seSparse deltas.  Oracle: the known
# data always, qemu-img where it reads the form.
. "$(dirname "$0")/functions.sh"
requires_vmdk_gen
cd "$tmp"

io ()
{
  local img=$1 fmt=$2; shift 2
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f "$fmt" "${args[@]}" "$img" >/dev/null
}

# same_as_qemu NAME IMAGE OUTPUT: qemu-img reads IMAGE as OUTPUT.
same_as_qemu ()
{
  if qemu-img convert -O raw "$2" "$1.qemu.raw" 2>/dev/null; then
    same_file "$1: qemu-img reads the same" "$3" "$1.qemu.raw"
  else
    skip "$1: qemu-img cannot read this form"
  fi
}

# Specs for vmdk-gen are written in whole 4 KiB blocks: a grain is
# allocated where the file system says the spec has data.
size=$((48 * 1024 * 1024))
truncate -s $size known.raw
io known.raw raw "write -P 0x11 0 2M" "write -P 0x22 20M 4M" "write -P 0x33 $((size - 65536)) 64k"

# streamOptimized, ovftool layout: GT markers, GD marker, footer, EOS and
# a type-4 progress marker.
"$gen" stream stream.vmdk known.raw
ok "stream (GD at end): flatten" vmdk-flatten stream.vmdk stream.raw
same_file "stream (GD at end): known data" stream.raw known.raw
same_as_qemu stream stream.vmdk stream.raw
ok "stream (GD at end): --check inflates every grain" \
  bash -c "vmdk-flatten --check stream.vmdk >/dev/null"

# Compressed grains without markers: a u32 size before each zlib stream.
"$gen" compressed comp.vmdk known.raw
ok "compressed without markers: flatten" vmdk-flatten comp.vmdk comp.raw
same_file "compressed without markers: known data" comp.raw known.raw

# The redundant grain directory is used when the primary is not given.
qemu-img convert -q -O vmdk known.raw rgd.vmdk
printf '\0\0\0\0\0\0\0\0' | dd of=rgd.vmdk bs=1 seek=56 conv=notrunc status=none
ok "redundant grain directory: flatten" vmdk-flatten rgd.vmdk rgd.raw
same_file "redundant grain directory: known data" rgd.raw known.raw

# A twoGbMaxExtentSparse delta (its extents have no descriptor of their
# own) on a monolithicFlat base.
mkdir two
qemu-img convert -q -O vmdk -o subformat=monolithicFlat known.raw two/base.vmdk
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse -b base.vmdk -F vmdk two/top.vmdk
io two/top.vmdk vmdk "write -P 0x99 3M 1M"
cp known.raw two.expected
io two.expected raw "write -P 0x99 3M 1M"
ok "twoGbMaxExtentSparse delta on a flat base: flatten" vmdk-flatten two/top.vmdk two.raw
same_file "twoGbMaxExtentSparse delta on a flat base: known data" two.raw two.expected
same_as_qemu two two/top.vmdk two.raw

# A mixed chain: a monolithicFlat base, a COWD delta (512-byte grains, as
# ESX makes them), an seSparse delta with zero and unmapped grains.
mkdir chain
qemu-img convert -q -O vmdk -o subformat=monolithicFlat known.raw chain/base.vmdk
base_cid=$(sed -n 's/^CID=//p' chain/base.vmdk)
cp known.raw expected.raw

truncate -s $size spec1.raw
cmds=("write -P 0x44 1M 2M" "write -P 0x45 21M 4k" "write -P 0x46 30M 1M")
io spec1.raw raw "${cmds[@]}"; io expected.raw raw "${cmds[@]}"
"$gen" cowd chain/web-000001-delta.vmdk spec1.raw 1
printf '%s\n' '# Disk DescriptorFile' 'version=1' 'encoding="UTF-8"' 'CID=c0d0c0d0' \
  "parentCID=$base_cid" 'isNativeSnapshot="no"' 'createType="vmfsSparse"' \
  'parentFileNameHint="base.vmdk"' '# Extent description' \
  "RW $((size / 512)) VMFSSPARSE \"web-000001-delta.vmdk\"" '' '# The Disk Data Base' \
  '#DDB' '' 'ddb.longContentID = "0123456789abcdef0123456789abcdef"' > chain/web-000001.vmdk

truncate -s $size spec2.raw
cmds=("write -P 0x55 2M 64k" "write -P 0x56 40M 8k")
io spec2.raw raw "${cmds[@]}"; io expected.raw raw "${cmds[@]}"
# Zero grains over the COWD data, unmapped grains over the base's data.
"$gen" sesparse chain/web-000002-sesparse.vmdk spec2.raw zero=$((1024 * 1024)):65536 unmap=$((20 * 1024 * 1024)):8192
io expected.raw raw "write -z 1M 64k" "write -z 20M 8k"
printf '%s\r\n' '# Disk DescriptorFile' 'version=1' 'CID=5e5e5e5e' \
  'parentCID=c0d0c0d0' 'createType="seSparse"' \
  'parentFileNameHint="/vmfs/volumes/5f0c2a3b-11aa22bb-3c4d-001122334455/web/web-000001.vmdk"' \
  "RW $((size / 512)) SESPARSE \"web-000002-sesparse.vmdk\"" 'ddb.grain = "8"' > chain/web-000002.vmdk

ok "mixed chain: flatten (flat + COWD + seSparse)" vmdk-flatten chain/web-000002.vmdk mixed.raw
same_file "mixed chain: known data" mixed.raw expected.raw
# qemu cannot follow an ESXi path: give it a relative one.
sed 's|/vmfs/volumes/[^/]*/web/||' chain/web-000002.vmdk > chain/web-000002-rel.vmdk
same_as_qemu mixed chain/web-000002-rel.vmdk mixed.raw
ok "mixed chain: --check" bash -c "vmdk-flatten --check chain/web-000002.vmdk >/dev/null"
vmdk-flatten --map chain/web-000002.vmdk > mixed.map
is "mixed chain: the seSparse zero grains read as zero in --map" \
  "$(jq -c 'select(.offset <= 1048576 and .offset + .length > 1048576) | .data' mixed.map)" false
is "mixed chain: the COWD data after them is data" \
  "$(jq -c 'select(.offset <= 1114112 and .offset + .length > 1114112) | .data' mixed.map)" true

# A bare COWD or seSparse extent (no descriptor) opens alone.
ok "bare COWD extent" vmdk-flatten chain/web-000001-delta.vmdk cowd.raw
same_file "bare COWD extent: its own grains over zeros" cowd.raw spec1.raw
"$gen" sesparse bare-sesparse.vmdk spec2.raw
ok "bare seSparse extent" vmdk-flatten bare-sesparse.vmdk ses.raw
same_file "bare seSparse extent: its own grains over zeros" ses.raw spec2.raw
"$gen" cowd cowd8.vmdk spec1.raw 8
ok "COWD with 4 KiB grains" vmdk-flatten cowd8.vmdk cowd8.raw
same_file "COWD with 4 KiB grains: data" cowd8.raw spec1.raw

# A descriptor with every kind of extent line, CRLF line ends, comments,
# spaces around '=', a file name with spaces, an offset, RDONLY, ZERO,
# NOACCESS, and a windows-1252 file name (caf<e9>.bin is café.bin).
mkdir desc
head -c $((4 * 1024 * 1024)) /dev/urandom > "desc/my disk-flat.vmdk"
head -c $((1024 * 1024)) /dev/urandom > "desc/café.bin"
{
  printf '# Disk DescriptorFile\r\n'
  printf 'version = 1\r\n'
  printf 'encoding = "windows-1252"\r\n'
  printf 'CID = 12345678\r\n'
  printf 'parentCID=ffffffff\r\n'
  printf '  createType = "monolithicFlat"  \r\n'
  printf '\r\n# Extent description\r\n'
  printf 'RW 2048 FLAT "my disk-flat.vmdk" 0\r\n'
  printf 'RDONLY 2048 FLAT "my disk-flat.vmdk" 4096\r\n'
  printf 'RW 1024 ZERO\r\n'
  printf 'NOACCESS 1024 FLAT "my disk-flat.vmdk" 0\r\n'
  printf 'RW 2048 FLAT "caf\xe9.bin" 0\r\n'
  printf 'RW 2048 VMFS "my disk-flat.vmdk"\r\n'
  printf '\r\n# The Disk Data Base\r\n#DDB\r\n\r\nddb.adapterType = "lsilogic"\r\n'
} > desc/disk.vmdk
{
  head -c $((1024 * 1024)) "desc/my disk-flat.vmdk"
  dd if="desc/my disk-flat.vmdk" bs=1M skip=2 count=1 status=none
  head -c $((1024 * 1024)) /dev/zero
  cat "desc/café.bin"
  head -c $((1024 * 1024)) "desc/my disk-flat.vmdk"
} > desc.expected
ok "descriptor with every extent kind: flatten" vmdk-flatten desc/disk.vmdk desc.raw
same_file "descriptor with every extent kind: known data (ZERO/NOACCESS are zeros, RDONLY kept, offset honoured, encoding converted)" desc.raw desc.expected
is "descriptor: size is the sum of the extents" "$(stat -c %s desc.raw)" 5242880

# ZERO and NOACCESS extents stay holes in the output.
vmdk-flatten --map desc/disk.vmdk > desc.map
is "descriptor: --map has the ZERO and NOACCESS extents as one zero run" \
  "$(jq -c 'select(.data == false) | [.offset, .length]' desc.map)" "[2097152,1048576]"

# A hint that does not exist falls back to the same directory.
mkdir -p moved && cp chain/base.vmdk chain/base-flat.vmdk moved/
sed 's|^parentFileNameHint=.*|parentFileNameHint="../somewhere/else/base.vmdk"|' chain/web-000001.vmdk > moved/web-000001.vmdk
cp chain/web-000001-delta.vmdk moved/
ok "a missing hint path falls back to the same directory" vmdk-flatten moved/web-000001.vmdk moved.raw

# Many extent files (a split disk): more than a soft limit of 1024 open
# files, which vmdk-flatten raises to the hard limit.
mkdir many
{
  printf '# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n'
  for i in $(seq 1100); do
    printf '%04d' "$i" | head -c 4096 > "many/e$i.bin"
    truncate -s 4096 "many/e$i.bin"
    echo "RW 8 FLAT \"e$i.bin\" 0"
  done
} > many/d.vmdk
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt 1200 ]; then
  if [ -n "${H2K_VALGRIND_LOGS:-}" ]; then
    # Valgrind refuses a program's raise of its soft limit (it keeps the
    # limit it started with, less its own descriptors): the limit is
    # raised before, and only the 1100 extents are tested.
    ok "1100 extent files (under valgrind: soft limit raised beforehand)" \
      bash -c 'ulimit -Sn "$(ulimit -Hn)" && vmdk-flatten many/d.vmdk many.raw'
  else
    ok "1100 extent files with a soft limit of 1024" bash -c 'ulimit -Sn 1024 && vmdk-flatten many/d.vmdk many.raw'
  fi
  is "1100 extent files: size" "$(stat -c %s many.raw)" $((1100 * 4096))
  is "1100 extent files: the last extent's data" "$(dd if=many.raw bs=4096 skip=1099 count=1 status=none | head -c 4)" 1100
else
  skip "hard limit on open files too low"
fi
