#!/usr/bin/env bash
# Memory stays bounded whatever the size: a 2040 GiB monolithicSparse chain
# (the largest a hosted sparse extent allows) with a little data is mapped,
# checked and flattened to a sparse file quickly and in a few MiB.
. "$(dirname "$0")/functions.sh"
requires qemu-img --version
requires qemu-io --version
cd "$tmp"

qemu-img create -q -f vmdk big.vmdk 2040G
qemu-io -f vmdk -c 'write -P 0x77 1T 1M' -c 'write -P 0x78 2000G 64k' big.vmdk >/dev/null
qemu-img create -q -f vmdk -b big.vmdk -F vmdk top.vmdk
qemu-io -f vmdk -c 'write -P 0x79 1T 64k' top.vmdk >/dev/null

vmdk-flatten --map top.vmdk > map.jsonl
is "--map: the two data extents of 2040 GiB" "$(jq -c 'select(.data) | [.offset, .length]' map.jsonl | tr -d '\n')" \
  "[1099511627776,1048576][2147483648000,65536]"
ok "flatten 2040 GiB to a sparse file" vmdk-flatten top.vmdk big.raw
is "the output has the disk's size" "$(stat -c %s big.raw)" $((2040 * 1024 * 1024 * 1024))
is "the output holds the data" "$(dd if=big.raw bs=64k skip=$((1024 * 16384)) count=1 status=none | od -An -tx1 | tr -s ' \n' ' ' | cut -c1-12)" " 79 79 79 79"
is "and only the data (KiB allocated <= 2048)" "$([ "$(du -k big.raw | cut -f1)" -le 2048 ] && echo yes)" yes
rm -f big.raw

if [ -x /usr/bin/time ]; then
  for mode in "--map" "--check"; do
    /usr/bin/time -f '%M' -o rss.txt vmdk-flatten $mode top.vmdk >/dev/null
    rss=$(tail -n1 rss.txt)
    [ "$rss" -lt 65536 ] && pass "$mode on 2040 GiB: peak RSS ${rss} KiB < 64 MiB" \
      || fail "$mode on 2040 GiB: peak RSS ${rss} KiB"
  done
  /usr/bin/time -f '%M' -o rss.txt vmdk-flatten top.vmdk big.raw
  rss=$(tail -n1 rss.txt)
  [ "$rss" -lt 65536 ] && pass "flatten 2040 GiB: peak RSS ${rss} KiB < 64 MiB" \
    || fail "flatten 2040 GiB: peak RSS ${rss} KiB"
else
  skip "/usr/bin/time missing"
fi
