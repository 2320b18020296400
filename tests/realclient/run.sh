#!/bin/sh
# Real-client harness: the Linux 6.1 kernel's 9p client in a QEMU (TCG) guest
# mounts a share served on a host unix socket (xen9pd or diod) through a
# virtio-serial port and runs tests/guest/posix.sh and tests/guest/stress.sh.
#
# Usage: run.sh [--server xen9pd|diod] [--mode quick|full] [--build-dir DIR]
#               [--xen9pd PATH] [--msize N] [--timeout SECONDS]
#               [--version 9p2000.L|9p2000.u]  (the mount's dialect and posix.sh's list)
# Exit: 0 all checks passed (for diod: no failure outside diod-known-failures.txt),
#       1 a check failed or the guest did not finish, 77 qemu cannot run here.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
server=xen9pd
mode=quick
build=$root/build
xen9pd=""
msize=262144
timeout_s=""
version=9p2000.L

while [ $# -gt 0 ]; do
    case "$1" in
    --server) server=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --xen9pd) xen9pd=$2; shift 2 ;;
    --msize) msize=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$server" in xen9pd | diod) ;; *) echo "run.sh: --server xen9pd|diod" >&2; exit 2 ;; esac
case "$mode" in quick | full) ;; *) echo "run.sh: --mode quick|full" >&2; exit 2 ;; esac
case "$version" in 9p2000.L) vsuffix="" ;; 9p2000.u) vsuffix=-u ;; *) echo "run.sh: --version 9p2000.L|9p2000.u" >&2; exit 2 ;; esac
[ -n "$timeout_s" ] || { [ "$mode" = quick ] && timeout_s=900 || timeout_s=3600; }
# Absolute: diod takes a listen address without a leading / for host:port.
mkdir -p "$build" && build=$(cd "$build" && pwd)
[ -n "$xen9pd" ] || xen9pd=$build/backend/daemon/xen9pd

log() { echo "realclient: $*" >&2; }

# --- host packages: install only what is missing ---
need=""
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_cmd qemu-system-x86_64 || need="$need qemu-system-x86"
[ -x /bin/busybox ] && file -b /bin/busybox 2>/dev/null | grep -q static || dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
for pc in cpio:cpio socat:socat stress-ng:stress-ng fio:fio dbench:dbench setfattr:attr gcc:gcc; do
    have_cmd "${pc%%:*}" || need="$need ${pc#*:}"
done
[ "$server" = diod ] && { have_cmd diod || [ -x /usr/sbin/diod ] || need="$need diod"; }
if [ -n "$need" ]; then
    log "installing:$need"
    if [ "$(id -u)" -ne 0 ] || ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >&2; then
        if ! have_cmd qemu-system-x86_64; then
            log "SKIP: qemu-system-x86_64 is not installed and cannot be installed"
            exit 77
        fi
        log "cannot install:$need"
        exit 1
    fi
fi
# "quit" on the monitor proves qemu can start a TCG machine here.
if ! echo quit | timeout 60 qemu-system-x86_64 -accel tcg -machine none -nodefaults -display none \
    -monitor stdio >/dev/null 2>&1; then
    log "SKIP: qemu-system-x86_64 cannot run"
    exit 77
fi

work=$build/realclient
mkdir -p "$work"

# --- kernel: downloaded and unpacked into a cache, never installed ---
kcache=$work/kernel
mkdir -p "$kcache"
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/{print $2; exit}')
if [ -n "$kpkg" ] && [ ! -d "$kcache/$kpkg/boot" ]; then
    log "downloading $kpkg"
    (cd "$kcache" && apt-get download "$kpkg" >&2) || true
    deb=$(ls "$kcache"/"$kpkg"_*.deb 2>/dev/null | head -1)
    if [ -n "$deb" ]; then
        rm -rf "$kcache/$kpkg.tmp"
        dpkg-deb -x "$deb" "$kcache/$kpkg.tmp"
        mv "$kcache/$kpkg.tmp" "$kcache/$kpkg"
        rm -f "$deb"
    fi
fi
[ -n "$kpkg" ] && [ -d "$kcache/$kpkg/boot" ] || kpkg=$(ls "$kcache" | grep '^linux-image-6\.1' | grep -v '\.tmp$' | tail -1)
if [ -z "$kpkg" ] || [ ! -d "$kcache/$kpkg/boot" ]; then
    log "no linux-image-6.1 kernel available (apt-get download failed and the cache is empty)"
    exit 1
fi
kroot=$kcache/$kpkg
vmlinuz=$(ls "$kroot"/boot/vmlinuz-* | head -1)

