# Xen 4.20 (Debian 13) scenarios of dom0's init (sourced after dom0-lib.sh).
# xen9pd was installed from its package: /usr/lib/xen-4.20/bin/xen-9pfsd is
# the diversion's link to /usr/sbin/xen9pd, the stock daemon is
# xen-9pfsd.distrib, and the guests' xl.cfg name their shares with
# p9 = [ "...,type=xen_9pfsd,..." ] as an admin writes them: libxl 4.20 spawns
# the daemon at that path unless libxl/xen-9pfs/state exists.

XBIN=/usr/lib/xen-4.20/bin
KEYS=/local/domain/0/libxl/xen-9pfs
UNIT=/usr/lib/systemd/system/xen9pd.service

# create_p9_domu NAME TAG SHARE [KEY=VALUE...]: a PV domU whose xl.cfg has a
# type=xen_9pfsd share, created paused so that the share can be given to the
# worker's uid (range base + domid) before the guest runs.
create_p9_domu() {
    p9_name=$1
    p9_tag=$2
    p9_share=$3
    shift 3
    cat > "/etc/xen/$p9_name.cfg" << EOF
name = "$p9_name"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/domu.cpio.gz"
extra = "console=hvc0 $(domu_cmdline "$p9_name" "$p9_tag" "$@")"
memory = 192
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
p9 = [ "tag=$p9_tag,path=$p9_share,type=xen_9pfsd,security_model=none" ]
EOF
    xl create -p "/etc/xen/$p9_name.cfg" > "/var/log/xen/xl-create-$p9_name.log" 2>&1 ||
        fail "xl create $p9_name: $(tail -n 5 "/var/log/xen/xl-create-$p9_name.log")"
    chown -R "$((131072 + $(domid_of "$p9_name"))):131072" "$p9_share" || fail "chown $p9_share"
    xl unpause "$p9_name" || fail "xl unpause $p9_name"
    log=$(guest_log "$p9_name")
    within 60 test -f "$log" || fail "$p9_name has no console log $log"
    cr=$(printf '\r')
    tail -f "$log" | sed "s/$cr\$//; s/^/[$p9_name] /" &
}

# is_xen9pd PID: a live process running /usr/sbin/xen9pd.
is_xen9pd() { [ "$(readlink "/proc/$1/exe" 2> /dev/null)" = /usr/sbin/xen9pd ]; }

any_xen9pd() {
    for p in /proc/[0-9]*; do is_xen9pd "${p#/proc/}" && return 0; done
    return 1
}

keys_state_running() { [ "$(xenstore-read "$KEYS/state" 2> /dev/null)" = running ]; }

# The pid in libxl's key names a live xen9pd and the state is "running".
keys_name_live_xen9pd() {
    keys_state_running && is_xen9pd "$(xenstore-read "$KEYS/pid" 2> /dev/null)"
}

# The names of the guest's failed checks that are not failures by design
# under security_model=none (expected-fail-none.txt).
unexpected_failures() {
    grep -o 'XEN9P-CHECK [^ ]* FAIL' "$1" | awk '{ print $2 }' |
        grep -vxF -f /e2e/expected-fail-none.txt | sort -u | tr '\n' ' '
}

# await_done_none NAME SHARE SECONDS SUITES: as await_done, for a share under
# security_model=none: each suite of SUITES (posix, posix-u) printed its
# summary and no check failed but those failing there by design.
await_done_none() {
    log=$(guest_log "$1")
    wait_for "$log" "E2E-DOMU-DONE" "$3" || fail "$1 gave no verdict within $3 s"
    grep -q "E2E-DOMU-DONE.* ok" "$log" || fail "$1: $(grep E2E-DOMU-DONE "$log")"
    for suite in $4; do
        summary=$(grep -E "XEN9P-SUMMARY suite=$suite passed=[1-9]" "$log" | tr -d '\r')
        [ -n "$summary" ] || fail "$1: no summary of the $suite list ($(grep -E 'XEN9P-CHECK mount-9p2000.u|XEN9P-SUMMARY' "$log" | tr '\r\n' '  '))"
        echo "dom0: $1: $summary"
    done
    bad=$(unexpected_failures "$log")
    [ -z "$bad" ] || fail "$1 failed checks: $bad"
    echo "XEN9P-DOM0-CHECK no-failures-but-by-design-$1 PASS"
    grep -q "E2E-DOMU-UNMOUNTED" "$log" || fail "$1 did not unmount"
    sums="$2/e2e-sums-$1"
    [ -f "$sums" ] || fail "$1 wrote no checksums"
    (cd "$2/e2e-integrity-$1" && sha256sum -c "$sums") > /tmp/sums.out 2>&1 ||
        fail "$1: dom0 sees other bytes: $(cat /tmp/sums.out)"
    echo "XEN9P-DOM0-CHECK integrity-from-dom0-$1 PASS"
}

