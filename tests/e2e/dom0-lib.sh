# Functions for dom0's init (sourced). Every failure ends the run with
# `E2E-VERDICT FAIL <reason>`; there is no path to PASS but `pass`.

# Where xen9pd's output goes (a daemon libxl spawned writes to xl's).
XEN9PD_LOG=/var/log/xen/xen9pd.log

stage() { echo "E2E-STAGE $1 $(cut -d' ' -f1 /proc/uptime)"; }

# Prints what helps to diagnose, then the verdict, then powers off.
fail() {
    echo "E2E-FAIL $*"
    echo "---- dom0 diagnostics"
    # Bounded: without xenstored (a failure before it ran) they would block.
    timeout 20 xl list 2>&1
    timeout 20 xenstore-ls -fp /local/domain/0/backend 2>&1 | grep -E '9pfs' | head -n 60
    for f in /var/log/xen/*.log; do
        [ -f "$f" ] && { echo "---- $f"; tail -n 40 "$f"; }
    done
    echo "E2E-VERDICT FAIL $*"
    poweroff -f
    sleep 60
}

pass() {
    echo "E2E-VERDICT PASS"
    poweroff -f
    sleep 60
}

# wait_for FILE PATTERN SECONDS: waits until grep -E finds PATTERN in FILE,
# saying every minute what it waits for and how much CPU the domains used.
wait_for() {
    waited=0
    until [ -f "$1" ] && grep -qE "$2" "$1"; do
        [ "$waited" -ge "$3" ] && return 1
        sleep 1
        waited=$((waited + 1))
        ticks=$((${ticks:-0} + 1))
        if [ $((ticks % 60)) -eq 0 ]; then
            echo "E2E-WAITING (${ticks}s of waiting in all) for '$2' in $1; domains:" \
                "$(xl list | awk 'NR > 1 { printf "%s(%s) cpu=%ss ", $1, $2, $6 }')"
            top -bn1 | sed -n '4,12p'
            xenstore-ls -f /local/domain/0/backend/9pfs 2> /dev/null | grep -E '/(state|online)' |
                sed 's/^/    /'
            [ -f "$XEN9PD_LOG" ] && tail -n 5 "$XEN9PD_LOG" | sed 's/^/    xen9pd: /'
        fi
    done
    # Not the loop's status: that is its body's last command, which may have failed.
    return 0
}

# within SECONDS COMMAND...: runs COMMAND once a second until it succeeds;
# returns 1 if it still fails after SECONDS.
within() {
    limit=$1
    shift
    waited=0
    until "$@"; do
        [ "$waited" -ge "$limit" ] && return 1
        sleep 1
        waited=$((waited + 1))
    done
}

not() { ! "$@"; }

# all_gone PID XENSTORE_PATH...: the process and the nodes no longer exist.
all_gone() {
    [ ! -d "/proc/$1" ] || return 1
    shift
    for node; do
        xenstore-exists "$node" 2> /dev/null && return 1
    done
    return 0
}

# guest_log NAME: the guest's console log. An HVM guest's console is its
# emulated serial port written to a file: its PV console backend would be its
# restricted QEMU.
guest_log() {
    if grep -q '^type = "hvm"' "/etc/xen/$1.cfg" 2> /dev/null; then
        echo "/var/log/xen/serial-$1.log"
    else
        echo "/var/log/xen/console/guest-$1.log"
    fi
}

# The kernel command line of a domU: NAME TAG, then extra KEY=VALUE words
# (the last of a key wins; see domu-init.sh).
domu_cmdline() {
    name=$1
    tag=$2
    shift 2
    echo "rdinit=/init loglevel=4 e2e_name=$name e2e_tag=$tag e2e_msize=$MSIZE e2e_suite=$SUITE $*"
}

# create_domu NAME TAG [KEY=VALUE...]: boots a PV domU from /boot without any
# p9= device.
create_domu() {
    cat > "/etc/xen/$1.cfg" << EOF
name = "$1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/domu.cpio.gz"
extra = "console=hvc0 $(domu_cmdline "$@")"
memory = 192
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
EOF
    start_domu "$1"
}

# create_hvm_domu NAME TAG P9 [KEY=VALUE...]: boots an HVM domU whose device
# model (QEMU) runs restricted: dm_restrict=1, as uid range base + domid,
# chrooted, with -xen-domid-restrict. P9 is a p9=[...] line or empty. The
# kernel and initramfs are the PV guests' (direct boot through SeaBIOS).
create_hvm_domu() {
    hvm_name=$1
    hvm_tag=$2
    p9=$3
    shift 3
    cat > "/etc/xen/$hvm_name.cfg" << EOF
name = "$hvm_name"
type = "hvm"
device_model_version = "qemu-xen"
dm_restrict = 1
kernel = "/boot/vmlinuz"
ramdisk = "/boot/domu.cpio.gz"
cmdline = "console=ttyS0,115200 $(domu_cmdline "$hvm_name" "$hvm_tag" "$@")"
serial = "file:/var/log/xen/serial-$hvm_name.log"
vga = "none"
vnc = 0
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
$p9
EOF
    start_domu "$hvm_name"
}

# start_domu NAME: xl create, then the guest's console live on dom0's console
# with a prefix.
start_domu() {
    xl create "/etc/xen/$1.cfg" > "/var/log/xen/xl-create-$1.log" 2>&1 ||
        fail "xl create $1: $(tail -n 3 "/var/log/xen/xl-create-$1.log")"
    log=$(guest_log "$1")
    within 60 test -f "$log" || fail "$1 has no console log $log"
    # One sed (line-buffered on the console) so that lines are not held back.
    cr=$(printf '\r')
    tail -f "$log" | sed "s/$cr\$//; s/^/[$1] /" &
}

domid_of() { xl domid "$1"; }

# add_9pfs DOMID TAG PATH: hands the share to the uid the guest's backend runs
# as (range base + domid, as under dm_restrict: under none and mapped-xattr
# the worker writes as that uid only), then gives the guest its device: for
# xen9pd with `xen9pd attach`; for QEMU's backend by writing the nodes libxl
# writes for p9=[...]: its own record under /libxl (what `xl destroy` walks to
# close the backend and remove both sides' nodes), then the frontend (so the
# backend never points at a missing or unwritable frontend), then the
# backend, each written in one xenstore transaction and then given libxl's
# permissions.
add_9pfs() {
    chown -R "$((131072 + $1)):131072" "$3" || fail "chown share $3"
    if [ "$BACKEND" = xen9pd ]; then
        xen9pd attach "$1" --tag "$2" --path "$3" --security-model "$SECURITY_MODEL" \
            > /tmp/attach.out 2>&1 || fail "xen9pd attach: $(cat /tmp/attach.out)"
        echo "dom0: $(cat /tmp/attach.out)"
        return
    fi
    write_qemu_9pfs "$1" 0 "$2" "$3"
}

# write_qemu_9pfs DOMID DEVID TAG PATH: the nodes libxl writes for a p9=[...]
# share that QEMU's backend serves.
write_qemu_9pfs() {
    fe=/local/domain/$1/device/9pfs/$2
    be=/local/domain/0/backend/9pfs/$1/$2
    lx=/libxl/$1/device/9pfs/$2
    xenstore-write "$lx/frontend" "$fe" "$lx/backend" "$be" "$lx/frontend-id" "$1" "$lx/online" 1 \
        "$lx/state" 1 "$lx/path" "$4" "$lx/security_model" "$SECURITY_MODEL" || fail "write libxl's device record"
    xenstore-write "$fe/backend" "$be" "$fe/backend-id" 0 "$fe/state" 1 "$fe/tag" "$3" ||
        fail "write frontend nodes"
    xenstore-chmod -r "$fe" "n$1" r0 || fail "chmod frontend nodes"
    xenstore-write "$be/frontend" "$fe" "$be/frontend-id" "$1" "$be/online" 1 "$be/state" 1 \
        "$be/path" "$4" "$be/security_model" "$SECURITY_MODEL" || fail "write backend nodes"
    xenstore-chmod -r "$be" n0 "r$1" || fail "chmod backend nodes"
}

# seed_share DIR NAME: the share of guest NAME, with its owner's name and a
# file whose bytes the guest checks.
seed_share() {
    mkdir -p "$1"
    echo "$2" > "$1/e2e-owner"
    dd if=/dev/urandom of="$1/e2e-from-dom0" bs=333331 count=7 2> /dev/null
    sha256sum "$1/e2e-from-dom0" | cut -d' ' -f1 > "$1/e2e-from-dom0.sha256"
}

# start_backend DOMID: QEMU's own Xen 9pfs backend is started per domain
# (libxl would start it as the domain's PV device model); xen9pd is started
# once, before any domain, by start_xen9pd.
start_qemu_backend() {
    /usr/libexec/xen-qemu-system-i386 -xen-domid "$1" -xen-attach -name "dm-$1" \
        -machine xenpv -nodefaults -display none -monitor none -serial none -parallel none \
        > "/var/log/xen/qemu-dm-$1.log" 2>&1 &
}

start_xen9pd() {
    xen9pd run --config /etc/xen9pd.conf > /var/log/xen/xen9pd.log 2>&1 &
    xen9pd_pid=$!
    # Up once its control socket answers.
    waited=0
    until xen9pd status --control-socket /run/xen9pd/control.sock > /dev/null 2>&1; do
        kill -0 "$xen9pd_pid" 2> /dev/null || fail "xen9pd exited: $(tail -n 5 /var/log/xen/xen9pd.log)"
        [ "$waited" -ge 60 ] && fail "xen9pd control socket never answered"
        sleep 1
        waited=$((waited + 1))
    done
}

# The children of xen9pd (its workers), one pid per line.
xen9pd_workers() {
    for s in /proc/[0-9]*/status; do
        [ "$(sed -n 's/^PPid:[[:space:]]*//p' "$s" 2> /dev/null)" = "$xen9pd_pid" ] &&
            sed -n 's/^Pid:[[:space:]]*//p' "$s"
    done
}

