#!/bin/sh
# The Xen 4.20 (Debian 13) side of the end-to-end run: everything comes from a
# trixie root made by tests/debian13/make-root.sh; nothing trixie touches the
# host.
#
#   xen420-image.sh prepare ROOT DEB CACHE
#       installs xen9pd's package DEB into ROOT with dpkg -i (its postinst
#       diverts /usr/lib/xen-4.20/bin/xen-9pfsd to xen-9pfsd.distrib and puts
#       xen9pd in its place), then unpacks, without installing, trixie's
#       hypervisor and the kernel linux-image-amd64 points at into CACHE
#       (xen, vmlinuz, kernel-root/lib/modules/<version>/; fetched once).
#   xen420-image.sh dom0 ROOT CACHE DIR [hvm]
#       fills DIR with dom0's files taken from ROOT: busybox, the Xen modules,
#       Xen 4.20's tools and xen9pd as the package installed them, with every
#       shared library the root's own ldd names; with hvm also QEMU 10 and the
#       HVM firmware.
set -eu

# in_root CMD...: a command inside the root.
in_root() { chroot "$root" "$@"; }

prepare() {
    root=$1
    deb=$2
    cache=$3
    [ -f "$root/.xen9p-root-complete" ] || { echo "xen420: no finished trixie root at $root" >&2; exit 1; }
    [ -f "$deb" ] || { echo "xen420: no package at '$deb'" >&2; exit 1; }
    cp "$deb" "$root/tmp/xen9pd-e2e.deb"
    in_root dpkg -i /tmp/xen9pd-e2e.deb
    rm -f "$root/tmp/xen9pd-e2e.deb"
    in_root dpkg-divert --list /usr/lib/xen-4.20/bin/xen-9pfsd | grep -q 'xen-9pfsd.distrib' ||
        { echo "xen420: the package did not divert xen-9pfsd" >&2; exit 1; }

    mkdir -p "$cache"
    kernel_pkg=$(in_root apt-cache depends linux-image-amd64 |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
    [ -n "$kernel_pkg" ] || { echo "xen420: cannot resolve trixie's linux-image-amd64" >&2; exit 1; }
    hv_pkg=xen-hypervisor-4.20-amd64
    stamp="$cache/fetched-$kernel_pkg-$hv_pkg"
    if [ -f "$stamp" ] && [ -f "$cache/xen" ] && [ -f "$cache/vmlinuz" ] && [ -d "$cache/kernel-root" ]; then
        return
    fi
    rm -rf "$root/tmp/e2e-debs" "$cache/unpacked" "$cache/kernel-root"
    mkdir -p "$root/tmp/e2e-debs" "$cache/unpacked"
    # apt-get download writes into the working directory as _apt.
    chmod 777 "$root/tmp/e2e-debs"
    in_root sh -c "cd /tmp/e2e-debs && apt-get download -q $kernel_pkg $hv_pkg"
    for d in "$root"/tmp/e2e-debs/*.deb; do dpkg-deb -x "$d" "$cache/unpacked"; done
    rm -rf "$root/tmp/e2e-debs"
    zcat "$(ls "$cache"/unpacked/boot/xen-4.20*-amd64.gz | head -n 1)" > "$cache/xen"
    cp "$(ls "$cache"/unpacked/boot/vmlinuz-* | head -n 1)" "$cache/vmlinuz"
    kver=$(basename "$(ls -d "$cache"/unpacked/lib/modules/* "$cache"/unpacked/usr/lib/modules/* 2>/dev/null | head -n 1)")
    mkdir -p "$cache/kernel-root/lib/modules"
    mv "$(ls -d "$cache"/unpacked/lib/modules/"$kver" "$cache"/unpacked/usr/lib/modules/"$kver" 2>/dev/null | head -n 1)" \
        "$cache/kernel-root/lib/modules/$kver"
    rm -rf "$cache/unpacked"
    rm -f "$cache"/fetched-*
    touch "$stamp"
    echo "xen420: unpacked $hv_pkg and $kernel_pkg ($kver) into $cache"
}

# copy_root_bin PATH: a file of the root (symlinks resolved inside the root)
# and every library the root's ldd names for it, at the same paths.
copy_root_bin() {
    real=$(in_root readlink -f "$1")
    install -D -m 755 "$root$real" "$dir$1"
    in_root ldd "$real" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
        while read -r lib; do
            [ -e "$dir$lib" ] || install -D -m 755 "$root$(in_root readlink -f "$lib")" "$dir$lib"
        done
}

copy_root_file() { install -D -m 644 "$root$(in_root readlink -f "$1")" "$dir$1"; }

# Dependencies first, from each module's own depends= field; .ko.xz
# decompressed for busybox insmod; built-in ones skipped. /modules/order
# lists the load order.
add_module() {
    alt=$(echo "$1" | tr '_-' '-_')
    path=$(find "$moddir/kernel" \( -name "$1.ko*" -o -name "$alt.ko*" \) | head -n 1)
    if [ -z "$path" ]; then
        grep -qE "/($1|$alt)\.ko\$" "$moddir/modules.builtin" 2>/dev/null && return
        echo "xen420: module $1 not found under $moddir" >&2
        exit 1
    fi
    name=$(basename "${path%.xz}")
    grep -qx "$name" "$dir/modules/order" 2>/dev/null && return
    case "$path" in
        *.xz) xz -dc "$path" > "$dir/modules/$name" ;;
        *) cp "$path" "$dir/modules/$name" ;;
    esac
    for dep in $(strings -a "$dir/modules/$name" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '); do
        add_module "$dep"
    done
    # The recursion reused the variables (sh has no locals).
    alt=$(echo "$1" | tr '_-' '-_')
    name=$(basename "$(find "$moddir/kernel" \( -name "$1.ko*" -o -name "$alt.ko*" \) | head -n 1)")
    name=${name%.xz}
    grep -qx "$name" "$dir/modules/order" || echo "$name" >> "$dir/modules/order"
}

dom0() {
    root=$1
    cache=$2
    dir=$3
    hvm=${4:-}
    mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" "$dir/etc/xen" "$dir/proc" \
        "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/mnt" "$dir/modules" "$dir/e2e" "$dir/lib64"
    cp "$root/usr/bin/busybox" "$dir/bin/busybox"
    for applet in $("$dir/bin/busybox" --list); do
        [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
    done
    moddir=$(ls -d "$cache"/kernel-root/lib/modules/* | head -n 1)
    : > "$dir/modules/order"
    # ext4 asks the crypto API for crc32c at mount time: load it first.
    for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc crc32c_generic ext4 loop; do
        add_module "$m"
    done

    xbin=/usr/lib/xen-4.20/bin
    for tool in xl xenstored xenconsoled xen-init-dom0 xenconsole libxl-save-helper xen-9pfsd.distrib; do
        copy_root_bin "$xbin/$tool"
    done
    copy_root_bin /usr/sbin/xen9pd
    # The diversion's replacement as the package left it: libxl spawns this path.
    cp -P "$root$xbin/xen-9pfsd" "$dir$xbin/xen-9pfsd"
    copy_root_bin /usr/bin/xenstore
    for t in ls read write rm chmod watch list exists; do ln -sf xenstore "$dir/usr/bin/xenstore-$t"; done
    unit=$(ls "$root"/usr/lib/systemd/system/xen9pd.service "$root"/lib/systemd/system/xen9pd.service 2>/dev/null | head -n 1)
    [ -n "$unit" ] || { echo "xen420: the package installed no xen9pd.service" >&2; exit 1; }
    install -D -m 644 "$unit" "$dir/usr/lib/systemd/system/xen9pd.service"
    : > "$dir/etc/xen/xl.conf"
    [ "$hvm" = hvm ] || return 0
    # An HVM guest's device model (QEMU 10, run restricted), its firmware and
    # the option ROMs and keymap it loads for a direct kernel boot.
    copy_root_bin /usr/libexec/xen-qemu-system-i386
    copy_root_file /usr/lib/xen-4.20/boot/hvmloader
    copy_root_file /usr/share/seabios/bios-256k.bin
    for rom in linuxboot linuxboot_dma kvmvapic multiboot multiboot_dma pvh; do
        if [ -e "$root/usr/share/qemu/$rom.bin" ]; then copy_root_file "/usr/share/qemu/$rom.bin"; fi
    done
    if [ -e "$root/usr/share/qemu/keymaps/en-us" ]; then copy_root_file /usr/share/qemu/keymaps/en-us; fi
}

cmd=${1:?usage: xen420-image.sh prepare ROOT DEB CACHE | dom0 ROOT CACHE DIR}
shift
case "$cmd" in
    prepare) prepare "$@" ;;
    dom0) dom0 "$@" ;;
    *) echo "xen420-image.sh: unknown command '$cmd'" >&2; exit 2 ;;
esac