# (d) The stock xen-9pfsd as the reference xen9pd replaces, started the way
# libxl starts it (setsid, no arguments; libxl then records its pid): a Linux
# guest mounting with version=9p2000.u makes it crash on the first stat of
# the share root and the mount never completes. That is asserted, so the day
# Debian fixes it this run says so. The hung guest is destroyed and the keys
# the crashed daemon left are removed, as an admin would.
stock_reference() {
    seed_share /srv/share0 domu0
    setsid "$XBIN/xen-9pfsd.distrib" < /dev/null > /var/log/xen/xen-9pfsd.log 2>&1 &
    stock=$!
    within 60 keys_state_running ||
        fail "the stock xen-9pfsd never wrote $KEYS/state=running"
    xenstore-write "$KEYS/pid" "$stock"
    stage stock-started
    create_p9_domu domu0 share0 /srv/share0 e2e_version=9p2000.u e2e_driver_wait=0 e2e_suite=none
    d0=$(domid_of domu0)
    log=$(guest_log domu0)
    wait_for "$log" "E2E-DOMU-MOUNTING" 600 || fail "domu0 never got to its mount"
    stage stock-mounting
    if wait_for "$log" "E2E-DOMU-(MOUNTED|DONE)" 60; then
        fail "stock xen-9pfsd no longer crashes: update the reference (domu0: $(grep -E 'E2E-DOMU-(MOUNTED|DONE)' "$log" | tr -d '\r'))"
    fi
    kill -0 "$stock" 2> /dev/null &&
        fail "stock xen-9pfsd no longer crashes: update the reference (alive after 60 s; domu0's mount did not complete)"
    wait "$stock"
    rc=$?
    echo "dom0: stock xen-9pfsd exited with status $rc; kernel: $(dmesg | grep -i 'xen-9pfsd' | tail -n 1)"
    [ "$rc" -gt 128 ] || fail "stock xen-9pfsd exited with status $rc instead of crashing"
    grep -q E2E-DOMU-MOUNT-BLOCKED "$log" || fail "domu0's mount did not block (it kept failing instead)"
    echo "dom0: domu0: $(grep E2E-DOMU-MOUNT-BLOCKED "$log" | tail -n 1 | tr -d '\r')"
    echo "XEN9P-DOM0-CHECK stock-xen-9pfsd-crashes-mount-hangs PASS"
    stage stock-crashed
    xl destroy domu0 || fail "xl destroy domu0"
    await_gone domu0 120
    # What a crashed xen-9pfsd leaves: libxl would spawn nothing next time.
    keys_state_running ||
        fail "the crashed stock daemon's state key is gone (libxl's recovery changed?)"
    xenstore-rm "$KEYS" || fail "xenstore-rm $KEYS"
    within 30 not xenstore-exists "/local/domain/0/backend/xen_9pfs/$d0" ||
        fail "domu0's backend nodes stayed after xl destroy"
    echo "XEN9P-DOM0-CHECK hung-guest-destroyed-keys-cleaned PASS"
    stage stock-cleaned
}