no_workers() { [ -z "$(xen9pd_workers)" ]; }

# The serving processes: each worker keeps its device and runs the device's
# server as its child (the one that drops its privileges).
xen9pd_servers() {
    for w in $(xen9pd_workers); do
        cat "/proc/$w/task/$w/children" 2> /dev/null
    done
}

# check_worker DOMID NAME: exactly one server of xen9pd runs as range base +
# domid, with no_new_privs, a seccomp filter and no effective capabilities
# beyond what its security model keeps.
check_worker() {
    want_uid=$((131072 + $1))
    worker_domid=$1
    who=$2
    found=""
    for pid in $(xen9pd_servers); do
        uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status")
        [ "$uid" = "$want_uid" ] && found="$found $pid"
    done
    set -- $found
    [ $# -eq 1 ] || fail "expected one xen9pd server with uid $want_uid, found: $found (servers: $(xen9pd_servers))"
    st=/proc/$1/status
    echo "dom0: worker $1 status: $(grep -E '^(Uid|Gid|NoNewPrivs|Seccomp|CapEff|CapPrm|CapBnd):' "$st" | tr '\t\n' '  ')"
    grep -qE "^Uid:[[:space:]]+${want_uid}[[:space:]]+${want_uid}[[:space:]]+${want_uid}[[:space:]]+$want_uid\$" "$st" ||
        fail "worker $1 uids: $(grep ^Uid: "$st")"
    grep -qE '^NoNewPrivs:[[:space:]]+1$' "$st" || fail "worker $1 NoNewPrivs: $(grep ^NoNewPrivs: "$st")"
    grep -qE '^Seccomp:[[:space:]]+2$' "$st" || fail "worker $1 Seccomp: $(grep ^Seccomp: "$st")"
    # passthrough keeps CHOWN, DAC_OVERRIDE, FOWNER, FSETID, SETGID, SETUID,
    # MKNOD permitted; the kernel takes the file-system ones out of the
    # effective set while the fsuid (the guest's uid of the last request) is
    # not 0, so only "a subset" holds for CapEff.
    want_prm=0000000000000000
    [ "$SECURITY_MODEL" = passthrough ] && want_prm=00000000080000db
    grep -qE "^CapPrm:[[:space:]]+$want_prm\$" "$st" || fail "worker $1 CapPrm: $(grep ^CapPrm: "$st")"
    eff=$(sed -n 's/^CapEff:[[:space:]]*//p' "$st")
    [ $((0x$eff & ~0x$want_prm)) -eq 0 ] || fail "worker $1 CapEff: $eff"
    # A non-dumpable process's /proc files belong to root whatever its uid.
    [ "$(stat -c %u "/proc/$1/mem")" = 0 ] || fail "worker $1 is dumpable: $(ls -l "/proc/$1/mem")"
    echo "XEN9P-DOM0-CHECK worker-sandboxed-$who PASS"
    # Nothing it holds reaches another guest: the grant mapping handle is
    # closed (the rings stay mapped) and its event channels are restricted.
    for fd in "/proc/$1/fd/"*; do
        [ "$(readlink "$fd")" != /dev/xen/gntdev ] || fail "worker $1 holds /dev/xen/gntdev as fd ${fd##*/}"
    done
    grep -qE "component=worker .*msg=\"event channels restricted to the guest[^\"]*\" domid=$worker_domid( |\$)" "$XEN9PD_LOG" ||
        fail "worker $1 logged no event channels restricted to domid $worker_domid: $(grep 'component=worker' "$XEN9PD_LOG" | tail -n 3)"
    echo "dom0: worker $1 fds: $(for fd in "/proc/$1/fd/"*; do readlink "$fd"; done | sort | uniq -c | tr -s ' \n' '  ')"
    echo "XEN9P-DOM0-CHECK worker-reaches-only-its-guest-$who PASS"
}

# await_mounted NAME SECONDS: the guest mounted its share (it then runs its
# suite and waits for release_guest before it unmounts).
await_mounted() {
    log=$(guest_log "$1")
    be=/local/domain/0/backend/9pfs/$(domid_of "$1")/0
    waited=0
    until grep -qE "E2E-DOMU-(MOUNTED|DONE)" "$log" 2> /dev/null; do
        # A backend that closed the device before the guest mounted never will.
        [ "$(xenstore-read "$be/state" 2> /dev/null)" = 6 ] && fail "$1: the backend closed its device (state 6) before the guest mounted"
        wait_for "$log" "E2E-DOMU-(MOUNTED|DONE)" 10 && break
        waited=$((waited + 10))
        [ "$waited" -ge "$2" ] && fail "$1 did not mount within $2 s"
    done
    grep -q "E2E-DOMU-MOUNTED" "$log" || fail "$1: $(grep E2E-DOMU-DONE "$log")"
}

# release_guest SHARE NAME: lets the guest go on from its SUITE-DONE point.
release_guest() { : > "$1/e2e-release-$2"; }

# await_done NAME SHARE SECONDS [nosuite]: the guest's verdict, its checks,
# and its bytes as dom0 sees them.
await_done() {
    log=$(guest_log "$1")
    wait_for "$log" "E2E-DOMU-DONE" "$3" || fail "$1 gave no verdict within $3 s"
    grep -q "E2E-DOMU-DONE.* ok" "$log" || fail "$1: $(grep E2E-DOMU-DONE "$log")"
    grep -q "XEN9P-CHECK .* FAIL" "$log" && fail "$1 failed checks: $(grep 'XEN9P-CHECK .* FAIL' "$log" | tr '\r\n' '  ')"
    if [ "${4:-}" != nosuite ]; then
        summary=$(grep -E "XEN9P-SUMMARY.* passed=[1-9][0-9]* failed=0([^0-9]|$)" "$log")
        [ -n "$summary" ] || fail "$1: no passing summary"
    fi
    [ "$(grep -c 'XEN9P-CHECK .* PASS' "$log")" -ge 4 ] || fail "$1: too few checks ran"
    grep -q "E2E-DOMU-UNMOUNTED" "$log" || fail "$1 did not unmount"
    # The bytes the guest wrote, read from dom0's side of the share.
    sums="$2/e2e-sums-$1"
    [ -f "$sums" ] || fail "$1 wrote no checksums"
    (cd "$2/e2e-integrity-$1" && sha256sum -c "$sums") > /tmp/sums.out 2>&1 ||
        fail "$1: dom0 sees other bytes: $(cat /tmp/sums.out)"
    echo "XEN9P-DOM0-CHECK integrity-from-dom0-$1 PASS"
}

# await_gone NAME SECONDS: the domain is no longer listed.
await_gone() { within "$2" not domain_exists "$1" || fail "$1 still exists after $2 s"; }

domain_exists() { xl domid "$1" > /dev/null 2>&1; }

# The shares live on an ext2 file system (user xattrs, unlike tmpfs on 6.1;
# 256-byte inodes for nanosecond times)
# in a loop-mounted sparse file.
make_share_fs() {
    dd if=/dev/zero of=/tmp/shares.img bs=1M count=0 seek=256 2> /dev/null
    mke2fs -F -q -b 4096 -I 256 /tmp/shares.img > /tmp/mke2fs.log 2>&1 || fail "mke2fs: $(tail -n 2 /tmp/mke2fs.log)"
    mount -t ext4 -o loop /tmp/shares.img /srv || fail "mount shares file system"
}

# One domU, one share: mount, suite, integrity, unmount, power off.
scenario_basic() {
    make_share_fs
    seed_share /srv/share1 domu1
    [ "$BACKEND" = xen9pd ] && start_xen9pd
    stage backend-started
    create_domu domu1 share1
    domid=$(domid_of domu1)
    stage domu-created
    add_9pfs "$domid" share1 /srv/share1
    [ "$BACKEND" = qemu ] && start_qemu_backend "$domid"
    await_mounted domu1 600
    stage domu-mounted
    [ "$BACKEND" = xen9pd ] && check_worker "$domid" domu1
    release_guest /srv/share1 domu1
    await_done domu1 /srv/share1 2100
    stage domu-verdict
    await_gone domu1 120
    stage domu-gone
    pass
}

# The real-Xen bench (bench/xen): one PV guest, two shares on the same file
# system, both under SECURITY_MODEL. devid 0 (tag qemu) is served by QEMU's Xen
# 9pfs backend under backend/9pfs, written as libxl writes p9=[...]; devid 1
# (tag xen9pd) by xen9pd under backend/xen_9pfs (`xen9pd attach --kind
# xen_9pfs`, xen9pd running with kinds = xen_9pfs). Each backend watches only
# its own kind, so neither claims the other's device. The guest runs
# guest-bench.sh on both; a workload QEMU did not finish is the peer's
# result, one xen9pd did not is a failure.
scenario_bench() {
    make_share_fs
    mkdir -p /srv/qemu /srv/xen9pd
    start_xen9pd
    stage backend-started
    create_domu domu1 qemu e2e_suite=bench "e2e_bench_seconds=$BENCH_SECONDS" "e2e_bench_files=$BENCH_FILES"
    domid=$(domid_of domu1)
    stage domu-created
    chown -R "$((131072 + domid)):131072" /srv/qemu /srv/xen9pd || fail "chown the shares"
    write_qemu_9pfs "$domid" 0 qemu /srv/qemu
    start_qemu_backend "$domid"
    xen9pd attach "$domid" --devid 1 --kind xen_9pfs --tag xen9pd --path /srv/xen9pd \
        --security-model "$SECURITY_MODEL" > /tmp/attach.out 2>&1 || fail "xen9pd attach: $(cat /tmp/attach.out)"
    echo "dom0: $(cat /tmp/attach.out)"
    log=$(guest_log domu1)
    bench_cpu_watch "$log"
    wait_for "$log" "E2E-DOMU-(MOUNTED .*tag=xen9pd|DONE)" 600 || fail "domu1 did not mount both shares within 600 s"
    grep -q "E2E-DOMU-MOUNTED .*tag=xen9pd" "$log" || fail "domu1: $(grep E2E-DOMU-DONE "$log")"
    stage domu-mounted
    check_worker "$domid" domu1
    echo "dom0: QEMU $(/usr/libexec/xen-qemu-system-i386 --version | head -n 1)"
    wait_for "$log" "E2E-DOMU-DONE" 3000 || fail "domu1 gave no verdict within 3000 s"
    stage domu-verdict
    grep -q "E2E-DOMU-DONE.* ok" "$log" || fail "domu1: $(grep E2E-DOMU-DONE "$log")"
    grep -q "E2E-BENCH-END" "$log" || fail "domu1: the bench did not finish"
    grep -q "XEN9P-CHECK .* FAIL" "$log" &&
        fail "xen9pd workloads failed: $(grep 'XEN9P-CHECK .* FAIL' "$log" | tr '\r\n' '  ')"
    await_gone domu1 120
    stage domu-gone
    pass
}

# bench_cpu_sample: dom0's uptime, its vCPU's jiffies (all, idle), and those
# of QEMU's process and of xen9pd's (supervisor, workers, servers).
bench_cpu_sample() {
    echo "$(cut -d' ' -f1 /proc/uptime) $(awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat)" \
        "$(cat /proc/[0-9]*/stat 2> /dev/null |
            awk '$2 ~ /^\(xen-qemu/ { q += $14 + $15 } $2 == "(xen9pd)" { x += $14 + $15 } END { print q + 0, x + 0 }')"
}

