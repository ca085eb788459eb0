#!/bin/bash
# Build a bootable Debian 12 guest set up as VMware leaves it.
#
#   make-debian.sh VARIANT OUTPUT
#
# VARIANT is one of
#   vmware   initramfs-tools, root on /dev/sda1 (one ext4 partition)
#   dracut   the same with dracut instead of initramfs-tools
#   lvm      initramfs-tools, /boot on /dev/sda1, root on LVM (vg0/root)
#   multi    three disks: /boot on /dev/sda1 (with the boot loader), root
#            on LVM (vg0/root) spanning /dev/sdb1 and /dev/sdc1, /var on
#            /dev/sdc2; OUTPUT is a directory holding disk1.img,
#            disk2.img and disk3.img
#   uefi     GPT: the ESP on /dev/sda1 (vfat, /boot/efi), root on
#            /dev/sda2; GRUB for x86_64-efi in \EFI\debian\grubx64.efi
#            only, with no \EFI\BOOT\BOOTX64.EFI, as a guest booted by a
#            VMware NVRAM entry has it
#
# What makes it "VMware-like": /etc/fstab and the kernel command line name
# /dev/sda*, the initramfs holds only the VMware/SATA storage drivers
# (initramfs-tools MODULES=list, dracut drivers=), the NIC is configured
# as ens192 in /etc/network/interfaces and open-vm-tools is installed.
# A oneshot unit writes a marker line to the serial console and powers
# off:  BOOT-OK root=DEV links=... up=NIC:STATE inet=NIC:ADDR vmtools=...
# mounts=/:DEV,/boot:DEV,... (every ext4 and vfat file system mounted).
#
# The recipe is the one in docs/guests.md: debootstrap, then a raw image
# built with sfdisk and mkfs.ext4 -d (no loop device, no mount), and the
# GRUB boot sector installed by hand (grub-mkimage + dd), because
# grub-install inside the libguestfs appliance does not give a bootable
# disk.  The LVM variant creates its volume group with one guestfish
# launch, then writes the file system straight into the logical volume's
# extents with mkfs.ext4 -E offset; the multi variant builds the root
# file system in a file and copies each segment of the logical volume to
# the disk and offset where LVM put it.  The uefi variant's ESP is made
# with mkfs.fat and mtools in a file, then copied into the disk.  The image is written as OUTPUT.part
# and renamed to OUTPUT when it is complete.  Needs root (debootstrap).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ $# -eq 2 ] || { echo "usage: ${0##*/} vmware|dracut|lvm|multi|uefi OUTPUT" >&2; exit 2; }
variant=$1 out=$2
case $variant in vmware|dracut|lvm|multi|uefi) ;; *) guest_die "$variant: unknown variant" ;; esac
# Exit status 77 (the test suite's "skip") when this machine cannot build
# the guest at all: not root, or no reachable Debian mirror.
[ "$(id -u)" = 0 ] || { guest_msg "debootstrap needs root"; exit 77; }
mirror=$(debian_mirror) || { guest_msg "no Debian mirror in /etc/apt/sources.list*; set H2K_DEBIAN_MIRROR"; exit 77; }
if command -v curl >/dev/null && ! curl -sfI -m 20 "$mirror/dists/bookworm/Release" >/dev/null; then
    guest_msg "$mirror: not reachable"; exit 77
fi

mkdir -p "$H2K_GUEST_CACHE/debs" "$(dirname "$out")"
work=$(mktemp -d "$H2K_GUEST_CACHE/build-$variant.XXXXXX")
trap 'rm -rf "$work" "$out.part"' EXIT
root=$work/root
img=$out.part

step() { guest_msg "$variant: $*"; }

# 1. The root file system.
pkgs=linux-image-amd64,grub-pc,initramfs-tools,systemd-sysv,udev,ifupdown,isc-dhcp-client,iproute2,open-vm-tools,kmod
case $variant in
    lvm|multi) pkgs+=,lvm2 ;;
    uefi) pkgs=${pkgs/grub-pc/grub-efi-amd64} ;;
