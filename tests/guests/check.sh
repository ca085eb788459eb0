# Helpers for the guest-fix tests (sourced after tests/functions.sh).
#
#   jqt FILTER FILE           jq -e, quiet, for ok
#   guest_image NAME          path of the cached test guest (builds it once;
#                             skips the test file when it cannot be built)
#   convert_copy SRC DST      the converted copy guest-fix works on: with
#                             img-convert when it is built, else qemu-img
#   check_claims REPORT DISK [FILE...]
#   check_claims -a DISK... REPORT [FILE...]
#                             every change the report claims, read back from
#                             DISK (or every -a DISK, in order: the disks
#                             of a multi-disk guest) with libguestfs (edited
#                             lines present, created files there, removed
#                             files gone)
#   readback_path FILE        where check_claims put the guest's FILE
#   boot_guest ARGS...        tests/guests/boot.sh
#   ovmf_present              whether Debian's OVMF (4M) files are installed
#   boots_enabled             false in the sanitizer run (see below)

guests=$H2K_TOP/tests/guests

# jqt FILTER FILE: jq -e as a test command (its output is not TAP).
jqt () { jq -e "$@" > /dev/null; }
export H2K_GUEST_CACHE=${H2K_GUEST_CACHE:-$H2K_CACHE/guests}

guest_image ()
{
  local out st=0
  out=$("$guests/guest.sh" "$1") || st=$?
  case $st in
    0) echo "$out" ;;
    77) skip_all "test guest $1 cannot be built here" ;;
    *) echo "building test guest $1 failed" >&2; exit 1 ;;
  esac
}

convert_copy ()
{
  if command -v img-convert >/dev/null; then
    img-convert -O qcow2 "$1" "$2"
  else
    qemu-img convert -O qcow2 "$1" "$2"
  fi
}

# Booting is what proves the fix, but it costs about a minute of TCG per
# boot; the sanitizer run (SANITIZE=1) checks guest-fix itself and leaves
# the boots to the normal run, unless H2K_BOOT_TESTS=1.
boots_enabled ()
{
  [ "${H2K_BOOT_TESTS:-}" = 1 ] && return 0
  [ "${H2K_BOOT_TESTS:-}" = 0 ] && return 1
  [ "${H2K_SANITIZE:-}" != 1 ]
}

boot_guest ()
{
  "$guests/boot.sh" "$@"
}

# requires_fix_and_boot: skip the file unless this machine has what a
# convert, fix, read back and boot test uses.
requires_fix_and_boot ()
{
  requires guestfish --version
  requires qemu-system-x86_64 --version
  requires qemu-img --version
  requires jq --version
  requires lsinitramfs --help
}

# boot_fails_before REGEXP DESC BOOT-ARGS...: one test point, that the
# guest as VMware left it does not boot with BOOT-ARGS (boot.sh's options
# and disks) and that its console shows the extended REGEXP, the way it
# is expected to fail; skipped when boots are off.
boot_fails_before ()
{
  local regexp=$1 desc=$2
  shift 2
  if ! boots_enabled; then
    skip "boot before the fix (only in the normal run)"
  elif boot_guest "$@" "$tmp/before.log" >/dev/null 2>&1; then
    fail "before: booted without the fix"
  elif grep -qaE "$regexp" "$tmp/before.log"; then
    pass "$desc"
  else
    fail "before: the boot failed in an unexpected way"
    diag "$(tail -n 5 "$tmp/before.log" | tr -d '\r')"
  fi
}

# report_all_applied REPORT: the test points of a clean guest-fix run on
# a VMware-like Linux guest: status ok with no warnings, and each of the
# fixes such a guest needs applied.
report_all_applied ()
{
  local f
  ok "report: status ok, no warnings" jqt '.status == "ok" and (.warnings | length) == 0' "$1"
  for f in vmware-tools network block-devices bootloader initramfs; do
    ok "report: $f applied" jqt --arg f "$f" '.fixes[] | select(.name == $f) | .status == "applied"' "$1"
  done
}

# marker_has MARKER PATTERN DESC: one test point, that the boot marker
# line matches the glob *PATTERN* (so "mounts=*/var:/dev/vdc2" works).
marker_has ()
{
  # shellcheck disable=SC2254
  case $1 in *$2*) pass "$3" ;; *) fail "$3: $1" ;; esac
}

# marker_fixed MARKER: what every guest after guest-fix must show on KVM:
# its NIC up under its old name with an address, VMware Tools stopped.
marker_fixed ()
{
  marker_has "$1" "up=ens192:up " "after: the NIC is up as ens192"
  marker_has "$1" "inet=ens192:10.0.2." "after: the NIC got its address"
  marker_has "$1" "vmtools=stopped" "after: VMware Tools not running"
}

readback_path ()
{
  echo "$tmp/readback/$(printf %s "$1" | tr / _)"
}

ovmf_present ()
{
  local d=${H2K_OVMF_DIR:-/usr/share/OVMF}
  [ -f "$d/OVMF_CODE_4M.fd" ] && [ -f "$d/OVMF_VARS_4M.fd" ]
}

check_claims ()
{
  local adds=() rb=$tmp/readback
  while [ "${1:-}" = -a ]; do adds+=(-a "$2"); shift 2; done
  local report=$1
  shift
  if [ ${#adds[@]} = 0 ]; then adds=(-a "$1"); shift; fi
  rm -rf "$rb"; mkdir -p "$rb"
  # One appliance launch: download every file the report names, and the
  # extra files the caller wants to look at ($(readback_path FILE)).
  { jq -r '.fixes[].changes[] | select(.file) | .file' "$report"; printf '%s\n' "$@"; } | sort -u |
    while read -r f; do
      printf -- '-download "%s" "%s/%s"\n' "$f" "$rb" "$(printf %s "$f" | tr / _)"
    done > "$rb.gf"
  guestfish --ro --format=qcow2 "${adds[@]}" -i -f "$rb.gf" 2>/dev/null || true
  local bad=0 n=0 file action local_f
  while IFS=$'\t' read -r file action; do
    n=$((n + 1))
    local_f=$rb/$(printf %s "$file" | tr / _)
    case $action in
      edit|create)
        [ -f "$local_f" ] || { diag "$file: claimed ($action) but absent"; bad=1; } ;;
      remove|mask)
        if [ "$action" = remove ] && [ -e "$local_f" ]; then
          diag "$file: claimed removed but present"; bad=1
        fi ;;
    esac
  done < <(jq -r '.fixes[].changes[] | select(.file) | [.file, .action] | @tsv' "$report")
  # Each edited line is in the file as the report says.
  while IFS=$'\t' read -r file to; do
    to=$(printf %s "$to" | base64 -d)
    local_f=$rb/$(printf %s "$file" | tr / _)
    if ! grep -Fxq -- "$to" "$local_f" 2>/dev/null; then
      diag "$file: claimed line not found: $to"; bad=1
    fi
  done < <(jq -r '.fixes[].changes[] | select(.action == "edit" and .lines) | .file as $f | .lines[] | [$f, (.to | @base64)] | @tsv' "$report")
  [ $bad = 0 ] && [ $n -gt 0 ]
}
