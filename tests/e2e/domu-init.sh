#!/bin/sh
# /init of the domU (PV or HVM): loads the stock 9p modules, mounts the share
# with trans=xen, runs the guest suite and the data-integrity check, unmounts
# and powers off. Everything it reports goes to the console (hvc0 for PV,
# ttyS0 for HVM) as `E2E-DOMU-*` markers and the suite's `XEN9P-CHECK` /
# `XEN9P-SUMMARY` lines; dom0 reads them from the console's log file.
#
# Command line (the last of a key wins): e2e_name, e2e_tag, e2e_msize,
# e2e_suite=posix|smoke|none|bench (e2e_bench_seconds, e2e_bench_files),
# e2e_driver_wait=SECONDS (how long to wait for
# 9pnet_xen's init before mounting anyway; 0 for a device whose backend may
# never connect), and what follows the suite: by default wait for dom0's
# release file, then integrity, unmount; e2e_hold=1 stays mounted until
# destroyed; e2e_detach=1 runs integrity first, then waits for dom0 to detach
# the device while it is mounted. e2e_version= is the first mount's dialect
# (default 9p2000.L); e2e_then_u=1 mounts again after the unmount with
# version=9p2000.u and runs the suite's .u list (P9_VERSION=9p2000.u).
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
    # What the kernel said of 9p (dom0 looks for errors in it).
    dmesg | grep -iE "9p|v9fs" | sed 's/^/E2E-DOMU-KMSG /'
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
driver_wait=$(arg e2e_driver_wait)
waited=0
while kill -0 "$insmod_pid" 2>/dev/null && [ "$waited" -lt "${driver_wait:-400}" ]; do
    sleep 1
    waited=$((waited + 1))
done
if ! kill -0 "$insmod_pid" 2>/dev/null; then
    wait "$insmod_pid" || finish "error=insmod-9pnet_xen"
    say DRIVER-LOADED "waited=${waited}s"
elif [ "${driver_wait:-400}" -ne 0 ]; then
    finish "error=insmod-9pnet_xen-timeout"
fi

# mount_tag TAG DIR: the tag exists only once the backend reached InitWait:
# retry, bounded. A mount that blocks is reported every 15 s with where it
# sleeps in the kernel.
version=$(arg e2e_version)
[ -n "$version" ] || version=9p2000.L
mount_tag() {
    say MOUNTING "tag=$1 version=$version"
    tries=0
    while :; do
        mount -t 9p -o "trans=xen,version=$version,msize=$msize" "$1" "$2" &
        mount_pid=$!
        blocked=0
        while kill -0 "$mount_pid" 2>/dev/null; do
            sleep 1
            blocked=$((blocked + 1))
            [ $((blocked % 15)) -eq 0 ] &&
                say MOUNT-BLOCKED "seconds=$blocked wchan=$(cat "/proc/$mount_pid/wchan" 2>/dev/null)"
        done
        wait "$mount_pid" && break
        tries=$((tries + 1))
        [ "$tries" -ge 120 ] && finish "error=mount-$1"
        sleep 1
    done
    say MOUNTED "tag=$1 tries=$tries"
}

# e2e_suite=bench: the real-Xen bench (bench/xen/guest-bench.sh) on two
# shares, tag qemu (QEMU's backend) and tag xen9pd, then unmount and power off.
if [ "$(arg e2e_suite)" = bench ]; then
    mkdir -p /mnt/qemu /mnt/xen9pd
    mount_tag qemu /mnt/qemu
    mount_tag xen9pd /mnt/xen9pd
    guest-bench.sh /mnt/qemu /mnt/xen9pd "$(arg e2e_bench_seconds)" "$(arg e2e_bench_files)"
    umount /mnt/qemu && umount /mnt/xen9pd && say UNMOUNTED
    finish ok
fi

mount_tag "$tag" /mnt