# bench_cpu_watch LOG: for each measurement the guest announces in LOG, from
# its E2E-BENCH-BEGIN line to its result line, how busy dom0's vCPU was and
# how much of it went to each backend (E2E-BENCH-DOM0 lines: where a ratio
# comes from). The lines reach dom0 within a second of being printed.
bench_cpu_watch() {
    tail -n +1 -f "$1" | while IFS= read -r line; do
        case "$line" in
            *E2E-BENCH-BEGIN*) start=$(bench_cpu_sample) ;;
            *"E2E-BENCH workload="*)
                [ -n "${start:-}" ] || continue
                w=$(echo "$line" | sed -n 's/.*workload=\([^ ]*\) .*/\1/p')
                b=$(echo "$line" | sed -n 's/.* backend=\([^ ]*\) .*/\1/p')
                # A process that exited meanwhile (a server at the guest's
                # unmount) takes its jiffies with it: no figure then.
                echo "$start $(bench_cpu_sample)" | awk -v w="$w" -v b="$b" '
                    function share(d) { return d < 0 ? "-" : sprintf("%.0f", 100 * d / t) }
                    {
                        t = $7 - $2; if (t <= 0) t = 1
                        printf "E2E-BENCH-DOM0 workload=%s backend=%s seconds=%.1f dom0_busy=%.0f qemu_cpu=%s xen9pd_cpu=%s\n",
                            w, b, $6 - $1, 100 * (t - ($8 - $3)) / t, share($9 - $4), share($10 - $5)
                    }'
                start=""
                ;;
        esac
    done &
}