# (a) libxl spawns xen9pd through the diversion for a guest with a
# type=xen_9pfsd share: no xen9pd ran before. The guest runs the full list
# under version=9p2000.L, then the .u list under version=9p2000.u.
libxl_spawns_xen9pd() {
    any_xen9pd && fail "a xen9pd runs before libxl spawned one"
    xenstore-exists "$KEYS" && fail "$KEYS exists before libxl spawned xen9pd"
    seed_share /srv/share1 domu1
    create_p9_domu domu1 share1 /srv/share1 e2e_then_u=1
    d1=$(domid_of domu1)
    XEN9PD_LOG=/var/log/xen/xl-create-domu1.log
    keys_name_live_xen9pd ||
        fail "libxl did not start xen9pd: state $(xenstore-read "$KEYS/state" 2>&1), pid $(xenstore-read "$KEYS/pid" 2>&1): $(tail -n 5 "$XEN9PD_LOG")"
    xen9pd_pid=$(xenstore-read "$KEYS/pid")
    echo "dom0: libxl spawned $(tr '\0' ' ' < "/proc/$xen9pd_pid/cmdline")(pid $xen9pd_pid, $(readlink "/proc/$xen9pd_pid/exe"), PPid $(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$xen9pd_pid/status")) through $(readlink $XBIN/xen-9pfsd)"
    echo "XEN9P-DOM0-CHECK libxl-spawned-xen9pd-through-diversion PASS"
    stage libxl-spawned
    await_mounted domu1 600
    stage domu1-mounted
    check_worker "$d1" domu1
    release_guest /srv/share1 domu1
    await_done_none domu1 /srv/share1 2100 "posix posix-u"
    await_gone domu1 120
    stage domu1-done
    within 60 no_workers || fail "workers left with no guest: $(xen9pd_workers)"
    kill "$xen9pd_pid"
    within 60 all_gone "$xen9pd_pid" "$KEYS/state" || fail "xen9pd left $KEYS after SIGTERM"
    echo "XEN9P-DOM0-CHECK spawned-xen9pd-stops-and-clears-keys PASS"
}

# systemd's part for xen9pd.service, as far as these runs need it: the
# unit's ExecStart, restarted after RestartSec when it fails
# (Restart=on-failure), not after status 2 (RestartPreventExitStatus), until
# /run/xen9pd.stop exists.
service_loop() {
    exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
    restart_sec=$(sed -n 's/^RestartSec=//p' "$UNIT")
    while [ ! -e /run/xen9pd.stop ]; do
        echo "dom0: xen9pd.service: starting $exec_start"
        $exec_start >> "$XEN9PD_LOG" 2>&1
        rc=$?
        echo "dom0: xen9pd.service: exited with status $rc"
        [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ] && break
        sleep "${restart_sec:-2}"
    done
}

# (b) xen9pd started first by its unit's ExecStart, then a guest served,
# across the unit's ExecReload (`xen9pd upgrade`) and its server's death;
# (c) kill -9 between two guests: the stale keys stay, the restart takes
# them over, the next xl create gets its share.
service_start_and_kill9() {
    XEN9PD_LOG=/var/log/xen/xen9pd.log
    [ -f "$UNIT" ] || fail "the package installed no $UNIT"
    service_loop &
    within 60 keys_name_live_xen9pd || fail "xen9pd.service never came up: $(tail -n 5 "$XEN9PD_LOG")"
    xen9pd_pid=$(xenstore-read "$KEYS/pid")
    stage service-started
    seed_share /srv/share2 domu2
    # The lists ran on domu1; under emulation a Linux 6.12 guest needs
    # minutes for the short one.
    create_p9_domu domu2 share2 /srv/share2 e2e_suite=none
    d2=$(domid_of domu2)
    await_mounted domu2 600
    check_worker "$d2" domu2
    # The unit's reload upgrades in place while domu2 has its share
    # mounted, then domu2's server dies: the guest works on the same mount.
    exec_reload=$(sed -n 's/^ExecReload=//p' "$UNIT")
    [ -n "$exec_reload" ] || fail "the unit has no ExecReload"
    # shellcheck disable=SC2086 # the unit's command line, split as systemd does
    upgrade_daemon "$d2" $exec_reload
    stage service-reloaded
    kill_idle_server "$d2"
    check_worker "$d2" domu2
    release_guest /srv/share2 domu2
    await_done domu2 /srv/share2 1200 nosuite
    await_gone domu2 120
    stage domu2-done
    within 60 no_workers || fail "workers left with no guest: $(xen9pd_workers)"

    old=$xen9pd_pid
    kill -9 "$old"
    within 10 not kill -0 "$old" 2> /dev/null || fail "xen9pd survived kill -9"
    echo "dom0: after kill -9: state $(xenstore-read "$KEYS/state" 2>&1), pid $(xenstore-read "$KEYS/pid" 2>&1)"
    stage killed
    within 60 keys_name_live_xen9pd || fail "no xen9pd took the keys over after kill -9: state $(xenstore-read "$KEYS/state" 2>&1), pid $(xenstore-read "$KEYS/pid" 2>&1): $(tail -n 5 "$XEN9PD_LOG")"
    xen9pd_pid=$(xenstore-read "$KEYS/pid")
    [ "$xen9pd_pid" != "$old" ] || fail "the pid key still names the killed xen9pd"
    echo "dom0: xen9pd $xen9pd_pid took over the stale keys of $old"
    echo "XEN9P-DOM0-CHECK restarted-xen9pd-takes-over-stale-keys PASS"
    stage restarted
    seed_share /srv/share3 domu3
    create_p9_domu domu3 share3 /srv/share3 e2e_suite=none
    d3=$(domid_of domu3)
    await_mounted domu3 600
    check_worker "$d3" domu3
    release_guest /srv/share3 domu3
    await_done domu3 /srv/share3 600 nosuite
    await_gone domu3 120
    stage domu3-done
    : > /run/xen9pd.stop
    kill "$xen9pd_pid"
    within 60 all_gone "$xen9pd_pid" "$KEYS/state" || fail "xen9pd left $KEYS after SIGTERM"
}

