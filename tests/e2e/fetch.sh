#!/bin/sh
# Installs the host packages the Xen end-to-end harness needs and unpacks
# (never installs: their hooks would touch /boot) the Xen hypervisor and the
# Debian kernel into CACHE.
#   fetch.sh CACHE
# On success CACHE holds: xen (decompressed multiboot image), vmlinuz and
# kernel-root/ (the unpacked kernel package: lib/modules/<version>/).
set -eu

cache=${1:?usage: fetch.sh CACHE}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)

host_packages="qemu-system-x86 xen-utils-4.17 busybox-static cpio qemu-system-xen attr"
missing=""
for p in $host_packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "e2e: installing$missing"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# The exact kernel package the metapackage currently points at.
kernel_pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$kernel_pkg" ] || { echo "e2e: cannot resolve linux-image-amd64" >&2; exit 1; }
hv_pkg=xen-hypervisor-4.17-amd64

stamp="$cache/fetched-$kernel_pkg-$hv_pkg"
if [ -f "$stamp" ] && [ -f "$cache/xen" ] && [ -f "$cache/vmlinuz" ] && [ -d "$cache/kernel-root" ]; then
    exit 0
fi

debs="$cache/debs"
rm -rf "$debs" "$cache/root" "$cache/kernel-root"
mkdir -p "$debs" "$cache/root"
# apt-get download writes into the working directory; _apt needs to write there.
(cd "$debs" && chmod 777 . && apt-get download -q "$kernel_pkg" "$hv_pkg")
for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$cache/root"
done

xen_gz=$(ls "$cache"/root/boot/xen-4.17*-amd64.gz 2>/dev/null | head -n 1)
[ -n "$xen_gz" ] || xen_gz=$(ls "$cache"/root/boot/xen-*.gz | head -n 1)
zcat "$xen_gz" > "$cache/xen"
cp "$(ls "$cache"/root/boot/vmlinuz-* | head -n 1)" "$cache/vmlinuz"
kver=$(basename "$(ls -d "$cache"/root/lib/modules/* | head -n 1)")
mkdir -p "$cache/kernel-root/lib/modules"
mv "$cache/root/lib/modules/$kver" "$cache/kernel-root/lib/modules/$kver"
rm -rf "$cache/root" "$debs" "$cache/modules" "$cache/kernel-version"
rm -f "$cache"/fetched-*
touch "$stamp"
echo "e2e: unpacked $hv_pkg and $kernel_pkg ($kver) into $cache"