# worker_of DOMID: the pid of xen9pd's server running as that guest's uid.
worker_of() {
    for pid in $(xen9pd_servers); do
        [ "$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status")" = $((131072 + $1)) ] &&
            echo "$pid"
    done
}

# replaced_server DOMID OLD: a server other than OLD serves DOMID, under the
# same worker.
replaced_server() {
    s=$(worker_of "$1")
    [ -n "$s" ] && [ "$s" != "$2" ] &&
        [ "$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$s/status")" = "$keeper" ]
}

# kill_idle_server DOMID: SIGKILL to the guest's server while it sleeps
# waiting for the guest (between the requests of the guest's polling), then
# the worker must have replaced it and carried the session over.
kill_idle_server() {
    old=$(worker_of "$1")
    [ -n "$old" ] || fail "no server for domid $1"
    keeper=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$old/status")
    tries=0
    until [ "$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$old/status")" = S ] ||
        [ "$tries" -ge 1000 ]; do
        tries=$((tries + 1))
    done
    kill -9 "$old"
    within 60 replaced_server "$1" "$old" ||
        fail "server $old of domid $1 not replaced: $(grep "device=9pfs/$1/" "$XEN9PD_LOG" | tail -n 3)"
    within 30 grep -qE "9pfs/$1/0.* msg=\"server replaced; session carried over\"" "$XEN9PD_LOG" ||
        fail "domid $1's session not carried over: $(grep "device=9pfs/$1/" "$XEN9PD_LOG" | tail -n 3)"
    echo "dom0: server $old of domid $1 killed, $(worker_of "$1") serves on under worker $keeper"
    echo "XEN9P-DOM0-CHECK server-replaced-session-carried-over PASS"
}