# Xen 4.20, PV guests, one boot: (d), (a), (b), (c).
scenario_xen420_pv() {
    make_share_fs
    stock_reference
    libxl_spawns_xen9pd
    service_start_and_kill9
    pass
}

# Debian 13's restricted HVM device model (QEMU 10 under dm_restrict=1) does
# not start without three workarounds that have nothing to do with 9pfs; an
# admin applies them with a device_model_override wrapper and vkb_device = 0:
# 1. libxl gives the device model RLIMIT_FSIZE 256 KiB and QEMU 10 sizes its
#    display memfd to 1.2 MB: SIGXFSZ. The wrapper, still root, raises it.
# 2. libxl ends its command-line probe QEMU (-machine none,accel=xen) with a
#    QMP "quit" and binds the same QMP socket path again for the real device
#    model; the probe, exiting cleanly, unlinks that path, and libxl's
#    connect may fail with ENOENT ("Failed to connect to QMP socket"). The
#    wrapper runs the probe in a mount namespace with an empty /run/xen.
# 3. QEMU 10 exits on "Duplicate device ID 'xen-vkbd-0'" unless the guest
#    has vkb_device = 0.
# write_dm_wrapper PATH [no-fsize]: the wrapper; no-fsize leaves out the fix
# of problem 1 and runs QEMU as its child, logging how it ended.
write_dm_wrapper() {
    cat > "$1" << 'WRAPPER'
#!/bin/sh
qemu=/usr/libexec/xen-qemu-system-i386
case " $* " in
    *" none,accel=xen "*)
        # libxl's command-line probe (problem 2): in a mount namespace of
        # its own with an empty /run/xen its exit unlinks nothing; the QMP
        # socket it was given as an fd works unchanged.
        exec unshare -m --propagation private \
            sh -c 'mount -t tmpfs tmpfs /run/xen && exec "$0" "$@"' "$qemu" "$@"
        ;;
esac
WRAPPER
    if [ "${2:-}" = no-fsize ]; then
        cat >> "$1" << 'WRAPPER'
"$qemu" "$@"
echo "device model exited with status $? (ulimit -f: $(ulimit -f) blocks)" >> /var/log/xen/dm-wrapper.log
exit 1
WRAPPER
    else
        cat >> "$1" << 'WRAPPER'
# libxl's RLIMIT_FSIZE of 256 KiB kills QEMU 10 with SIGXFSZ (problem 1).
ulimit -f unlimited
exec "$qemu" "$@"
WRAPPER
    fi
    chmod 755 "$1"
}

# hvm_cfg_lines WRAPPER VKB_LINE: the xl.cfg lines of the workarounds and the share.
hvm_cfg_lines() {
    printf 'device_model_override = "%s"\n%s\np9 = [ "tag=share1,path=/srv/share1,type=xen_9pfsd,security_model=none" ]\n' \
        "$1" "$2"
}

# try_hvm_create NAME WRAPPER VKB_LINE: xl create that must fail; prints the
# end of its log and of the device model's.
try_hvm_create() {
    cat > "/etc/xen/$1.cfg" << EOF
name = "$1"
type = "hvm"
device_model_version = "qemu-xen"
dm_restrict = 1
kernel = "/boot/vmlinuz"
ramdisk = "/boot/domu.cpio.gz"
cmdline = "console=ttyS0,115200 $(domu_cmdline "$1" share1 e2e_suite=none)"
serial = "file:/var/log/xen/serial-$1.log"
vga = "none"
vnc = 0
memory = 256
vcpus = 1
$(hvm_cfg_lines "$2" "$3")
EOF
    if timeout 300 xl create "/etc/xen/$1.cfg" > "/var/log/xen/xl-create-$1.log" 2>&1; then
        return 1
    fi
    if domain_exists "$1"; then xl destroy "$1"; fi
    return 0
}

