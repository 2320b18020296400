#!/bin/sh
# /init of the real-client guest: loads the 9p modules, relays the
# virtio-serial port named "p9" to two FIFOs with socat, mounts the share with
# trans=fd, runs the guest suites and powers off. Everything it reports goes to
# the serial console as XEN9P-* marker lines.
# Kernel command line: xen9p.mode=quick|full xen9p.msize=N xen9p.aname=NAME
#                      xen9p.version=9p2000.L|9p2000.u

export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run

finish() {
    echo "XEN9P-DONE"
    sync
    poweroff -f
}

for m in $(cat /etc/modules.order); do
    insmod "/lib/modules/$m" || echo "XEN9P-CHECK boot-insmod-$m FAIL insmod failed"
done

MODE=quick
MSIZE=262144
ANAME=""
VERSION=9p2000.L
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    xen9p.mode=*) MODE=${arg#*=} ;;
    xen9p.msize=*) MSIZE=${arg#*=} ;;
    xen9p.aname=*) ANAME=${arg#*=} ;;
    xen9p.version=*) VERSION=${arg#*=} ;;
    esac
done

port=""
for i in 1 2 3 4 5 6 7 8 9 10; do
    for p in /sys/class/virtio-ports/*; do
        [ -e "$p/name" ] && [ "$(cat "$p/name")" = p9 ] && port=/dev/$(basename "$p")
    done
    [ -n "$port" ] && [ -e "$port" ] && break
    sleep 1
done
if [ -z "$port" ]; then
    echo "XEN9P-CHECK boot-virtio-port FAIL no virtio-serial port named p9"
    finish
fi

# trans=fd cannot use the port directly (virtio_console refuses kernel_write),
# so socat copies between it and two FIFOs the kernel reads and writes.
# Fds 5 and 6 hold each FIFO open read-write so that no open below blocks.
# The kernel's own fds must be read-only (3) and write-only (4): trans_fd
# watches at most two wait queues (MAXPOLLWADDR) and a FIFO open read-write
# registers both of its queues on the first poll, leaving the write side
# unwatched. A request larger than the pipe (64 KiB; a 64 KiB Twrite at
# msize 262144) then stops after the first 64 KiB and is never completed.
mkfifo /run/to-server /run/from-server
exec 5<>/run/from-server 6<>/run/to-server
exec 3</run/from-server 4>/run/to-server
socat -b 1048576 "OPEN:$port" 'OPEN:/run/to-server!!OPEN:/run/from-server' 2>/run/socat.err &

opts=trans=fd,rfdno=3,wfdno=4,version=$VERSION,msize=$MSIZE
[ -n "$ANAME" ] && opts=$opts,aname=$ANAME
if ! mount -t 9p -o "$opts" share /mnt 2>/run/mount.err; then
    echo "XEN9P-CHECK boot-mount FAIL $(cat /run/mount.err /run/socat.err | tr '\n' ' ')"
    finish
fi
echo "XEN9P-CHECK boot-mount PASS msize=$MSIZE mode=$MODE version=$VERSION"

cd /
P9_VERSION=$VERSION posix.sh /mnt
P9_VERSION=$VERSION stress.sh /mnt "$MODE"

if umount /mnt; then
    echo "XEN9P-CHECK umount PASS"
else
    echo "XEN9P-CHECK umount FAIL"
fi
finish