# kill_busy_servers DOMID COUNT NAME: while guest NAME's integrity checks
# write and read its share, SIGKILL its server COUNT times at random moments
# (0.1 to 0.8 s apart); each must be replaced with the session carried over,
# and the guest's checks must pass on the same mount (await_done).
kill_busy_servers() {
    carried=$(grep -cE "9pfs/$1/0.* msg=\"server replaced; session carried over\"" "$XEN9PD_LOG")
    k=0
    while [ "$k" -lt "$2" ]; do
        pause=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
        sleep "$(awk -v p="$pause" 'BEGIN { printf "%.2f", 0.1 + (p % 700) / 1000 }')"
        old=$(worker_of "$1")
        [ -n "$old" ] || fail "no server for domid $1 to kill"
        keeper=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$old/status")
        kill -9 "$old"
        k=$((k + 1))
        carried=$((carried + 1))
        tries=0
        until replaced_server "$1" "$old" &&
            [ "$(grep -cE "9pfs/$1/0.* msg=\"server replaced; session carried over\"" "$XEN9PD_LOG")" -ge "$carried" ]; do
            [ "$tries" -ge 600 ] &&
                fail "server $old of domid $1 not replaced with its session: $(grep "device=9pfs/$1/" "$XEN9PD_LOG" | tail -n 3)"
            sleep 0.1
            tries=$((tries + 1))
        done
        echo "dom0: busy server $old of domid $1 killed ($k of $2)"
    done
    grep -q "E2E-DOMU-UNMOUNTED" "$(guest_log "$3")" &&
        fail "$3 was done before the last kill: the kills were not under load"
    echo "XEN9P-DOM0-CHECK busy-server-killed-${2}-times-session-carried-over PASS"
}

