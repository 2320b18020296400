#!/bin/sh
# The package's maintainer scripts against Debian 13's real Xen 4.20, in the
# trixie root WORKDIR/root (make-root.sh) with xen-utils-4.20 installed:
# install diverts /usr/lib/xen-4.20/bin/xen-9pfsd and links xen9pd there;
# a Xen (re)installed later is diverted by the dpkg trigger; remove and
# purge give Xen its own xen-9pfsd back. The root ends with xen9pd purged.
#   maintainer-scripts-test.sh WORKDIR DEB
# Mounts live in a private mount namespace and are unmounted on exit.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: maintainer-scripts-test.sh WORKDIR DEB" >&2
    exit 2
fi
workdir=$(realpath "$1")
deb=$(realpath "$2")
root=$workdir/root
if [ -z "${XEN9P_SCRIPTS_TEST_NS:-}" ]; then
    XEN9P_SCRIPTS_TEST_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi
trap 'umount "$root/proc" 2>/dev/null; umount -R "$root/dev" 2>/dev/null; true' EXIT
trap 'exit 130' INT TERM HUP
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"

in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}
stock=/usr/lib/xen-4.20/bin/xen-9pfsd
xen_deb=$(ls "$workdir"/debs/xen-utils-4.20_*.deb 2>/dev/null | head -n 1)
[ -n "$xen_deb" ] || { echo "FAIL: no xen-utils-4.20 .deb in $workdir/debs"; exit 1; }
stock_md5=$(grep " ${stock#/}\$" "$root/var/lib/dpkg/info/xen-utils-4.20.md5sums" | cut -d' ' -f1)
status=0

check() {
    if eval "$2"; then
        echo "ok: $1"
    else
        echo "FAIL: $1"
        status=1
    fi
}
diverted() { in_root dpkg-divert --list "$stock" | grep -q "to $stock.distrib by xen9pd"; }
linked() { [ "$(readlink "$root$stock")" = /usr/sbin/xen9pd ]; }
stock_back() {
    [ ! -L "$root$stock" ] && [ ! -e "$root$stock.distrib" ] &&
        [ "$(md5sum <"$root$stock" | cut -d' ' -f1)" = "$stock_md5" ]
}

# A root an earlier run left with xen9pd installed starts clean.
in_root dpkg --purge xen9pd >/dev/null 2>&1 || true
check "before: Xen's own xen-9pfsd, no diversion" 'stock_back && ! diverted'

cp "$deb" "$root/tmp/xen9pd.deb"
in_root dpkg -i /tmp/xen9pd.deb
check "install: xen-9pfsd diverted to xen-9pfsd.distrib by xen9pd" diverted
check "install: xen-9pfsd is a link to /usr/sbin/xen9pd" linked
check "install: the stock binary kept as xen-9pfsd.distrib" \
    '[ "$(md5sum <"$root$stock.distrib" | cut -d" " -f1)" = "$stock_md5" ]'
in_root dpkg-divert --list '*xen-9pfsd'

# Xen (re)installed after xen9pd: undo the diversion by hand, reinstall
# xen-utils-4.20; only the file trigger can divert it again.
rm "$root$stock"
in_root dpkg-divert --package xen9pd --rename --remove "$stock"
check "undone by hand: no diversion" '! diverted'
cp "$xen_deb" "$root/tmp/xen-utils.deb"
in_root dpkg -i /tmp/xen-utils.deb >/dev/null
check "Xen installed after xen9pd: the trigger diverted it" 'diverted && linked'

in_root dpkg -i /tmp/xen9pd.deb >/dev/null
check "reinstall (upgrade path): still diverted, one diversion" \
    'diverted && linked && [ "$(in_root dpkg-divert --list "$stock" | wc -l)" -eq 1 ]'

in_root dpkg -r xen9pd
check "remove: no diversion, Xen's own xen-9pfsd back" '! diverted && stock_back'
in_root dpkg -i /tmp/xen9pd.deb >/dev/null
check "install again: diverted" 'diverted && linked'
in_root dpkg --purge xen9pd
check "purge: no diversion, Xen's own xen-9pfsd back" '! diverted && stock_back'
in_root dpkg-divert --list '*xen-9pfsd'
rm -f "$root/tmp/xen9pd.deb" "$root/tmp/xen-utils.deb"
exit "$status"
