#!/bin/sh
# /init of the PV domU: loads the stock 9p modules, mounts the share with
# trans=xen, runs the guest suite and the data-integrity check, unmounts and
# powers off. Everything it reports goes to hvc0 as `E2E-DOMU-*` markers and the
# suite's `XEN9P-CHECK` / `XEN9P-SUMMARY` lines; dom0 reads them from
# xenconsoled's log of this guest.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /mnt
mount -t tmpfs tmpfs /tmp

arg() { sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p" /proc/cmdline; }
tag=$(arg e2e_tag)
msize=$(arg e2e_msize)
name=$(arg e2e_name)
[ -n "$msize" ] || msize=512000

say() { echo "E2E-DOMU-$1 name=$name ${2:-}"; }
finish() {
    say DONE "$1"
    sync
    poweroff -f
}

say BOOTED "tag=$tag msize=$msize"
# 9pnet_xen's init waits (up to 300 s) for xenbus devices that have no
# backend yet: load it in the background and bound the wait.
insmod_pid=""
for m in $(cat /etc/modules.order); do
    if [ "$m" = 9pnet_xen.ko ]; then
        insmod "/lib/modules/$m" &
        insmod_pid=$!
    else
        insmod "/lib/modules/$m" || finish "error=insmod-$m"
    fi
done
[ -n "$insmod_pid" ] || finish "error=no-9pnet_xen-module"
say DRIVER-LOADING
waited=0
while kill -0 "$insmod_pid" 2>/dev/null; do
    [ "$waited" -ge 400 ] && finish "error=insmod-9pnet_xen-timeout"
    sleep 1
    waited=$((waited + 1))
done
wait "$insmod_pid" || finish "error=insmod-9pnet_xen"
say DRIVER-LOADED "waited=${waited}s"

# The tag exists only once the backend reached InitWait: retry, bounded.
tries=0
until mount -t 9p -o "trans=xen,version=9p2000.L,msize=$msize" "$tag" /mnt; do
    tries=$((tries + 1))
    [ "$tries" -ge 120 ] && finish "error=mount"
    sleep 1
done
say MOUNTED "tries=$tries"

# The last e2e_suite= on the command line wins: posix, smoke or none.
suite=$(arg e2e_suite)
case "$suite" in
    posix) posix.sh /mnt ;;
    smoke) /e2e/guest-smoke.sh /mnt ;;
    none) ;;
    *) echo "XEN9P-CHECK suite-$suite FAIL unknown suite" ;;
esac
# dom0 names each share after its guest: a guest must see its own share only.
if [ "$(cat /mnt/e2e-owner 2>/dev/null)" = "$name" ]; then
    echo "XEN9P-CHECK share-is-own PASS"
else
    echo "XEN9P-CHECK share-is-own FAIL owner=$(cat /mnt/e2e-owner 2>&1)"
fi
say SUITE-DONE

# dom0 checks the worker (and may destroy other guests) while this share is
# mounted, then releases the guest.
tries=0
while [ ! -e "/mnt/e2e-release-$name" ] && [ "$tries" -lt 900 ]; do
    sleep 1
    tries=$((tries + 1))
done
[ -e "/mnt/e2e-release-$name" ] || finish "error=never-released"
if [ "$(arg e2e_hold)" = 1 ]; then
    # Kept mounted until dom0 destroys this domain.
    say HOLDING
    while :; do sleep 60; done
fi

/e2e/integrity.sh /mnt "$name"

if umount /mnt; then
    say UNMOUNTED
else
    echo "XEN9P-CHECK umount FAIL"
fi
finish ok
