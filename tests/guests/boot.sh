#!/bin/bash
# Boot a test guest under qemu (TCG) and report what its console showed.
#
#   boot.sh [--bus virtio|sata|ide|pvscsi] [--nic virtio|vmxnet3|e1000]
#           [--format raw|qcow2] [--timeout SECONDS] IMAGE LOG
#
# The machine is q35 with the disk on the chosen controller (snapshot=on:
# the image is never written) and one NIC on a restricted user network.
# qemu's serial console goes to LOG.  The script stops qemu as soon as the
# console shows the guest's marker line (BOOT-OK ...), a dead end (the
# initramfs or systemd emergency shell), or the timeout passes, so a guest
# that cannot boot costs seconds, not the whole timeout.
#
# Exit status: 0 and the marker line on stdout when the guest booted,
# 1 when it did not (the last console lines go to stderr), 2 usage.
set -euo pipefail

bus=virtio nic=virtio format=raw timeout=300
while [ $# -gt 0 ]; do
    case $1 in
        --bus) bus=$2; shift 2 ;;
        --nic) nic=$2; shift 2 ;;
        --format) format=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --) shift; break ;;
        -*) echo "${0##*/}: $1: unknown option" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: ${0##*/} [options] IMAGE LOG" >&2; exit 2; }
image=$1 log=$2

drive="file=$image,format=$format,snapshot=on"
case $bus in
    virtio) disk=(-drive "$drive,if=virtio") ;;
    sata)   disk=(-drive "$drive,if=none,id=d0" -device ide-hd,drive=d0,bus=ide.0) ;;
    pvscsi) disk=(-drive "$drive,if=none,id=d0" -device pvscsi,id=s0 -device scsi-hd,drive=d0,bus=s0.0) ;;
    ide)    disk=(-drive "$drive,if=none,id=d0" -device piix3-ide,id=ide1 -device ide-hd,drive=d0,bus=ide1.0) ;;
    *) echo "${0##*/}: $bus: unknown bus" >&2; exit 2 ;;
esac
case $nic in
    virtio) nicdev=virtio-net-pci ;;
    vmxnet3) nicdev=vmxnet3 ;;
    e1000) nicdev=e1000 ;;
    *) echo "${0##*/}: $nic: unknown nic" >&2; exit 2 ;;
esac

: > "$log"
qemu-system-x86_64 -machine q35,accel=tcg -m 1024 -nographic -nodefaults \
    -serial "file:$log" -no-reboot "${disk[@]}" \
    -netdev user,id=n0,restrict=on -device "$nicdev,netdev=n0" \
    </dev/null >"$log.qemu" 2>&1 &
qemu=$!
trap 'kill $qemu 2>/dev/null || true' EXIT

end=$((SECONDS + timeout))
while kill -0 $qemu 2>/dev/null && [ $SECONDS -lt $end ]; do
    if grep -qaE 'BOOT-OK|ALERT!|Dropping to a shell|emergency mode|Give root password|Cannot open access to console|Kernel panic' "$log"; then
        # Give the guest a moment to finish the line (or power off).
        sleep 2
        break
    fi
    sleep 1
done
kill $qemu 2>/dev/null || true
wait $qemu 2>/dev/null || true
trap - EXIT

# The marker may share its line with the getty's login prompt.
if grep -qa 'BOOT-OK' "$log"; then
    grep -ao 'BOOT-OK.*' "$log" | tr -d '\r' | tail -n 1
    exit 0
fi
echo "${0##*/}: $image on $bus: no marker after $((SECONDS))s; console ends with:" >&2
tail -n 5 "$log" | tr -d '\r' >&2
exit 1
