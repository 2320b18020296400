#!/bin/sh
# The real-Xen end-to-end run: Xen 4.17 under qemu-system-x86_64 (software
# emulation), a Linux PV dom0 running the backend under test, Linux PV or HVM
# domUs mounting their shares with the stock 9pnet_xen driver.
#
#   run.sh --backend qemu|xen9pd [--xen9pd PATH]
#          [--scenario basic|lifecycle|hvm|hvm-negative|bench] [--suite posix|smoke]
#          [--work DIR] [--timeout SECONDS] [--msize BYTES]
#          [--security-model none|mapped-xattr|passthrough]
#          [--bench-out DIR] [--bench-seconds S] [--bench-files N]
#   run.sh --xen 4.20 --root DIR --deb FILE|DIR [--scenario pv|hvm] [--work DIR] ...
#
# --xen 4.20 runs Debian 13's Xen 4.20, dom0 user space and Linux 6.12 from the
# trixie root DIR (tests/debian13/make-root.sh), with xen9pd installed into it
# from its package FILE (dpkg -i); see xen420-image.sh and dom0-xen420.sh.
#
# hvm (xen9pd) and hvm-negative (qemu: the guest's own restricted QEMU) boot an
# HVM domU with dm_restrict=1; see dom0-lib.sh and README.md.
#
# bench (--backend xen9pd, `make bench-xen`) races xen9pd against QEMU's Xen
# 9pfs backend from one guest in one boot (bench/xen) and writes the ratios
# to --bench-out (default <work>/bench-xen): results-xen.md and .json.
#
# --suite posix (default) runs the shared guest list tests/guest/posix.sh;
# smoke runs the short tests/e2e/guest-smoke.sh (minutes less under emulation).
#
# Builds both initramfs images, boots, prints the serial console with the
# seconds since boot in front of each line, then the per-stage timings, and
# exits 0 only when dom0 printed `E2E-VERDICT PASS` and the emulator exited on
# its own before the timeout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

backend=""
xen9pd=""
xen=4.17
root=""
deb=""
scenario=basic
suite=posix
work="$repo/build/e2e"
timeout=2700
msize=512000
security_model=none
bench_out=""
bench_seconds=10
bench_files=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --backend) backend=$2; shift 2 ;;
        --xen) xen=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --deb) deb=$2; shift 2 ;;
        --xen9pd) xen9pd=$2; shift 2 ;;
        --scenario) scenario=$2; shift 2 ;;
        --suite) suite=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --msize) msize=$2; shift 2 ;;
        --security-model) security_model=$2; shift 2 ;;
        --bench-out) bench_out=$2; shift 2 ;;
        --bench-seconds) bench_seconds=$2; shift 2 ;;
        --bench-files) bench_files=$2; shift 2 ;;
        *) echo "run.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
case "$xen" in
    4.17) ;;
    4.20)
        # xen9pd comes from its package; libxl spawns it or its unit starts it.
        backend=xen9pd
        [ -n "$root" ] && [ -n "$deb" ] || { echo "run.sh: --xen 4.20 needs --root DIR and --deb FILE" >&2; exit 2; }
        case "$scenario" in
            pv | hvm) ;;
            *) echo "run.sh: --xen 4.20 runs --scenario pv or hvm" >&2; exit 2 ;;
        esac
        ;;
    *) echo "run.sh: --xen 4.17 or 4.20" >&2; exit 2 ;;
esac
case "$backend" in
    qemu) ;;
    xen9pd)
        if [ "$xen" = 4.17 ]; then
            [ -n "$xen9pd" ] || { echo "run.sh: --backend xen9pd needs --xen9pd PATH" >&2; exit 2; }
            [ -x "$xen9pd" ] || { echo "run.sh: no xen9pd binary at '$xen9pd' (build it first)" >&2; exit 1; }
        fi
        ;;
    *) echo "run.sh: --backend qemu or xen9pd" >&2; exit 2 ;;
esac
case "$suite" in
    posix | smoke) ;;
    *) echo "run.sh: --suite posix or smoke" >&2; exit 2 ;;
esac
case "$security_model" in
    none | mapped-xattr | passthrough) ;;
    *) echo "run.sh: --security-model none, mapped-xattr or passthrough" >&2; exit 2 ;;
