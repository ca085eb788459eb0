#!/usr/bin/env bash
# vmdk-flatten on the forms qemu-img writes: every subformat, and chains of
# vmdk deltas on vmdk bases.  Two oracles: the known data (the same writes
# applied to a raw file with qemu-io) and `qemu-img convert -O raw`.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires qemu-io --version
cd "$tmp"

# io IMAGE FORMAT CMDS...: apply qemu-io commands.
io ()
{
  local img=$1 fmt=$2; shift 2
  local args=()
  for c in "$@"; do args+=(-c "$c"); done
  qemu-io -f "$fmt" "${args[@]}" "$img" >/dev/null
}

quiet () { "$@" >/dev/null; }

# check NAME IMAGE EXPECTED: flatten IMAGE to a file and to stdout, compare
# with the known data and with qemu-img.
check ()
{
  local name=$1 img=$2 expected=$3
  ok "$name: flatten to a file" vmdk-flatten "$img" "$name.raw"
  same_file "$name: output is the known data" "$name.raw" "$expected"
  qemu-img convert -O raw "$img" "$name.qemu.raw"
  same_file "$name: output is what qemu-img reads" "$name.raw" "$name.qemu.raw"
  [ ! -e "$name.raw.part" ] && pass "$name: no .part left" || fail "$name: .part left"
  local got
  got=$(vmdk-flatten "$img" - | sha256sum | cut -d' ' -f1)
  is "$name: streaming to stdout gives the same bytes" "$got" "$(sha256 "$expected")"
  ok "$name: --check" quiet vmdk-flatten --check "$img"
}

# Known data: two patterns and a zero run on a 40 MiB disk (not a whole
# number of grain tables, with a partial last grain).
size=$((40 * 1024 * 1024 + 4096))
truncate -s "$size" known.raw
base_cmds=("write -P 0x11 0 1M" "write -P 0x22 10M 3M" "write -P 0x33 $((size - 4096)) 4096")
io known.raw raw "${base_cmds[@]}"

for sub in monolithicSparse monolithicFlat twoGbMaxExtentSparse twoGbMaxExtentFlat streamOptimized; do
  mkdir -p "$sub"
  qemu-img convert -q -O vmdk -o subformat=$sub known.raw "$sub/disk.vmdk"
  check "$sub" "$sub/disk.vmdk" known.raw
done

# The sparse output keeps holes: it allocates no more than qemu's does.
ours=$(du -k monolithicSparse.raw | cut -f1)
theirs=$(du -k monolithicSparse.qemu.raw | cut -f1)
[ "$ours" -le "$theirs" ] && pass "output is sparse ($ours KiB allocated)" \
  || fail "output is sparse ($ours KiB allocated, qemu-img $theirs KiB)"

# A chain: a base and three deltas, each overwriting part of the one below;
# the deltas live in another directory named by a relative hint.
mkdir -p chain/snaps
cp known.raw chain.known
qemu-img convert -q -O vmdk known.raw chain/base.vmdk
# (A delta is written before its child is made: writing changes its CID.)
prev=../base.vmdk
for i in 1 2 3; do
  qemu-img create -q -f vmdk -b "$prev" -F vmdk "chain/snaps/d$i.vmdk"
  prev=d$i.vmdk
  cmds=("write -P 0x4$i $((i * 512))k 1M" "write -P 0x5$i $((i * 7))M 64k")
  io "chain/snaps/d$i.vmdk" vmdk "${cmds[@]}"
  io chain.known raw "${cmds[@]}"
done
check chain chain/snaps/d3.vmdk chain.known
ok "chain: -v names every layer" bash -c \
  "vmdk-flatten -v chain/snaps/d3.vmdk verbose.raw 2>&1 | grep -c 'layer ' | grep -qx 4"

# A zeroed grain in a delta hides the base: it reads as zeros.
qemu-img create -q -f vmdk -o zeroed_grain=on -b ../base.vmdk -F vmdk chain/snaps/z.vmdk
io chain/snaps/z.vmdk vmdk "write -z 11M 128k"
cp known.raw z.known
io z.known raw "write -z 11M 128k"
check zeroed chain/snaps/z.vmdk z.known
vmdk-flatten --map chain/snaps/z.vmdk > z.map
is "zeroed: --map shows the zeroed grains as zero" \
  "$(jq -c 'select(.offset == 11534336) | [.length, .data, .zero]' z.map)" '[131072,false,true]'

# --map: records cover the disk exactly, in order, and agree with
# `qemu-img map` on which bytes hold data.
vmdk-flatten --map chain/snaps/d3.vmdk > d3.map
is "--map covers the disk" "$(jq -s 'map(.length) | add' d3.map)" "$size"
is "--map records are contiguous" \
  "$(jq -s '[range(1; length) as $i | .[$i].offset == .[$i-1].offset + .[$i-1].length] | all' d3.map)" true
is "--map records are extent records" "$(jq -r '.kind' d3.map | sort -u)" extent
ours=$(jq -r 'select(.data) | "\(.offset) \(.length)"' d3.map)
theirs=$(qemu-img map --output=json chain/snaps/d3.vmdk \
  | jq -r 'reduce (.[] | select(.data)) as $e ([]; if length > 0 and (.[-1][0] + .[-1][1]) == $e.start then .[-1][1] += $e.length else . + [[$e.start, $e.length]] end) | .[] | "\(.[0]) \(.[1])"')
is "--map data extents match qemu-img map" "$ours" "$theirs"

# --progress=FD writes N/100 lines ending in 100/100.
vmdk-flatten --progress=3 chain/snaps/d3.vmdk p.raw 3>progress.txt
is "--progress=FD ends at 100/100" "$(tail -n1 progress.txt)" "100/100"

# A CID mismatch is an error, unless --ignore-cid.
mkdir -p cid && qemu-img create -q -f vmdk -o subformat=monolithicFlat cid/base.vmdk 1M
qemu-img create -q -f vmdk -b base.vmdk -F vmdk cid/top.vmdk
sed -i 's/^CID=.*/CID=0badc0de/' cid/base.vmdk
EXPECT_STATUS=1 expect_fail "a parentCID mismatch is refused" \
  "parentCID [0-9a-f]{8} does not match the CID 0badc0de" vmdk-flatten cid/top.vmdk cid.raw
[ ! -e cid.raw ] && [ ! -e cid.raw.part ] && pass "no output after a refused chain" \
  || fail "no output after a refused chain"
EXPECT_STATUS=1 expect_fail "the refusal names the option that overrides it" \
  "snapshot was taken \(--ignore-parent-id reads it anyway\)" vmdk-flatten cid/top.vmdk cid.raw
EXPECT_STATUS=1 expect_fail "img-convert refuses the same chain, naming its option" \
  "does not match the CID 0badc0de.*\(--ignore-parent-id reads it anyway\)" \
  img-convert cid/top.vmdk cid.qcow2
ok "img-convert --ignore-parent-id reads it anyway" img-convert --ignore-parent-id cid/top.vmdk cid.qcow2
ok "--ignore-parent-id reads it anyway" vmdk-flatten --ignore-parent-id cid/top.vmdk cid-2.raw
ok "qemu-img agrees with img-convert on the chain read anyway" qemu-img compare -q cid-2.raw cid.qcow2
rm -f cid-2.raw
ok "--ignore-cid reads it anyway" vmdk-flatten --ignore-cid cid/top.vmdk cid.raw
