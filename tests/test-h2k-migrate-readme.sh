#!/usr/bin/env bash
# The README's migration examples, run as written against the simulator:
#
# * the pipeline of "Quick start" stops at the first failure: with no such
#   VM nothing is written; with a disk that holds no guest, the disk is
#   converted (and right) but guest-fix fails, and nothing after it runs;
# * the "## h2k-migrate" example on the bootable Debian guest of
#   tests/guests (cached; guest-fix runs, minutes under TCG; skipped in the
#   sanitizer run), with only the lines that name the example's own vCenter
#   changed: the GOVC_URL line is left out (the simulator's settings are in
#   the environment) and `virsh define` goes to libvirt's test driver.
. "$(dirname "$0")/functions.sh"
. "$H2K_TOP/tests/vcsim/vcsim.sh"
requires jq --version
requires qemu-img --version
requires qemu-io --version
[ -x "$H2K_BIN/tests/vmdk-gen" ] || skip_all "vmdk-gen is not built"

# block AFTER-REGEXP: the first ```sh block of the README after a line
# matching AFTER-REGEXP.
block ()
{
  awk -v re="$1" '
    !found && $0 ~ re { found = 1; next }
    found && !inside && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }' "$H2K_TOP/README.md"
}
block 'The same migration written out' > "$tmp/pipeline.sh"
block '^## h2k-migrate' > "$tmp/example.sh"
ok "the README has the pipeline" grep -q 'set -euo pipefail' "$tmp/pipeline.sh"
ok "the README has the h2k-migrate example" grep -q '^h2k-migrate ' "$tmp/example.sh"

secret=Readme-pw-42
mkdir -p "$tmp/home"
printf '%s\n' "$secret" > "$tmp/home/.vc-pass"
export HOME=$tmp/home GOVC_INSECURE=1

# --- The pipeline stops at the first failure --------------------------------
truncate -s 16M "$tmp/web01.raw"
qemu-io -f raw -c 'write -P 0x3c 0 2M' "$tmp/web01.raw" >/dev/null
leaf=$("$H2K_TOP/tests/guests/vmware-chain.sh" "$tmp/web01.raw" "$tmp/chain" web01)
start_vcsim -username administrator@vsphere.local -password "$secret" -vm-disk "nothere=$leaf"
export GOVC_URL=$VCSIM_URL
mkdir -p "$tmp/p1"
st=0
(cd "$tmp/p1" && bash "$tmp/pipeline.sh") >/dev/null 2>"$tmp/p1.err" || st=$?
is "no such VM: the pipeline fails" "$([ "$st" -ne 0 ] && echo failed)" failed
ok "no such VM: vs-ls said so" grep -q "no VM named 'web01'" "$tmp/p1.err"
is "no such VM: no disk, no report, no domain" "$(cd "$tmp/p1" && find out -type f | wc -l)" 0

if command -v guestfish >/dev/null && command -v guest-fix >/dev/null; then
  start_vcsim -username administrator@vsphere.local -password "$secret" -vm-disk "web01=$leaf"
  export GOVC_URL=$VCSIM_URL
  mkdir -p "$tmp/p2"
  st=0
  (cd "$tmp/p2" && bash "$tmp/pipeline.sh") >/dev/null 2>"$tmp/p2.err" || st=$?
  is "a disk with no guest: the pipeline fails" "$([ "$st" -ne 0 ] && echo failed)" failed
  ok "the disk was converted, and is right" qemu-img compare -q -f raw -F qcow2 "$tmp/web01.raw" "$tmp/p2/out/web01-000001.qcow2"
  ok "it stopped at guest-fix: no domain was written" test ! -e "$tmp/p2/out/web01.xml"
else
  skip "guest-fix or libguestfs missing: the pipeline's second case"
fi

# --- The h2k-migrate example, on a real guest --------------------------------
if [ "${H2K_SANITIZE:-}" = 1 ] || [ "${H2K_SLOW_TESTS:-}" = 0 ]; then
  skip "the h2k-migrate example on the Debian guest (slow; only in the normal run)"
  exit 0
fi
requires guestfish --version
requires virsh --version
img=$("$H2K_TOP/tests/guests/guest.sh" debian-vmware 2>/dev/null) || skip_all "the Debian test guest cannot be built here"
leaf=$("$H2K_TOP/tests/guests/vmware-chain.sh" "$img" "$(dirname "$img")/debian-vmware-chain" debian12)
start_vcsim -username administrator@vsphere.local -password "$secret" -autostart=false \
  -vm-disk "web01=$leaf" -vm-mac web01=00:50:56:9a:0b:1c
export GOVC_URL=$VCSIM_URL
grep -v '^export GOVC_URL=' "$tmp/example.sh" | sed 's/^virsh define /virsh -c test:\/\/\/default define /' > "$tmp/example-here.sh"
mkdir -p "$tmp/ex"
ok "the README's h2k-migrate example runs" sh -c 'cd "$1" && bash -euo pipefail "$2" > out 2> err || { cat err >&2; exit 1; }' _ "$tmp/ex" "$tmp/example-here.sh"
m=$tmp/ex/migrated/web01/migration.json
jq_ok "it migrated web01 with every step" \
  '.status == "done" and ([.steps[].name] == ["inventory", "pull", "convert", "fix", "domain"])' "$m"
ok "the example's jq line printed the steps" grep -q '^fix: ' "$tmp/ex/out"
ok "virsh defined the domain" grep -q 'Domain .*web01.* defined' "$tmp/ex/out"
jq_ok "guest-fix fixed it" '.status == "ok" and any(.fixes[]; .name == "initramfs" and .status == "applied")' \
  "$tmp/ex/migrated/web01/fix-report.json"
ok "the converted disk (named after the base disk) passes qemu-img check" qemu-img check -q "$tmp/ex/migrated/web01/debian12.qcow2"