# --- guest image ---
gcc -static -O2 -Wall -Wextra -Werror -o "$work/fsprobe" "$root/tests/guest/fsprobe.c"
binaries="$(command -v socat) $(command -v stress-ng) $(command -v fio) $(command -v dbench)
$(command -v setfattr) $(command -v getfattr) $work/fsprobe"
"$root/tests/guest/build-initramfs.sh" "$work/initramfs.cpio.gz" "$kroot" "$here/guest-init.sh" \
    "virtio_pci virtio_console 9pnet_fd 9p" "$binaries" \
    "$root/tests/guest/posix.sh=/bin/posix.sh" "$root/tests/guest/stress.sh=/bin/stress.sh" \
    "/usr/share/dbench/client.txt=/usr/share/dbench/client.txt"

# --- server ---
run=$work/run-$server-$mode$vsuffix
rm -rf "$run"
mkdir -p "$run/export"
chmod 755 "$run/export"
sock=$run/p9.sock
server_pid=""
qemu_pid=""
cleanup() {
    [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

aname=""
case "$server" in
diod)
    diod=$(command -v diod || echo /usr/sbin/diod)
    "$diod" -f -n -l "$sock" -e "$run/export" -L "$run/server.log" &
    server_pid=$!
    aname=$run/export
    ;;
xen9pd)
    if [ ! -x "$xen9pd" ]; then
        log "xen9pd not built at $xen9pd (build the xen9pd target or pass --xen9pd)"
        exit 1
    fi
    # As an admin would run it: confined (uid 65534, the export as its root,
    # seccomp) and acting as the guest's users, so the root-run guest list can
    # chown and mknod; under `none` the guest may not make device nodes.
    "$xen9pd" serve --export "$run/export" --listen "unix:$sock" \
        --security-model passthrough --uid 65534 --gid 65534 >"$run/server.log" 2>&1 &
    server_pid=$!
    ;;
esac
i=0
while [ ! -S "$sock" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
        log "$server did not create $sock; its log:"
        cat "$run/server.log" >&2 || true
        exit 1
    fi
    sleep 0.1
done

# --- guest ---
serial=$run/serial.log
log "booting $(basename "$vmlinuz") against $server ($mode, $version, msize=$msize, timeout ${timeout_s}s); serial log $serial"
start=$(date +%s)
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -accel tcg -m 1024 -smp 2 -nographic -nic none \
    -no-reboot -monitor none -serial "file:$serial" \
    -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 loglevel=4 xen9p.mode=$mode xen9p.msize=$msize xen9p.version=$version${aname:+ xen9p.aname=$aname}" \
    -device virtio-serial-pci -chardev "socket,id=p9chr,path=$sock" \
    -device virtserialport,chardev=p9chr,name=p9 </dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
elapsed=$(($(date +%s) - start))

# --- verdict ---
tr -d '\r' <"$serial" | grep -ao 'XEN9P-[A-Z]*.*' >"$run/markers.txt" || true
known=""
[ "$server" = diod ] && known=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/diod-known-failures.txt" | awk '{print $1}')
passed=$(grep -c '^XEN9P-CHECK [^ ]* PASS' "$run/markers.txt" || true)
unexpected=0
known_failed=0
fixed=""
while read -r _ name verdict detail; do
    [ "$verdict" = FAIL ] || continue
    if echo "$known" | grep -qx -- "$name"; then
        known_failed=$((known_failed + 1))
        echo "KNOWN-FAIL $name $detail"
    else
        unexpected=$((unexpected + 1))
        echo "FAIL $name $detail"
    fi
done <<EOF
$(grep '^XEN9P-CHECK ' "$run/markers.txt")
EOF
for name in $known; do
    grep -q "^XEN9P-CHECK $name PASS" "$run/markers.txt" && fixed="$fixed $name"
done
grep '^XEN9P-FIO ' "$run/markers.txt" || true
done_marker=$(grep -c '^XEN9P-DONE' "$run/markers.txt" || true)
suites=$(grep -c '^XEN9P-SUMMARY ' "$run/markers.txt" || true)

echo "realclient: server=$server mode=$mode version=$version passed=$passed failed=$unexpected known_failures=$known_failed elapsed=${elapsed}s"
[ -n "$fixed" ] && echo "realclient: listed as known failures but passed:$fixed"
status=0
if [ "$done_marker" -eq 0 ] || [ "$suites" -lt 2 ]; then
    echo "realclient: guest did not finish (qemu exit $qemu_rc, summaries $suites); serial log tail:"
    tail -30 "$serial"
    status=1
fi
[ "$unexpected" -eq 0 ] || status=1
[ "$passed" -gt 0 ] || status=1
exit $status