# upgrade_daemon DOMID COMMAND...: COMMAND (`xen9pd upgrade`, or the unit's
# ExecReload) has the daemon execute its binary again: the same process
# ($xen9pd_pid) takes DOMID's device and its running worker over.
upgrade_daemon() {
    domid=$1
    shift
    server=$(worker_of "$domid")
    [ -n "$server" ] || fail "no server for domid $domid before the upgrade"
    keeper=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$server/status")
    answer=$("$@" 2>&1) || fail "$* failed: $answer"
    echo "dom0: $*: $answer"
    case $answer in
        "upgraded: pid $xen9pd_pid took over "*) ;;
        *) fail "$* answered: $answer" ;;
    esac
    [ "$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$keeper/status" 2> /dev/null)" = "$xen9pd_pid" ] ||
        fail "the worker $keeper of domid $domid is no longer the daemon's after the upgrade"
    grep -qE "9pfs/$domid/0 msg=\"device taken over\" state=4 worker_pid=$keeper" "$XEN9PD_LOG" ||
        fail "domid $domid's device was not taken over: $(tail -n 5 "$XEN9PD_LOG")"
    echo "XEN9P-DOM0-CHECK daemon-upgraded-in-place PASS"
}

# host_lock_held FILE: the host side of a guest's fcntl lock on FILE (an
# OFD lock of its worker's) is held.
host_lock_held() {
    inode=$(stat -c %i "$1") || fail "no $1"
    grep -qE "OFDLCK +ADVISORY +WRITE .*:$inode " /proc/locks ||
        fail "no lock on $1 (inode $inode) on the host: $(cat /proc/locks)"
    echo "XEN9P-DOM0-CHECK guest-lock-held-on-the-host PASS"
}

