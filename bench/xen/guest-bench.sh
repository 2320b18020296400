#!/bin/sh
# The real-Xen bench's workloads, run in the domU on two mounts of the same
# kind of share: one served by QEMU's Xen 9pfs backend, one by xen9pd.
#   guest-bench.sh QEMU_MOUNT XEN9PD_MOUNT [SECONDS] [FILES]   (default 10, 1000)
#
# For each workload both backends run back to back, which one first
# alternating from workload to workload, so that a row's two numbers are
# seconds apart. Every number is "more is better" (MiB/s, IOPS, operations or
# entries per second); the host divides xen9pd's by QEMU's. One line per
# measurement on the console:
#   E2E-BENCH-BEGIN workload=W backend=B
#   E2E-BENCH workload=W backend=B value=V unit=U guest_busy=PERCENT
# with value=- and error=... when the workload failed or ran out of time,
# then an XEN9P-CHECK FAIL line for xen9pd (the run fails) or an
# E2E-BENCH-PEER-FAILED line for QEMU (its result); a passing check
# otherwise. guest_busy: how busy the guest's one vCPU was meanwhile.
set -u

qemu_mnt=$1
xen9pd_mnt=$2
seconds=${3:-10}
files=${4:-1000}
# A workload that takes longer than this (a backend that stopped answering)
# is killed and reported as not finished. Under emulation the longest,
# QEMU's untar, took about 200 s on an idle host (and xen9pd's 380 s on a
# busy one): far below this.
limit=1200
size=32M
tree=/bench/tree.tar
tree_entries=$(tar -tf "$tree" | wc -l)

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# The guest's CPU: all jiffies and the idle ones (idle, iowait) since boot.
cpu_sample() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# begin WORKLOAD BACKEND: a measurement starts (dom0 samples its own CPU from
# here to the result line).
begin() {
    echo "E2E-BENCH-BEGIN workload=$1 backend=$2"
    cpu_before=$(cpu_sample)
}

# result WORKLOAD BACKEND VALUE UNIT [WHY]: the measurement, with how busy
# the guest's vCPU was since begin, and its check. With WHY (VALUE -) it
# failed: QEMU's failures are the peer's result, not the run's.
result() {
    busy=$(echo "$cpu_before $(cpu_sample)" |
        awk '{ t = $3 - $1; i = $4 - $2; printf "%.0f", (t > 0 ? 100 * (t - i) / t : 0) }')
    echo "E2E-BENCH workload=$1 backend=$2 value=$3 unit=$4 guest_busy=$busy${5:+ error=$5}"
    check "$1" "$2" "${5:-ok}"
}

# check NAME BACKEND ok|WHY
check() {
    if [ "$3" = ok ]; then
        echo "XEN9P-CHECK bench-$1-$2 PASS"
    elif [ "$2" = qemu ]; then
        echo "E2E-BENCH-PEER-FAILED bench-$1 $3"
    else
        echo "XEN9P-CHECK bench-$1-$2 FAIL $3"
    fi
}

# A command's output as one word for a result line.
one_word() { tr ' \n' '__' | cut -c1-160; }

# fio_job MOUNT ARGS...: one fio run on MOUNT/bench-data; prints the terse
# line (fields: 5 error, 7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write
# IOPS).
fio_job() {
    mnt=$1
    shift
    timeout -s KILL "$limit" fio --name=bench --filename="$mnt/bench-data" --size="$size" \
        --ioengine=psync --thread --group_reporting --fallocate=none --minimal "$@" 2> /tmp/fio.err
}

# layout MOUNT BACKEND: the data file the fio workloads share, written once,
# untimed.
layout() {
    if fio_job "$1" --rw=write --bs=1M > /dev/null; then
        check layout "$2" ok
    else
        check layout "$2" "$(one_word < /tmp/fio.err)"
    fi
}