# (e) An HVM guest with dm_restrict=1 and a type=xen_9pfsd share: each
# problem reproduced without its workaround (1 and 3; 2 depends on timing and
# is only worked around), then the guest with all three: its restricted QEMU
# 10 runs as range base + domid in its chroot, xen9pd (started by its unit)
# serves the share with a worker of the same uid.
scenario_xen420_hvm() {
    make_share_fs
    seed_share /srv/share1 hvm1
    XEN9PD_LOG=/var/log/xen/xen9pd.log
    service_loop &
    within 60 keys_name_live_xen9pd || fail "xen9pd.service never came up: $(tail -n 5 "$XEN9PD_LOG")"
    xen9pd_pid=$(xenstore-read "$KEYS/pid")
    stage service-started

    write_dm_wrapper /etc/xen/dm-no-fsize no-fsize
    try_hvm_create hvm-fsize /etc/xen/dm-no-fsize "vkb_device = 0" ||
        fail "dm_restrict HVM started with libxl's RLIMIT_FSIZE (problem 1 gone: update the reference)"
    # 153: 128 + SIGXFSZ. libxl may give up on the dead QMP socket before
    # the wrapper has written its line.
    within 30 grep -q 'exited with status 153 ' /var/log/xen/dm-wrapper.log ||
        fail "the device model did not die of SIGXFSZ: $(cat /var/log/xen/dm-wrapper.log 2>&1) $(tail -n 8 /var/log/xen/xl-create-hvm-fsize.log)"
    echo "dom0: without the RLIMIT_FSIZE fix: $(cat /var/log/xen/dm-wrapper.log); xl: $(grep -i error /var/log/xen/xl-create-hvm-fsize.log | tail -n 1)"
    echo "XEN9P-DOM0-CHECK dm-restrict-hvm-dies-of-sigxfsz PASS"
    stage repro-fsize

    write_dm_wrapper /etc/xen/dm-wrapper
    try_hvm_create hvm-vkb /etc/xen/dm-wrapper "" ||
        fail "dm_restrict HVM started without vkb_device = 0 (problem 3 gone: update the reference)"
    grep -qh "Duplicate device ID 'xen-vkbd-0'" /var/log/xen/qemu-dm-hvm-vkb.log /var/log/xen/xl-create-hvm-vkb.log 2> /dev/null ||
        fail "no duplicate xen-vkbd-0: $(tail -n 3 /var/log/xen/qemu-dm-hvm-vkb.log /var/log/xen/xl-create-hvm-vkb.log 2>&1)"
    echo "dom0: without vkb_device = 0: $(grep -h 'Duplicate device' /var/log/xen/qemu-dm-hvm-vkb.log /var/log/xen/xl-create-hvm-vkb.log | head -n 1)"
    echo "XEN9P-DOM0-CHECK dm-restrict-hvm-needs-vkb-device-0 PASS"
    stage repro-vkb
    # The failed creates left no device behind for xen9pd.
    within 60 no_workers || fail "workers left after the failed creates: $(xen9pd_workers)"

    # The lists ran on the PV guests: the share's own check and the
    # integrity check here.
    create_hvm_domu hvm1 share1 "$(hvm_cfg_lines /etc/xen/dm-wrapper 'vkb_device = 0')" e2e_suite=none
    d=$(domid_of hvm1)
    # The guest writes only after dom0 releases it.
    chown -R "$((131072 + d)):131072" /srv/share1 || fail "chown /srv/share1"
    stage hvm-created
    check_device_model "$d" hvm1
    await_mounted hvm1 900
    stage hvm-mounted
    check_worker "$d" hvm1
    release_guest /srv/share1 hvm1
    await_done hvm1 /srv/share1 1200 nosuite
    await_gone hvm1 120
    stage hvm-gone
    : > /run/xen9pd.stop
    kill "$xen9pd_pid"
    within 60 all_gone "$xen9pd_pid" "$KEYS/state" || fail "xen9pd left $KEYS after SIGTERM"
    pass
}