# xen9pd's lifecycle on real Xen (issue 7 item 3):
# - domu1's driver is loaded and waiting before xen9pd starts;
# - domu2 runs at the same time with its own share;
# - domu1 is destroyed with its share mounted: its worker and device go away
#   and domu2 goes on working;
# - domu2's server is killed while domu2 waits to be released, and four
#   more times while its integrity check runs: the worker replaces it each
#   time, and the checks pass on the same mount;
# - between those kills `xen9pd upgrade` re-executes the daemon: it takes
#   domu2's device and worker over, and domu2 sees nothing;
# - a process of domu2 holds an fcntl lock through all of it: its host side
#   is still held after the last kill, and another process finds it held;
# - xen9pd is restarted with no guest connected and serves domu3.
scenario_lifecycle() {
    [ "$BACKEND" = xen9pd ] || fail "the lifecycle scenario needs --backend xen9pd"
    make_share_fs
    seed_share /srv/share1 domu1
    seed_share /srv/share2 domu2
    seed_share /srv/share3 domu3
    create_domu domu1 share1 e2e_suite=none e2e_hold=1
    d1=$(domid_of domu1)
    add_9pfs "$d1" share1 /srv/share1
    wait_for "$(guest_log domu1)" "E2E-DOMU-DRIVER-LOADING" 600 || fail "domu1 never loaded its driver"
    stage driver-waiting
    start_xen9pd
    stage xen9pd-started
    await_mounted domu1 600
    stage domu1-mounted
    check_worker "$d1" domu1

    create_domu domu2 share2 e2e_hold=0 e2e_integrity_rounds=4 e2e_lock=1
    d2=$(domid_of domu2)
    add_9pfs "$d2" share2 /srv/share2
    await_mounted domu2 600
    stage domu2-mounted
    check_worker "$d2" domu2
    release_guest /srv/share1 domu1
    wait_for "$(guest_log domu1)" "E2E-DOMU-HOLDING" 600 || fail "domu1 never held its mount"
    w1=$(worker_of "$d1")
    [ -n "$w1" ] || fail "no worker for domu1 before destroy"
    xl destroy domu1 || fail "xl destroy domu1"
    stage domu1-destroyed
    # libxl walks the record `xen9pd attach` wrote under /libxl/<domid>.
    within 120 all_gone "$w1" "/local/domain/0/backend/9pfs/$d1" "/libxl/$d1" ||
        fail "after destroy: worker $w1 $( [ -d "/proc/$w1" ] && echo alive) backend nodes $(xenstore-ls -f "/local/domain/0/backend/9pfs/$d1" 2>&1 | head -n 5) libxl record $(xenstore-ls -f "/libxl/$d1" 2>&1 | head -n 5)"
    echo "XEN9P-DOM0-CHECK destroy-removes-worker-and-device PASS"
    stage domu1-cleaned-up
    check_worker "$d2" domu2
    kill_idle_server "$d2"
    stage domu2-server-replaced
    check_worker "$d2" domu2
    release_guest /srv/share2 domu2
    wait_for "$(guest_log domu2)" "E2E-DOMU-LOCK-HELD" 300 || fail "domu2 never took its lock"
    kill_busy_servers "$d2" 2 domu2
    upgrade_daemon "$d2" xen9pd upgrade --control-socket /run/xen9pd/control.sock
    grep -q "E2E-DOMU-UNMOUNTED" "$(guest_log domu2)" &&
        fail "domu2 was done before the upgrade: it was not under load"
    stage daemon-upgraded
    kill_busy_servers "$d2" 2 domu2
    host_lock_held /srv/share2/e2e-lock-domu2
    await_done domu2 /srv/share2 2100
    # The guest's kernel saw nothing wrong (a lost, duplicated or stray reply).
    grep -q "E2E-DOMU-KMSG" "$(guest_log domu2)" || fail "domu2 printed no kernel log"
    ! grep "E2E-DOMU-KMSG" "$(guest_log domu2)" | grep -iE "tag|too big|error|fail|wrong|unexpected" ||
        fail "domu2's kernel logged 9p errors"
    echo "XEN9P-DOM0-CHECK no-9p-errors-in-guest-kernel-log PASS"
    await_gone domu2 120
    stage domu2-done

    within 60 no_workers || fail "workers left with no guest: $(xen9pd_workers)"
    kill "$xen9pd_pid"
    within 60 not kill -0 "$xen9pd_pid" 2> /dev/null || fail "xen9pd did not stop on SIGTERM"
    start_xen9pd
    stage xen9pd-restarted
    create_domu domu3 share3 e2e_suite=none
    d3=$(domid_of domu3)
    add_9pfs "$d3" share3 /srv/share3
    await_mounted domu3 600
    check_worker "$d3" domu3
    release_guest /srv/share3 domu3
    await_done domu3 /srv/share3 600 nosuite
    await_gone domu3 120
    stage domu3-done
    pass
}

# dm_pid DOMID: the pid of that domain's device model (QEMU).
dm_pid() {
    for c in /proc/[0-9]*/cmdline; do
        tr '\0' ' ' < "$c" 2> /dev/null | grep -qE "qemu-system-i386 .*-xen-domid $1 " &&
            basename "$(dirname "$c")"
    done
}

# check_device_model DOMID NAME: the guest's QEMU runs as dm_restrict makes
# it: uid range base + domid, chrooted, with -xen-domid-restrict and -runas.
check_device_model() {
    dm=$(dm_pid "$1")
    [ "$(echo "$dm" | wc -w)" -eq 1 ] || fail "expected one device model for domain $1, found: '$dm'"
    want_uid=$((131072 + $1))
    args=" $(tr '\0' ' ' < "/proc/$dm/cmdline")"
    chroot_arg="-chroot /var/run/xen/qemu-root-$1"
    runas_arg="-runas $want_uid:131072"
    if [ "${XEN_VERSION:-4.17}" = 4.20 ]; then
        # Xen 4.20's libxl gives QEMU 9+ the same as -run-with.
        chroot_arg="-run-with chroot=/var/run/xen/qemu-root-$1"
        runas_arg="-run-with user=$want_uid:131072"
    fi
    for want in "-xen-domid-restrict" "$chroot_arg" "$runas_arg"; do
        case "$args" in
            *" $want "*) ;;
            *) fail "the device model of $2 lacks '$want': $args" ;;
        esac
    done
    grep -qE "^Uid:[[:space:]]+${want_uid}[[:space:]]+${want_uid}[[:space:]]+${want_uid}[[:space:]]+$want_uid\$" \
        "/proc/$dm/status" || fail "device model $dm uids: $(grep ^Uid: "/proc/$dm/status")"
    [ "$(readlink "/proc/$dm/root")" = "$(readlink -f "/var/run/xen/qemu-root-$1")" ] ||
        fail "device model $dm root: $(readlink "/proc/$dm/root")"
    echo "dom0: device model $dm of $2: Uid $want_uid, root $(readlink "/proc/$dm/root"), args:$args"
    echo "XEN9P-DOM0-CHECK device-model-restricted-$2 PASS"
}

