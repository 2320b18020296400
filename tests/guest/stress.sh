#!/bin/sh
# Load suites run by a guest on a mounted 9P share: stress-ng filesystem
# stressors with --verify, fio write+verify and read, dbench.
# Usage: [P9_VERSION=9p2000.u] stress.sh MOUNTPOINT quick|full
# Prints "XEN9P-CHECK <name> PASS|FAIL <detail>" per run, "XEN9P-FIO <job>
# write_kib_s=N read_kib_s=M" for the fio throughput, and a final
# "XEN9P-SUMMARY suite=stress passed=N failed=M".
# Shared by the QEMU real-client harness and the Xen end-to-end harness.

MNT=${1:?usage: stress.sh MOUNTPOINT quick|full}
MODE=${2:-quick}
W=$MNT/stress.$$
PASSED=0
FAILED=0

pass() { PASSED=$((PASSED + 1)); echo "XEN9P-CHECK $1 PASS $2"; }
fail() { FAILED=$((FAILED + 1)); echo "XEN9P-CHECK $1 FAIL $2"; }

# Every filesystem stressor of stress-ng 0.15 that works on a path.
ALL_STRESSORS="access chdir chmod chown copy-file dentry dir dirdeep dirmany dup
fallocate fcntl flock fpunch fsize fstat getdent hdd io iomix link locka lockf
lockofd mknod open readahead rename seek symlink sync-file touch utime xattr"
# link and symlink make thousands of names per operation: full mode only.
QUICK_STRESSORS="dir rename hdd fcntl lockofd xattr utime getdent"

# 9P2000.u (P9_VERSION=9p2000.u) has no xattr and no lock messages: the xattr
# stressor cannot run and the lock stressors would only exercise the client's
# own local locks. stress-ng's rename moves files between two directories,
# which .u cannot (Twstat renames within one; the Linux client says EXDEV).
# They are left out rather than counted.
if [ "${P9_VERSION:-}" = 9p2000.u ]; then
    for s in xattr fcntl flock locka lockf lockofd rename; do
        ALL_STRESSORS=$(echo $ALL_STRESSORS | tr ' ' '\n' | grep -vx "$s" | tr '\n' ' ')
        QUICK_STRESSORS=$(echo $QUICK_STRESSORS | tr ' ' '\n' | grep -vx "$s" | tr '\n' ' ')
    done
fi

if [ "$MODE" = full ]; then
    STRESSORS=$ALL_STRESSORS
    STRESS_SECONDS=10
    FIO_JOBS="4k:64m 64k:256m 1m:256m"
    LIMIT=900
    DBENCH_SECONDS=20
else
    STRESSORS=$QUICK_STRESSORS
    STRESS_SECONDS=3
    FIO_JOBS="4k:4m 64k:16m 1m:32m"
    LIMIT=120
    DBENCH_SECONDS=5
fi

# Caps one run so that a hung request fails its check instead of the guest.
limit() { timeout "$LIMIT" "$@"; }

mkdir -p "$W" || { fail setup "cannot mkdir $W"; echo "XEN9P-SUMMARY suite=stress passed=0 failed=1"; exit 1; }

for s in $STRESSORS; do
    d=$W/sng-$s
    mkdir -p "$d"
    # fstat walks a directory of its own choosing unless told.
    extra=""
    [ "$s" = fstat ] && extra="--fstat-dir $d"
    [ "$s" = hdd ] && extra="--hdd-bytes 16m"
    [ "$s" = fallocate ] && extra="--fallocate-bytes 16m"
    # One xattr bogo op sets, replaces, reads and removes as many user.* names as
    # the host fs holds (about 100 on ext4): some 10 s of 9P round trips under TCG.
    secs=$STRESS_SECONDS
    [ "$s" = xattr ] && [ "$secs" -lt 30 ] && secs=30
    # shellcheck disable=SC2086
    out=$(cd "$d" && limit stress-ng --temp-path "$d" --"$s" 2 $extra --timeout "${secs}s" \
        --verify --metrics-brief 2>&1)
    rc=$?
    ops=$(echo "$out" | awk -v s="$s" '$0 ~ "] " s " " {for (i = 1; i <= NF; i++) if ($i == s) {print $(i + 1); exit}}')
    skipped=$(echo "$out" | grep -iE 'skipp|not supported|not implemented' | head -1)
    if [ $rc -eq 0 ] && [ -n "$skipped" ]; then
        fail "stress-ng-$s" "skipped: $(echo "$skipped" | cut -c1-200)"
    elif [ $rc -eq 0 ] && [ "${ops:-0}" = 0 ]; then
        # A stressor that completed nothing would pass with the feature deleted.
        fail "stress-ng-$s" "no operations completed: $(echo "$out" | grep -F "] $s " | tail -1 | cut -c1-200)"
    elif [ $rc -eq 0 ]; then
        pass "stress-ng-$s" "ops=$ops"
    else
        fail "stress-ng-$s" "rc=$rc $(echo "$out" | grep -iE 'fail|error|verif' | head -3 | tr '\n' ' ' | cut -c1-300)"
    fi
    rm -rf "$d"
done

# fio: sequential write with crc32c verification, then a separate read pass.
F=$W/fio
mkdir -p "$F"
for job in $FIO_JOBS; do
    bs=${job%%:*}
    FIO_SIZE=${job#*:}
    out=$(limit fio --name=wv-$bs --directory="$F" --rw=write --bs=$bs --size=$FIO_SIZE \
        --ioengine=psync --verify=crc32c --do_verify=1 --verify_fatal=1 --minimal 2>&1)
    rc=$?
    wbw=$(echo "$out" | tail -1 | cut -d';' -f48)
    if [ $rc -eq 0 ]; then pass "fio-write-verify-$bs" "write_kib_s=$wbw"; else fail "fio-write-verify-$bs" "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ' | cut -c1-300)"; fi
    out=$(limit fio --name=wv-$bs --directory="$F" --rw=read --bs=$bs --size=$FIO_SIZE --ioengine=psync \
        --minimal 2>&1)
    rc=$?
    rbw=$(echo "$out" | tail -1 | cut -d';' -f7)
    if [ $rc -eq 0 ]; then pass "fio-read-$bs" "read_kib_s=$rbw"; else fail "fio-read-$bs" "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ' | cut -c1-300)"; fi
    echo "XEN9P-FIO bs=$bs size=$FIO_SIZE write_kib_s=$wbw read_kib_s=$rbw"
    rm -f "$F"/*
done
out=$(limit fio --name=randrw --directory="$F" --rw=randrw --bs=16k --size=4m --ioengine=psync \
    --numjobs=2 --verify=crc32c --do_verify=1 --verify_fatal=1 --minimal 2>&1)
rc=$?
if [ $rc -eq 0 ]; then pass fio-randrw-verify-2jobs ""; else fail fio-randrw-verify-2jobs "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ' | cut -c1-300)"; fi

# dbench: a few seconds of its NetBench-like load with two clients.
D=$W/dbench
mkdir -p "$D"
out=$(limit dbench -c "${DBENCH_LOADFILE:-/usr/share/dbench/client.txt}" -D "$D" -t "$DBENCH_SECONDS" 2 2>&1)
rc=$?
tput=$(echo "$out" | grep Throughput | tail -1)
if [ $rc -eq 0 ] && [ -n "$tput" ]; then pass dbench "$tput"; else fail dbench "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ' | cut -c1-300)"; fi

rm -rf "$W" || fail cleanup "rm -rf $W"
echo "XEN9P-SUMMARY suite=stress passed=$PASSED failed=$FAILED"
[ "$FAILED" -eq 0 ]
