#!/bin/sh
# /init of dom0 in the emulated Xen: brings up the Xen toolstack, then runs
# the scenario of /etc/e2e.conf (dom0-lib.sh): starts the backend under test
# (BACKEND: qemu or xen9pd), creates domUs, gives them their 9pfs devices (as
# libxl does, or with `xen9pd attach`), waits for each domU's verdict, checks
# the guest's bytes from dom0's side, then prints `E2E-VERDICT PASS|FAIL` and
# powers the machine off.
. /etc/e2e.conf
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-${XEN_VERSION:-4.17}/bin
. /e2e/dom0-lib.sh
# Xen 4.20's scenarios (Debian 13 dom0).
[ -f /e2e/dom0-xen420.sh ] && . /e2e/dom0-xen420.sh

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run /tmp /var
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ln -sfn /run /var/run
mkdir -p /run/xen /run/xen9pd /var/lib/xen /var/lib/xenstored /var/log/xen/console /srv
stage init

modules="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc crc16 mbcache jbd2 crc32c_generic ext4 loop"
# The 4.20 image lists its modules, dependencies first.
[ -f /modules/order ] && modules=$(sed 's/\.ko$//' /modules/order)
for m in $modules; do
    insmod "/modules/$m.ko" || fail "insmod $m"
done
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
xenstored --pid-file /run/xenstored.pid || fail "xenstored"
xen-init-dom0 > /var/log/xen/xen-init-dom0.log 2>&1 || fail "xen-init-dom0"
xenconsoled --log=guest --log-dir=/var/log/xen/console || fail "xenconsoled"
xl info | grep -E '^(xen_version|virt_caps|total_memory|free_memory)' | sed 's/^/dom0: /'
stage toolstack-up

if [ "${XEN_VERSION:-4.17}" = 4.20 ]; then
    scenario_xen420_$SCENARIO
else
    scenario_$(echo "$SCENARIO" | tr - _)
fi