# One HVM guest with dm_restrict=1 and no p9=: once it runs, `xen9pd attach`
# hot-adds its device (what its restricted QEMU cannot do), the stock
# 9pnet_xen mounts and passes the guest list, dom0 checks the device model and
# the worker (same uid; the worker non-dumpable, so the device model cannot
# trace it), then `xen9pd detach` removes the device while it is mounted.
scenario_hvm() {
    [ "$BACKEND" = xen9pd ] || fail "the hvm scenario needs --backend xen9pd"
    make_share_fs
    seed_share /srv/share1 hvm1
    start_xen9pd
    stage xen9pd-started
    create_hvm_domu hvm1 share1 "" e2e_detach=1
    d=$(domid_of hvm1)
    stage hvm-created
    check_device_model "$d" hvm1
    wait_for "$(guest_log hvm1)" "E2E-DOMU-MOUNTING" 900 || fail "hvm1 never got to its mount"
    stage hvm-running
    add_9pfs "$d" share1 /srv/share1
    stage attached
    await_mounted hvm1 300
    stage hvm-mounted
    check_worker "$d" hvm1
    w=$(worker_of "$d")
    dm=$(dm_pid "$d")
    [ -w /proc/sys/kernel/yama/ptrace_scope ] && echo 0 > /proc/sys/kernel/yama/ptrace_scope
    ptrace-probe "$((131072 + d))" 131072 "$w" > /tmp/probe.out 2>&1 ||
        fail "the device model's uid can reach the worker: $(cat /tmp/probe.out)"
    echo "dom0: $(cat /tmp/probe.out)"
    echo "XEN9P-DOM0-CHECK worker-untraceable-by-device-model PASS"
    echo "---- dom0: the restricted device model and xen9pd's worker for hvm1 (domid $d)"
    ps -o pid,ppid,user,group,args | awk -v dm="$dm" -v w="$w" 'NR == 1 || $1 == dm || $1 == w'
    xen9pd status --control-socket /run/xen9pd/control.sock
    echo "----"
    wait_for "$(guest_log hvm1)" "E2E-DOMU-SUITE-DONE" 2100 || fail "hvm1 did not finish its list"
    stage hvm-suite-done
    be=/local/domain/0/backend/9pfs/$d/0
    t=$(date +%s)
    timeout 60 xen9pd detach hvm1 --tag share1 > /tmp/detach.out 2>&1 ||
        fail "xen9pd detach: $(cat /tmp/detach.out)"
    echo "dom0: $(cat /tmp/detach.out) ($(($(date +%s) - t)) s)"
    within 30 all_gone "$w" "$be" "/local/domain/$d/device/9pfs/0" ||
        fail "after detach: worker $w $([ -d "/proc/$w" ] && echo alive), nodes: $(xenstore-ls -f "$be" 2>&1 | head -n 5)"
    echo "XEN9P-DOM0-CHECK detach-removes-worker-and-device PASS"
    stage detached
    await_done hvm1 /srv/share1 600
    await_gone hvm1 120
    stage hvm-gone
    pass
}

# The negative control, the problem xen9pd solves: an HVM guest with
# dm_restrict=1 and p9=[...], no xen9pd. Its restricted QEMU claims the device
# and leaves it in InitWait; the guest's mount must not complete.
scenario_hvm_negative() {
    [ "$BACKEND" = qemu ] || fail "the negative control runs with --backend qemu (the guest's own QEMU)"
    make_share_fs
    seed_share /srv/share1 hvm1
    create_hvm_domu hvm1 share1 "p9 = [ \"tag=share1,security_model=none,path=/srv/share1\" ]" \
        e2e_driver_wait=0
    d=$(domid_of hvm1)
    stage hvm-created
    check_device_model "$d" hvm1
    log=$(guest_log hvm1)
    wait_for "$log" "E2E-DOMU-MOUNTING" 900 || fail "hvm1 never got to its mount"
    stage hvm-mounting
    wait_for "$log" "E2E-DOMU-(MOUNTED|DONE)" 60 &&
        fail "hvm1's mount completed: the restricted QEMU served its device ($(grep -E 'E2E-DOMU-(MOUNTED|DONE)' "$log"))"
    be=/local/domain/0/backend/9pfs/$d/0
    be_state=$(xenstore-read "$be/state" 2>&1)
    fe_state=$(xenstore-read "/local/domain/$d/device/9pfs/0/state" 2>&1)
    echo "dom0: after 60 s no mount; backend state $be_state, frontend state $fe_state;" \
        "guest: $(grep E2E-DOMU-MOUNT-BLOCKED "$log" | tail -n 1 | tr -d '\r')"
    [ "$be_state" = 2 ] || fail "the backend is not stuck in InitWait (state $be_state)"
    [ "$fe_state" = 3 ] || fail "the guest's driver did not get to Initialised (state $fe_state)"
    grep -q E2E-DOMU-MOUNT-BLOCKED "$log" || fail "hvm1's mount did not block (it kept failing instead)"
    echo "XEN9P-DOM0-CHECK restricted-qemu-leaves-mount-hanging PASS"
    stage hvm-mount-blocked
    xl destroy hvm1 || fail "xl destroy hvm1"
    await_gone hvm1 120
    echo "XEN9P-DOM0-CHECK hanging-guest-destroyed PASS"
    stage hvm-gone
    pass
}