esac
step "debootstrap from $mirror"
if ! debootstrap --variant=minbase --cache-dir="$H2K_GUEST_CACHE/debs" \
        --include="$pkgs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    guest_die "debootstrap failed"
fi
kver=$(ls "$root/lib/modules")
[ "$(echo "$kver" | wc -w)" = 1 ] || guest_die "expected one kernel, found: $kver"

if [ "$variant" = dracut ]; then
    # debootstrap's resolver would pick initramfs-tools for the kernel's
    # dependency, so dracut replaces it afterwards, as an admin would.
    step "installing dracut"
    mount -t proc proc "$root/proc"
    if ! DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y \
            --no-install-recommends dracut >"$work/dracut.log" 2>&1; then
        umount "$root/proc"; tail -n 20 "$work/dracut.log" >&2
        guest_die "installing dracut failed"
    fi
    umount "$root/proc"
    chroot "$root" apt-get clean
fi

# 2. Make it look as VMware leaves it.
step "configuring"
echo vmware-guest > "$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vmware-guest\n' > "$root/etc/hosts"
echo root:h2k | chroot "$root" chpasswd

if [ "$variant" = lvm ]; then
    cat > "$root/etc/fstab" <<'FSTAB'
# <file system>       <mount point> <type> <options>          <dump> <pass>
/dev/mapper/vg0-root  /             ext4   errors=remount-ro  0      1
/dev/sda1             /boot         ext4   defaults           0      2
FSTAB
    rootdev=/dev/mapper/vg0-root
elif [ "$variant" = multi ]; then
    cat > "$root/etc/fstab" <<'FSTAB'
# <file system>       <mount point> <type> <options>          <dump> <pass>
/dev/mapper/vg0-root  /             ext4   errors=remount-ro  0      1
/dev/sda1             /boot         ext4   defaults           0      2
/dev/sdc2             /var          ext4   defaults           0      2
FSTAB
    rootdev=/dev/mapper/vg0-root
elif [ "$variant" = uefi ]; then
    cat > "$root/etc/fstab" <<'FSTAB'
# <file system> <mount point> <type> <options>          <dump> <pass>
/dev/sda2       /             ext4   errors=remount-ro  0      1
/dev/sda1       /boot/efi     vfat   umask=0077         0      1
FSTAB
    mkdir -p "$root/boot/efi"
    rootdev=/dev/sda2
else
    cat > "$root/etc/fstab" <<'FSTAB'
# <file system> <mount point> <type> <options>          <dump> <pass>
/dev/sda1       /             ext4   errors=remount-ro  0      1
FSTAB
    rootdev=/dev/sda1
fi

cat > "$root/etc/network/interfaces" <<'NET'
# This file describes the network interfaces available on your system
# and how to activate them. For more information, see interfaces(5).