esac
case "$scenario" in
    basic | lifecycle | hvm | hvm-negative) ;;
    pv) [ "$xen" = 4.20 ] || { echo "run.sh: --scenario pv is a --xen 4.20 scenario" >&2; exit 2; } ;;
    bench)
        [ "$xen" = 4.17 ] && [ "$backend" = xen9pd ] ||
            { echo "run.sh: --scenario bench runs on Xen 4.17 with --backend xen9pd (QEMU is its peer)" >&2; exit 2; }
        case "$bench_seconds$bench_files" in
            *[!0-9]*) echo "run.sh: --bench-seconds and --bench-files take whole numbers" >&2; exit 2 ;;
        esac
        [ "$bench_seconds" -ge 1 ] && [ "$bench_files" -ge 1 ] ||
            { echo "run.sh: --bench-seconds and --bench-files must be at least 1" >&2; exit 2; }
        ;;
    *) echo "run.sh: --scenario basic, lifecycle, hvm, hvm-negative or bench" >&2; exit 2 ;;
esac

mkdir -p "$work"
work=$(cd "$work" && pwd)
cache="$work/cache"
# One emulator at a time on this machine, whoever starts it, whatever Xen.
lock="$work/cache/emulator.lock"
mkdir -p "$cache"
run="$work/run-$backend-$scenario-$suite-$security_model"
t0=$(date +%s)

if [ "$xen" = 4.20 ]; then
    cache="$work/cache-4.20"
    run="$work/run-xen420-$scenario-$suite"
    # A directory: the newest xen9pd_*_amd64.deb in it (the package build's).
    if [ -d "$deb" ]; then
        deb=$(ls -t "$deb"/xen9pd_*_amd64.deb 2> /dev/null | head -n 1)
        [ -n "$deb" ] || { echo "run.sh: no xen9pd_*_amd64.deb in the --deb directory" >&2; exit 1; }
    fi
    deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
    "$here/xen420-image.sh" prepare "$root" "$deb" "$cache"
else
    "$here/fetch.sh" "$cache"
fi
t_fetch=$(date +%s)

