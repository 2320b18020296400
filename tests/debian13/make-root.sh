#!/bin/sh
# Makes a Debian 13 ("trixie") root for what Debian 12's host cannot give: the
# Debian 13 build of xen9pd and the Xen 4.20 end-to-end dom0. Nothing trixie is
# installed on the host: debootstrap unpacks into WORKDIR/root, with Xen 4.20's
# dom0 user space in it; later steps chroot into it.
#
#   make-root.sh WORKDIR
#
# A root that finished before (WORKDIR/root/.xen9p-root-complete) is reused.
# The mirror is the host's own Debian mirror (its apt sources); debootstrap's
# downloads are kept in WORKDIR/debs for the next root.
set -eu

work=${1:?usage: make-root.sh WORKDIR}
root=$work/root
stamp=$root/.xen9p-root-complete

# Xen 4.20's dom0 user space (xl, xenstored, the libraries, QEMU 10 for HVM
# device models) and what the e2e dom0 image takes from the root besides.
packages="xen-utils-4.20 qemu-system-xen busybox-static kmod e2fsprogs attr procps
ca-certificates"

if [ -e "$stamp" ]; then
    echo "make-root: reusing $root"
    exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! command -v debootstrap >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap
fi

# The first Debian mirror of the host's apt sources (deb822 or one-line form).
host_mirror() {
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f"
    done
}
mirror=$(host_mirror | head -n 1)
[ -n "$mirror" ] || { echo "make-root: no Debian mirror in the host's apt sources" >&2; exit 1; }

$SUDO rm -rf "$root"
mkdir -p "$work/debs"
echo "make-root: debootstrap trixie from $mirror into $root"
$SUDO debootstrap --variant=minbase --cache-dir="$(cd "$work/debs" && pwd)" \
    --include="$(echo $packages | tr ' ' ',')" trixie "$root" "$mirror"
# The root's own apt knows the same mirror, so later steps can
# `chroot ROOT apt-get install|download` trixie packages.
echo "deb $mirror trixie main" | $SUDO tee "$root/etc/apt/sources.list" >/dev/null
$SUDO chroot "$root" apt-get update -qq
$SUDO touch "$stamp"
echo "make-root: done: $root"