source /etc/network/interfaces.d/*

# The loopback network interface
auto lo
iface lo inet loopback

# The primary network interface
allow-hotplug ens192
iface ens192 inet dhcp
NET

cat > "$root/usr/local/sbin/h2k-boot-marker" <<'MARKER'
#!/bin/sh
# Test marker written by h2k's tests/guests/make-debian.sh: reports how the
# guest came up on the serial console, then powers the machine off.
n=0
while [ $n -lt 20 ] && ! ip -4 -o addr show scope global | grep -q inet; do
    sleep 1; n=$((n + 1))
done
root=$(findmnt -no SOURCE /)
links=$(ls /sys/class/net | tr '\n' ',')
up=
for d in /sys/class/net/*; do
    [ "${d##*/}" = lo ] || up="$up${d##*/}:$(cat "$d/operstate"),"
done
inet=$(ip -4 -o addr show scope global | awk '{ printf "%s:%s,", $2, $4 }')
vmtools=stopped
for c in /proc/[0-9]*/comm; do
    [ "$(cat "$c" 2>/dev/null)" = vmtoolsd ] && vmtools=running
done
mounts=$(findmnt -rn -t ext4,vfat -o TARGET,SOURCE | awk '{ printf "%s:%s,", $1, $2 }')
echo "BOOT-OK root=$root links=${links%,} up=${up%,} inet=${inet%,} vmtools=$vmtools mounts=${mounts%,}" > /dev/ttyS0
systemctl --no-block poweroff
MARKER
chmod 755 "$root/usr/local/sbin/h2k-boot-marker"
cat > "$root/etc/systemd/system/h2k-boot-marker.service" <<'UNIT'
[Unit]
Description=h2k test marker: report root device and network, then power off
Wants=network-online.target
After=network-online.target local-fs.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/h2k-boot-marker

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/h2k-boot-marker.service \
    "$root/etc/systemd/system/multi-user.target.wants/h2k-boot-marker.service"

# The kernel command line names the device, as update-grub does with
# GRUB_DISABLE_LINUX_UUID=true (and as older installers left it).
cat > "$root/etc/default/grub" <<'GRUB'
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_DISABLE_LINUX_UUID=true
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB
# The storage drivers a VMware guest needs, and nothing of virtio.
vmware_drivers="vmw_pvscsi mptspi mptsas sd_mod ext4 ahci"
case $variant in lvm|multi) vmware_drivers+=" dm_mod" ;; esac

# 3. The initramfs, holding only those drivers.
step "initramfs"
if [ "$variant" = dracut ]; then
    cat > "$root/etc/dracut.conf.d/10-vmware.conf" <<DRACUT
# Only the storage drivers of the VMware virtual hardware.
hostonly="no"
drivers+=" $vmware_drivers "
omit_dracutmodules+=" qemu qemu-net virtfs virtiofs "
DRACUT
    chroot "$root" dracut -q -f "/boot/initrd.img-$kver" "$kver" >"$work/initrd.log" 2>&1 ||
        { tail -n 20 "$work/initrd.log" >&2; guest_die "dracut failed"; }
    list() { chroot "$root" lsinitrd "/boot/initrd.img-$kver"; }
else
    sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
    printf '%s\n' $vmware_drivers >> "$root/etc/initramfs-tools/modules"
    chroot "$root" update-initramfs -u -k all >"$work/initrd.log" 2>&1 ||
        { tail -n 20 "$work/initrd.log" >&2; guest_die "update-initramfs failed"; }
    list() { chroot "$root" lsinitramfs "/boot/initrd.img-$kver"; }
fi
# The point of the guest: its initramfs cannot find a virtio disk.
list > "$work/initrd.list"
grep -q '/vmw_pvscsi\.ko' "$work/initrd.list" || guest_die "initramfs lacks vmw_pvscsi"
! grep -q '/virtio_blk\.ko' "$work/initrd.list" || guest_die "initramfs holds virtio_blk"

# 4. GRUB files and the boot image.
# /boot is its own file system in the lvm and multi variants.
case $variant in lvm|multi) prefix=/grub kpath= ;; *) prefix=/boot/grub kpath=/boot ;; esac
if [ "$variant" = uefi ]; then
    platform=x86_64-efi partmod=part_gpt gpart=gpt2
else
    platform=i386-pc partmod=part_msdos gpart=msdos1
