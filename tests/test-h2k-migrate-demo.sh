#!/usr/bin/env bash
# The end-to-end test of the whole toolbox: `make demo` (tests/demo.sh) as
# a user runs it.  The bootable Debian guest of tests/guests (built once,
# cached) is stored in the simulator as vSphere stores it (a flat base and
# a COWD snapshot delta that holds its boot loader, a VMware MAC, BIOS),
# h2k-migrate migrates it, and the converted disk boots under qemu on
# virtio (one boot): root on /dev/vda1, the NIC up as ens192, VMware Tools
# stopped.  Minutes under TCG.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/guests/check.sh"
slow_test "the demo: a guest migrated out of the simulator and booted"
requires_fix_and_boot
[ -x "$H2K_TOP/tests/vcsim/h2k-vcsim" ] || skip_all "the simulator is not built (make vcsim)"
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"
guest_image debian-vmware > /dev/null

st=0
H2K_DEMO_DIR=$tmp/demo bash "$H2K_TOP/tests/demo.sh" > "$tmp/demo.out" 2>&1 || st=$?
is "the demo exits 0" "$st" 0
[ "$st" = 0 ] || diag "$(tail -n 30 "$tmp/demo.out")"
ok "it shows each step with its time" \
  sh -c '[ "$(grep -c "^== [1-5]\. " "$1")" = 5 ] && grep -q "^   ([0-9.]* s)$" "$1"' _ "$tmp/demo.out"
ok "it shows the commands it runs" grep -q '^\$ h2k-migrate --out ' "$tmp/demo.out"
m=$tmp/demo/migrated/debian12/migration.json
jq_ok "the VM came through the chain: pull, convert, fix" \
  '.status == "done" and ([.steps[].name] == ["inventory", "pull", "convert", "fix", "domain"]) and (.source.disks[0].chain | length) == 2' "$m"
# The chain reads as the guest image (the delta gives back the base's
# zeroed first MiB), so the converted disk's digest is the image's.
jq_ok "the converted disk's digest is the guest image's" '.disks[0].sha256 == $s' "$m" \
  --arg s "$(sha256 "$(guest_image debian-vmware)")"
marker=$(cat "$tmp/demo/marker" 2>/dev/null || true)
marker_has "$marker" "root=/dev/vda1 " "the migrated guest booted with root on /dev/vda1"
marker_fixed "$marker"
ok "the boot line is shown" grep -q 'the guest says: BOOT-OK' "$tmp/demo.out"
if command -v virt-xml-validate >/dev/null; then
  ok "its domain validates" sh -c 'virt-xml-validate "$1" domain >/dev/null' _ "$tmp/demo/migrated/debian12/domain.xml"
fi