# The last e2e_suite= on the command line wins: posix, smoke or none.
suite=$(arg e2e_suite)
integrity_rounds=$(arg e2e_integrity_rounds)
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
if [ "$(arg e2e_detach)" = 1 ]; then
    /e2e/integrity.sh /mnt "$name"
    sync
    say SUITE-DONE
    # dom0 detaches the device now. The driver closes it and the xenbus device
    # goes away with its nodes; then the mount can only be forced off.
    waited=0
    while [ -e /sys/bus/xen/devices/9pfs-0 ] && [ "$waited" -lt 600 ]; do
        sleep 1
        waited=$((waited + 1))
    done
    if [ -e /sys/bus/xen/devices/9pfs-0 ]; then
        echo "XEN9P-CHECK device-closed-by-detach FAIL still present after ${waited}s"
        finish "error=never-detached"
    fi
    echo "XEN9P-CHECK device-closed-by-detach PASS"
    say DETACHED "waited=${waited}s"
    # A program still using the share gets an error, not a hang.
    timeout 60 stat /mnt/e2e-owner > /tmp/stat.out 2>&1
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ]; then
        echo "XEN9P-CHECK access-after-detach-fails PASS ($(tr '\n' ' ' < /tmp/stat.out))"
    else
        echo "XEN9P-CHECK access-after-detach-fails FAIL rc=$rc $(tr '\n' ' ' < /tmp/stat.out)"
    fi
    if umount -f /mnt; then
        say UNMOUNTED
    else
        echo "XEN9P-CHECK umount-after-detach FAIL"
    fi
    finish ok
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

# e2e_lock=1: one process holds an fcntl lock on the share through the
# rounds (dom0 checks that its host side outlives the servers it kills and
# the daemon's upgrade); another process finds it held, then free.
lock_pid=""
if [ "$(arg e2e_lock)" = 1 ]; then
    lockfile=/mnt/e2e-lock-$name
    fsprobe hold-lock "$lockfile" /tmp/release-lock > /tmp/lock.out 2>&1 &
    lock_pid=$!
    tries=0
    until grep -q "lock held" /tmp/lock.out || [ "$tries" -ge 120 ]; do
        sleep 1
        tries=$((tries + 1))
    done
    if grep -q "lock held" /tmp/lock.out; then
        say LOCK-HELD
    else
        echo "XEN9P-CHECK lock-taken FAIL $(tr '\n' ' ' < /tmp/lock.out)"
    fi
fi

# e2e_integrity_rounds=N: the check N times over (dom0 kills servers meanwhile).
round=0
while [ "$round" -lt "${integrity_rounds:-1}" ]; do
    /e2e/integrity.sh /mnt "$name"
    round=$((round + 1))
done

if [ -n "$lock_pid" ]; then
    if out=$(fsprobe lock-state "$lockfile" locked 2>&1); then
        echo "XEN9P-CHECK lock-held-through-the-rounds PASS"
    else
        echo "XEN9P-CHECK lock-held-through-the-rounds FAIL $out"
    fi
    touch /tmp/release-lock
    if wait "$lock_pid"; then
        echo "XEN9P-CHECK lock-holder-released PASS"
    else
        echo "XEN9P-CHECK lock-holder-released FAIL $(tr '\n' ' ' < /tmp/lock.out)"
    fi
    # No lock of this kernel is left on it: the server answers.
    if out=$(fsprobe lock-state "$lockfile" free 2>&1); then
        echo "XEN9P-CHECK lock-free-after-release PASS"
    else
        echo "XEN9P-CHECK lock-free-after-release FAIL $out"
    fi
fi

if umount /mnt; then
    say UNMOUNTED
else
    echo "XEN9P-CHECK umount FAIL"
fi
if [ "$(arg e2e_then_u)" = 1 ]; then
    # The device is connected: a refused dialect fails at once, no retries.
    if timeout 120 mount -t 9p -o "trans=xen,version=9p2000.u,msize=$msize" "$tag" /mnt 2>/tmp/mount-u.err; then
        say MOUNTED-U
        P9_VERSION=9p2000.u posix.sh /mnt
        umount /mnt || echo "XEN9P-CHECK umount-u FAIL"
    else
        echo "XEN9P-CHECK mount-9p2000.u FAIL $(tr '\n' ' ' </tmp/mount-u.err)"
    fi
    say U-DONE
fi
finish ok