# fio_workload NAME FIELD UNIT SCALE MOUNT BACKEND ARGS...: a time-bounded fio
# run; reports field FIELD of its terse line divided by SCALE.
fio_workload() {
    name=$1 field=$2 unit=$3 scale=$4 mnt=$5 backend=$6
    shift 6
    begin "$name" "$backend"
    line=$(fio_job "$mnt" --runtime="$seconds" --time_based "$@")
    rc=$?
    err=$(echo "$line" | cut -d';' -f5)
    value=$(echo "$line" | cut -d';' -f"$field")
    if [ "$rc" -ne 0 ] || [ "$err" != 0 ] || [ -z "$value" ] || [ "$value" = 0 ]; then
        result "$name" "$backend" - "$unit" "fio-status-$rc-error-${err:-none}:$(one_word < /tmp/fio.err)"
        return
    fi
    result "$name" "$backend" "$(awk -v v="$value" -v s="$scale" 'BEGIN { printf "%.1f", v / s }')" "$unit"
}

seq_read() { fio_workload seq_read 7 MiB/s 1024 "$1" "$2" --rw=read --bs=1M; }
seq_write() { fio_workload seq_write 48 MiB/s 1024 "$1" "$2" --rw=write --bs=1M; }
rand_read_1() { fio_workload rand_read_4k_1job 8 IOPS 1 "$1" "$2" --rw=randread --bs=4k; }
rand_read_16() {
    fio_workload rand_read_4k_16jobs 8 IOPS 1 "$1" "$2" --rw=randread --bs=4k --numjobs=16
}

# timed NAME UNIT COUNT BACKEND COMMAND...: COUNT / the seconds COMMAND took;
# returns 1 when COMMAND failed.
timed() {
    name=$1 unit=$2 count=$3 backend=$4
    shift 4
    begin "$name" "$backend"
    t0=$(uptime_s)
    timeout -s KILL "$limit" "$@" > /tmp/timed.out 2>&1
    rc=$?
    t1=$(uptime_s)
    if [ "$rc" -ne 0 ]; then
        result "$name" "$backend" - "$unit" "status-$rc:$(one_word < /tmp/timed.out)"
        return 1
    fi
    result "$name" "$backend" "$(awk -v n="$count" -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; if (d < 0.01) d = 0.01; printf "%.1f", n / d }')" "$unit"
}

metadata_mix() {
    begin metadata_mix "$2"
    out=$(timeout -s KILL "$limit" metamix "$1/metamix" "$files" 2>&1)
    rc=$?
    rate=$(echo "$out" | sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p')
    if [ "$rc" -ne 0 ] || [ -z "$rate" ]; then
        result metadata_mix "$2" - ops/s "status-$rc:$(echo "$out" | one_word)"
        return
    fi
    echo "E2E-BENCH-DETAIL metadata_mix backend=$2 $out"
    result metadata_mix "$2" "$rate" ops/s
}

untar() {
    mkdir -p "$1/untar"
    timed untar entries/s "$tree_entries" "$2" tar -xf "$tree" -C "$1/untar" &&
        : > "/tmp/untar-done-$2"
}

# find over the tree untar left, every entry stat'ed (xargs batches them);
# only over a whole tree.
find_stat() {
    if [ ! -e "/tmp/untar-done-$2" ]; then
        begin find_stat "$2"
        result find_stat "$2" - entries/s untar-did-not-finish
        return
    fi
    timed find_stat entries/s "$tree_entries" "$2" sh -c "find '$1/untar' | xargs stat > /dev/null"
}

echo "E2E-BENCH-CONFIG seconds=$seconds files=$files size=$size tree_entries=$tree_entries limit=$limit"
layout "$qemu_mnt" qemu
layout "$xen9pd_mnt" xen9pd

n=0
for workload in seq_read seq_write rand_read_1 rand_read_16 metadata_mix untar find_stat; do
    if [ $((n % 2)) -eq 0 ]; then
        "$workload" "$qemu_mnt" qemu
        "$workload" "$xen9pd_mnt" xen9pd
    else
        "$workload" "$xen9pd_mnt" xen9pd
        "$workload" "$qemu_mnt" qemu
    fi
    n=$((n + 1))
done
echo "E2E-BENCH-END"
