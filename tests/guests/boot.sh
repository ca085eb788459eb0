#!/bin/bash
# Boot a test guest under qemu (TCG) and report what its console showed.
#
#   boot.sh [--bus virtio|sata|ide|pvscsi] [--nic virtio|vmxnet3|e1000]
#           [--format raw|qcow2] [--firmware bios|uefi] [--timeout SECONDS]
#           IMAGE... LOG
#
# The machine is q35 with the disks on the chosen controller, in the order
# given (snapshot=on: the images are never written) and one NIC on a
# restricted user network.  The firmware is SeaBIOS, or with --firmware
# uefi Debian's OVMF (OVMF_CODE_4M.fd) with a fresh copy of its empty
# variable store, so the guest has no boot entry of its own: OVMF can
# only find a loader at the removable-media path \EFI\BOOT\BOOTX64.EFI.
# qemu's serial console goes to LOG.  The script stops qemu as soon as the
# console shows the guest's marker line (BOOT-OK ...), a dead end (the
# initramfs or systemd emergency shell, the firmware giving up on the
# disks and trying the network or its shell), or the timeout passes, so a guest
# that cannot boot costs seconds, not the whole timeout.
#
# Exit status: 0 and the marker line on stdout when the guest booted,
# 1 when it did not (the last console lines go to stderr), 2 usage.
set -euo pipefail

# The timeout is only for a guest that hangs without saying so: a boot that
# succeeds or fails prints its marker or its error, which ends the wait at
# once.  Under TCG on a loaded machine (load 15 on 2 cores seen in CI) a
# good boot took more than 300 s, so the limit is generous.
bus=virtio nic=virtio format=raw firmware=bios timeout=${H2K_BOOT_TIMEOUT:-1500}
ovmf=${H2K_OVMF_DIR:-/usr/share/OVMF}
while [ $# -gt 0 ]; do
    case $1 in
        --bus) bus=$2; shift 2 ;;
        --nic) nic=$2; shift 2 ;;
        --format) format=$2; shift 2 ;;
        --firmware) firmware=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --) shift; break ;;
        -*) echo "${0##*/}: $1: unknown option" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "usage: ${0##*/} [options] IMAGE... LOG" >&2; exit 2; }
images=("${@:1:$#-1}") log=${!#}
image=${images[0]}

disk=()
case $bus in
    pvscsi) disk=(-device pvscsi,id=s0) ;;
    ide) disk=(-device piix3-ide,id=ide1) ;;
    virtio|sata) ;;
    *) echo "${0##*/}: $bus: unknown bus" >&2; exit 2 ;;
esac
[ $bus != sata ] || [ ${#images[@]} -le 6 ] || { echo "${0##*/}: at most 6 SATA disks" >&2; exit 2; }
[ $bus != ide ] || [ ${#images[@]} -le 2 ] || { echo "${0##*/}: at most 2 IDE disks" >&2; exit 2; }
i=0
for im in "${images[@]}"; do
    drive="file=$im,format=$format,snapshot=on"
    case $bus in
        virtio) disk+=(-drive "$drive,if=virtio") ;;
        sata)   disk+=(-drive "$drive,if=none,id=d$i" -device ide-hd,drive=d$i,bus=ide.$i) ;;
        pvscsi) disk+=(-drive "$drive,if=none,id=d$i" -device scsi-hd,drive=d$i,bus=s0.0,scsi-id=$i) ;;
        ide)    disk+=(-drive "$drive,if=none,id=d$i" -device ide-hd,drive=d$i,bus=ide1.$i) ;;
    esac
    i=$((i + 1))
done
fw=()
case $firmware in
    bios) ;;
    uefi)
        for f in OVMF_CODE_4M.fd OVMF_VARS_4M.fd; do
            [ -f "$ovmf/$f" ] || { echo "${0##*/}: $ovmf/$f: not found (Debian's ovmf package)" >&2; exit 2; }
        done
        vars=$(mktemp "${TMPDIR:-/tmp}/boot-vars.XXXXXX")
        cp "$ovmf/OVMF_VARS_4M.fd" "$vars"
        fw=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$ovmf/OVMF_CODE_4M.fd"
            -drive "if=pflash,format=raw,unit=1,file=$vars") ;;
    *) echo "${0##*/}: $firmware: unknown firmware" >&2; exit 2 ;;
esac
case $nic in
    virtio) nicdev=virtio-net-pci ;;
    vmxnet3) nicdev=vmxnet3 ;;
    e1000) nicdev=e1000 ;;
    *) echo "${0##*/}: $nic: unknown nic" >&2; exit 2 ;;
esac

: > "$log"
qemu-system-x86_64 -machine q35,accel=tcg -m 1024 -nographic -nodefaults \
    -serial "file:$log" -no-reboot "${fw[@]}" "${disk[@]}" \
    -netdev user,id=n0,restrict=on -device "$nicdev,netdev=n0" \
    </dev/null >"$log.qemu" 2>&1 &
qemu=$!
trap 'kill $qemu 2>/dev/null || true; rm -f "${vars:-}"' EXIT

end=$((SECONDS + timeout))
while kill -0 $qemu 2>/dev/null && [ $SECONDS -lt $end ]; do
    if grep -qaE 'BOOT-OK|ALERT!|Dropping to a shell|emergency mode|Give root password|Cannot open access to console|Kernel panic|Start PXE|Shell> ' "$log"; then
        # Give the guest a moment to finish the line (or power off).
        sleep 2
        break
    fi
    sleep 1
done
kill $qemu 2>/dev/null || true
wait $qemu 2>/dev/null || true
trap - EXIT
rm -f "${vars:-}"

# The marker may share its line with the getty's login prompt.
if grep -qa 'BOOT-OK' "$log"; then
    grep -ao 'BOOT-OK.*' "$log" | tr -d '\r' | tail -n 1
    exit 0
fi
echo "${0##*/}: ${images[*]} on $bus: no marker after $((SECONDS))s; console ends with:" >&2
tail -n 5 "$log" | tr -d '\r' >&2
exit 1