fi
bootdir=$root/boot/grub
mkdir -p "$bootdir/$platform"
cp "$root/usr/lib/grub/$platform"/*.mod "$root/usr/lib/grub/$platform"/*.lst "$bootdir/$platform/"
cat > "$bootdir/grub.cfg" <<CFG
# Written by h2k tests/guests/make-debian.sh, as update-grub writes it
# with GRUB_DISABLE_LINUX_UUID=true.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
menuentry 'Debian GNU/Linux' {
	insmod $partmod
	insmod ext2
	set root=(hd0,$gpart)
	linux $kpath/vmlinuz-$kver root=$rootdev ro console=ttyS0
	initrd $kpath/initrd.img-$kver
}
CFG
if [ "$variant" = uefi ]; then
    # What grub-install --target=x86_64-efi leaves in the ESP: the core
    # image, which finds its modules and grub.cfg in /boot/grub.
    chroot "$root" grub-mkimage -d /usr/lib/grub/x86_64-efi -O x86_64-efi \
        -o /grubx64.efi -p "(hd0,gpt2)$prefix" part_gpt ext2 fat
    mv "$root/grubx64.efi" "$work/grubx64.efi"
else
    chroot "$root" grub-mkimage -d /usr/lib/grub/i386-pc -O i386-pc -o /core.img \
        -p "(hd0,msdos1)$prefix" biosdisk part_msdos ext2
    mv "$root/core.img" "$work/core.img"
fi
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*_Packages

# The multi variant's logical volume vg0/root, spanning disk2.img and
# disk3.img: LVM (in the appliance) allocates it, the file system is
# built in a file of the volume's size, and each segment of the volume
# is copied to the physical volume and offset LVM chose for it.
multi_root()
{
    local d1=$1 d2=$2 d3=$3 info
    # One appliance for creating the volume and asking where LVM put it:
    # the device names it reports are those of the same session (and one
    # launch fewer).
    info=$work/lvm.info
    guestfish --format=raw -a "$d1" -a "$d2" -a "$d3" > "$info" <<'GF'
run
pvcreate /dev/sdb1
pvcreate /dev/sdc1
vgcreate vg0 "/dev/sdb1 /dev/sdc1"
lvcreate-free root vg0 100
debug sh "lvm vgs --noheadings --nosuffix --units b -o vg_extent_size vg0 | sed 's/^[[:space:]]*/E=/'; lvm pvs --noheadings --nosuffix --units b -o pv_name,pe_start | sed 's/^[[:space:]]*/P=/'; lvm lvs --noheadings --nosuffix --units b --segments -o seg_start,seg_size,seg_pe_ranges vg0/root | sed 's/^[[:space:]]*/S=/'"
GF
    local extent lv_size=0 segs=0 pv first file off start size range
    extent=$(sed -n 's/^E=//p' "$info")
    [ -n "$extent" ] || guest_die "no extent size in: $(cat "$info")"
    while read -r _ start size range; do
        lv_size=$((lv_size + size)); segs=$((segs + 1))
    done < <(sed -n 's/^S=/S /p' "$info")
    [ $segs -ge 2 ] || guest_die "vg0/root does not span two disks: $(cat "$info")"
    truncate -s "$lv_size" "$work/root.fs"
    mkfs.ext4 -q -F -L root -d "$root" "$work/root.fs"
    while read -r _ start size range; do
        pv=${range%%:*} first=${range#*:}; first=${first%-*}
        case $pv in
            /dev/sdb1) file=$d2 ;;
            /dev/sdc1) file=$d3 ;;
            *) guest_die "unexpected physical volume in $range" ;;
        esac
        off=$(( 1048576 + $(awk -v pv="P=$pv" '$1 == pv { print $2 }' "$info") + first * extent ))
        dd if="$work/root.fs" of="$file" bs=1M iflag=skip_bytes,count_bytes \
            oflag=seek_bytes skip="$start" count="$size" seek="$off" \
            conv=notrunc,sparse status=none
    done < <(sed -n 's/^S=/S /p' "$info")
    rm -f "$work/root.fs"
}