modules=$(echo "$cache"/kernel-root/lib/modules/*/kernel)

# copy_bin ROOT SRC [DEST]: a binary and every shared library ldd names.
copy_bin() {
    dest=${3:-$2}
    install -D -m 755 "$2" "$1$dest"
    ldd "$2" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
        while read -r lib; do
            [ -e "$1$lib" ] || install -D -m 755 "$(readlink -f "$lib")" "$1$lib"
        done
}

busybox_root() {
    rm -rf "$1"
    mkdir -p "$1/bin" "$1/sbin" "$1/usr/bin" "$1/usr/sbin" "$1/etc" "$1/proc" "$1/sys" \
        "$1/dev" "$1/tmp" "$1/mnt" "$1/modules" "$1/e2e"
    cp /bin/busybox "$1/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ -e "$1/bin/$applet" ] || ln -s busybox "$1/bin/$applet"
    done
}

copy_module() { cp "$(find "$modules" -name "$2.ko" | head -n 1)" "$1/modules/$2.ko"; }

make_cpio() { (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"; }

# The domU, built like the real-client guest (tests/guest/build-initramfs.sh):
# busybox, the 9p modules, its init, the shared guest suite when the tree has
# it (posix.sh with fsprobe and the xattr tools), else the small smoke list.
rm -rf "$run"
mkdir -p "$run"
extra="$here/integrity.sh=/e2e/integrity.sh $here/guest-smoke.sh=/e2e/guest-smoke.sh"
# fsprobe is static: it runs on either kernel. Every suite has it (the
# lifecycle's lock holder uses it).
gcc -static -O2 -Wall -Wextra -Werror -o "$run/fsprobe" "$repo/tests/guest/fsprobe.c"
binaries="$run/fsprobe"
if [ "$suite" = posix ]; then
    binaries="$binaries $(command -v setfattr) $(command -v getfattr)"
    extra="$extra $repo/tests/guest/posix.sh=/bin/posix.sh"
fi
if [ "$scenario" = bench ]; then
    # fio (built static: Debian's links 84 MB of libraries), the metadata mix,
    # and the tree the guest untars: this source tree as committed.
    binaries="$binaries $("$repo/bench/xen/build-fio.sh" "$cache")"
    gcc -static -O2 -Wall -Wextra -Werror -o "$run/metamix" "$repo/bench/xen/metamix.c"
    binaries="$binaries $run/metamix"
    if git -C "$repo" rev-parse --verify -q HEAD > /dev/null 2>&1; then
        git -C "$repo" archive --format=tar HEAD > "$run/tree.tar"
    else
        tar -C "$repo" --exclude='./build*' -cf "$run/tree.tar" .
    fi
    extra="$extra $repo/bench/xen/guest-bench.sh=/bin/guest-bench.sh $run/tree.tar=/bench/tree.tar"
fi
# shellcheck disable=SC2086 # word lists on purpose
"$repo/tests/guest/build-initramfs.sh" "$run/domu.cpio.gz" "$cache/kernel-root" \
    "$here/domu-init.sh" "9pnet_xen 9p" "$binaries" $extra

# dom0: busybox, the Xen modules and tools, the domU's kernel and image, the
# backend under test.
dom0="$run/dom0-root"
if [ "$xen" = 4.20 ]; then
    rm -rf "$dom0"
    hvm_files=""
    [ "$scenario" = hvm ] && hvm_files=hvm
    "$here/xen420-image.sh" dom0 "$root" "$cache" "$dom0" $hvm_files
    install -m 644 "$here/dom0-xen420.sh" "$dom0/e2e/dom0-xen420.sh"
    install -m 644 "$here/expected-fail-none.txt" "$dom0/e2e/expected-fail-none.txt"
    # The checks read info lines only; no per-request debug lines.
    printf 'allowed-root = /srv\nlog-level = info\n' > "$dom0/etc/xen9pd.conf"
else
    busybox_root "$dom0"
    for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc crc16 mbcache jbd2 crc32c_generic \
        ext4 loop; do copy_module "$dom0" "$m"; done
    for tool in xl xenstored xenconsoled xen-init-dom0 xenconsole libxl-save-helper; do
        copy_bin "$dom0" "/usr/lib/xen-4.17/bin/$tool"
    done
    copy_bin "$dom0" /usr/bin/xenstore
    for t in ls read write rm chmod watch list exists; do ln -s xenstore "$dom0/usr/bin/xenstore-$t"; done
    mkdir -p "$dom0/etc/xen" "$dom0/lib64"
    : > "$dom0/etc/xen/xl.conf"
    if [ "$backend" = qemu ] || [ "${scenario#hvm}" != "$scenario" ] || [ "$scenario" = bench ]; then
        copy_bin "$dom0" /usr/libexec/xen-qemu-system-i386
    fi
    if [ "$backend" = xen9pd ]; then
        copy_bin "$dom0" "$xen9pd" /usr/sbin/xen9pd
        if [ "$scenario" = bench ]; then
            # As deployed (no per-request debug lines), and only its own kind:
            # QEMU serves backend/9pfs (dom0-lib.sh's scenario_bench).
            printf 'allowed-root = /srv\nlog-level = info\nkinds = xen_9pfs\n' > "$dom0/etc/xen9pd.conf"
        else
            printf 'allowed-root = /srv\nlog-level = debug\n' > "$dom0/etc/xen9pd.conf"
        fi
    fi
    # An HVM guest's firmware (hvmloader, SeaBIOS), the option ROMs its QEMU loads
    # for a direct kernel boot and its keymap; the probe that takes the device
    # model's uid to try to trace xen9pd's worker.
    if [ "${scenario#hvm}" != "$scenario" ]; then
        install -D -m 644 /usr/lib/xen-4.17/boot/hvmloader "$dom0/usr/lib/xen-4.17/boot/hvmloader"
        install -D -m 644 /usr/share/seabios/bios-256k.bin "$dom0/usr/share/seabios/bios-256k.bin"
        for rom in linuxboot linuxboot_dma kvmvapic multiboot multiboot_dma pvh; do
            install -D -m 644 "/usr/share/qemu/$rom.bin" "$dom0/usr/share/qemu/$rom.bin"
        done
        # QEMU reads its keymap even with vnc = 0.
        install -D -m 644 /usr/share/qemu/keymaps/en-us "$dom0/usr/share/qemu/keymaps/en-us"
        gcc -static -O2 -Wall -Wextra -Werror -o "$dom0/usr/bin/ptrace-probe" "$here/ptrace-probe.c"
    fi
fi
install -D -m 644 "$cache/vmlinuz" "$dom0/boot/vmlinuz"
install -D -m 644 "$run/domu.cpio.gz" "$dom0/boot/domu.cpio.gz"
mkdir -p "$dom0/etc/xen"
printf 'root:x:0:0:root:/:/bin/sh\nxen-qemuuser-range-base:x:131072:131072::/nonexistent:/bin/false\n' \
    > "$dom0/etc/passwd"
printf 'root:x:0:\nxen-qemuuser-range-base:x:131072:\n' > "$dom0/etc/group"
printf 'XEN_VERSION=%s\nBACKEND=%s\nSCENARIO=%s\nMSIZE=%s\nSUITE=%s\nSECURITY_MODEL=%s\n' "$xen" "$backend" \
    "$scenario" "$msize" "$suite" "$security_model" \
    > "$dom0/etc/e2e.conf"
printf 'BENCH_SECONDS=%s\nBENCH_FILES=%s\n' "$bench_seconds" "$bench_files" >> "$dom0/etc/e2e.conf"
install -m 755 "$here/dom0-init.sh" "$dom0/init"
install -m 644 "$here/dom0-lib.sh" "$dom0/e2e/dom0-lib.sh"
make_cpio "$dom0" "$run/dom0.cpio.gz"
rm -rf "$dom0"
t_images=$(date +%s)
echo "e2e: xen=$xen backend=$backend scenario=$scenario suite=$suite security_model=$security_model images $(du -h "$run/dom0.cpio.gz" | cut -f1)"

# One emulator at a time on this machine, whoever starts it.
serial="$run/serial.log"
cr=$(printf '\r')
(
    flock 9
    t_boot=$(date +%s)
    echo "$t_boot" > "$run/boot-start"
    {
        timeout -k 10 "$timeout" qemu-system-x86_64 -machine pc -accel tcg,thread=multi \
            -cpu qemu64,+svm,+npt -smp 2 -m 2048 -no-reboot -nic none -display none -monitor none \
            -serial stdio -kernel "$cache/xen" \
            -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=1 loglvl=all guest_loglvl=all" \
            -initrd "$cache/vmlinuz console=hvc0 earlyprintk=xen rdinit=/init,$run/dom0.cpio.gz" \
            < /dev/null 2>&1
        echo $? > "$run/qemu.rc"
    } | while IFS= read -r line; do
        # dom0's hvc0 lines reach the serial port ending in two CRs.
        while [ "${line%"$cr"}" != "$line" ]; do line=${line%"$cr"}; done
        printf '%5ss %s\n' "$(($(date +%s) - t_boot))" "$line"
    done | tee "$serial"
) 9> "$lock"
t_end=$(date +%s)

boot_start=$(cat "$run/boot-start")
echo "---- e2e timings (xen=$xen backend=$backend scenario=$scenario suite=$suite security_model=$security_model)"
echo "fetch+install: $((t_fetch - t0)) s   initramfs images: $((t_images - t_fetch)) s   waiting for the emulator: $((boot_start - t_images)) s"
sed -n 's/^ *\([0-9]*\)s .*E2E-STAGE \([^ ]*\) .*/\1 \2/p' "$serial" | {
    prev=0
    while read -r at name; do
        echo "stage $name at ${at}s after power-on (+$((at - prev)) s)"
        prev=$at
    done
}
echo "emulator run: $((t_end - boot_start)) s"

rc=$(cat "$run/qemu.rc" 2> /dev/null || echo missing)
verdict=$(grep -o 'E2E-VERDICT .*' "$serial" | tail -n 1 || true)
checks=$(grep -c 'XEN9P-CHECK .* PASS' "$serial" || true)
failed_checks=$(grep -c 'XEN9P-CHECK .* FAIL' "$serial" || true)
dom0_checks=$(grep -c 'XEN9P-DOM0-CHECK .* PASS' "$serial" || true)
if [ "$xen" = 4.20 ]; then
    # libxl's type=xen_9pfsd devices run under security_model=none: the
    # list's ownership and device-node checks fail there by design (dom0
    # checks that no other one failed).
    by_design=$(grep -o 'XEN9P-CHECK [^ ]* FAIL' "$serial" | awk '{ print $2 }' |
        grep -cxF -f "$here/expected-fail-none.txt" || true)
    echo "guest checks failed by design under security_model=none: $by_design"
    failed_checks=$((failed_checks - by_design))
fi
echo "guest checks passed: $checks, failed: $failed_checks; dom0 checks passed: $dom0_checks; emulator exit: $rc"
if [ "$rc" != 0 ]; then
    echo "e2e: FAIL: the emulator did not exit cleanly (status $rc; 124 is the ${timeout}s timeout)"
    exit 1
fi
case "$verdict" in
    "E2E-VERDICT PASS") ;;
    *) echo "e2e: FAIL: ${verdict:-no verdict on the serial console}"; exit 1 ;;
esac
# The negative control's guest never mounts: only dom0 checks it.
min_checks=4
[ "$scenario" = hvm-negative ] && min_checks=0
if [ "$checks" -lt "$min_checks" ] || [ "$failed_checks" -ne 0 ] || [ "$dom0_checks" -lt 1 ]; then
    echo "e2e: FAIL: guest checks passed=$checks failed=$failed_checks, dom0 checks passed=$dom0_checks"
    exit 1
fi
if [ "$scenario" = bench ]; then
    "$repo/bench/xen/report.sh" "$serial" "${bench_out:-$work/bench-xen}" || exit 1
fi
echo "e2e: PASS"