# 5. The disk.
step "disk image"
rm -rf "$img"
case $variant in
lvm)
    truncate -s 3G "$img"
    printf 'start=2048, size=524288, type=83, bootable\nstart=526336, type=8e\n' |
        sfdisk -q "$img"
    mv "$root/boot" "$work/boot"; mkdir "$root/boot"
    mkfs.ext4 -q -F -L boot -E offset=1048576 -d "$work/boot" "$img" 262144k
    # The volume group is made by the appliance's LVM; the first logical
    # volume on a new physical volume is one linear run of extents, so
    # its bytes can then be written from here at a known offset.  Its
    # layout is read in the same appliance session, where the devices
    # certainly exist: a second launch raced udev on a loaded machine
    # ("/dev/sda2: device not found").
    layout=$(guestfish --format=raw -a "$img" <<'GF'
run
pvcreate /dev/sda2
vgcreate vg0 /dev/sda2
lvcreate-free root vg0 100
debug sh "echo $(lvm pvs --noheadings --nosuffix --units b -o pe_start /dev/sda2) $(lvm lvs --noheadings --nosuffix --units b -o lv_size,seg_pe_ranges vg0/root)"
GF
)
    read -r pe_start lv_size ranges <<< "$layout"
    [[ $ranges == /dev/sda2:0-* ]] || guest_die "unexpected LV layout: $layout"
    lv_off=$(( 526336 * 512 + pe_start ))
    mkfs.ext4 -q -F -L root -E offset=$lv_off -d "$root" "$img" "$(( lv_size / 1024 ))k"
    bootdisk=$img ;;
multi)
    # disk1: /boot (and GRUB); disk2: a physical volume; disk3: a second
    # physical volume, then /var.  LVM allocates the larger physical
    # volume first (disk2's); it is smaller than root's contents, so
    # root's data really lies on both disks.
    mkdir "$img"
    d1=$img/disk1.img d2=$img/disk2.img d3=$img/disk3.img
    truncate -s 512M "$d1"; truncate -s 512M "$d2"; truncate -s 1G "$d3"
    echo 'start=2048, type=83, bootable' | sfdisk -q "$d1"
    echo 'start=2048, type=8e' | sfdisk -q "$d2"
    printf 'start=2048, size=786432, type=8e\nstart=788480, type=83\n' | sfdisk -q "$d3"
    mv "$root/boot" "$work/boot"; mkdir "$root/boot"
    mv "$root/var" "$work/var"; mkdir "$root/var"
    mkfs.ext4 -q -F -L boot -E offset=1048576 -d "$work/boot" "$d1" 523264k
    mkfs.ext4 -q -F -L var -E offset=$((788480 * 512)) -d "$work/var" "$d3" 654336k
    multi_root "$d1" "$d2" "$d3"
    bootdisk=$d1 ;;
uefi)
    # GPT: a 100 MiB ESP, then root up to 1 MiB before the end (the
    # backup GPT lives there).
    truncate -s 3G "$img"
    printf '%s\n' 'label: gpt' \
        'start=2048, size=204800, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B' \
        'start=206848, size=6082560, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4' |
        sfdisk -q "$img"
    mkfs.ext4 -q -F -L root -E offset=$((206848 * 512)) -d "$root" "$img" 3041280k
    mkfs.fat -F 32 -n ESP -C "$work/esp.img" 102400 >/dev/null
    export MTOOLS_SKIP_CHECK=1
    mmd -i "$work/esp.img" ::/EFI ::/EFI/debian
    mcopy -i "$work/esp.img" "$work/grubx64.efi" ::/EFI/debian/grubx64.efi
    dd if="$work/esp.img" of="$img" bs=1M seek=1 conv=notrunc status=none
    bootdisk= ;;
*)
    truncate -s 3G "$img"
    echo 'start=2048, type=83, bootable' | sfdisk -q "$img"
    mkfs.ext4 -q -F -L root -E offset=1048576 -d "$root" "$img" 3144704k
    bootdisk=$img ;;
esac
if [ -n "$bootdisk" ]; then
    # The first 440 bytes of boot.img (the partition table stays), then
    # core.img from sector 1, where boot.img looks for it.
    dd if="$root/usr/lib/grub/i386-pc/boot.img" of="$bootdisk" bs=440 count=1 conv=notrunc status=none
    dd if="$work/core.img" of="$bootdisk" bs=512 seek=1 conv=notrunc status=none
fi
mv "$img" "$out"
step "done: $out"
