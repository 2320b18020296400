#!/bin/sh
# Profiles one workload of xen9p-bench against xen9pd over the simulated rings
# with perf, system-wide, from the moment the first ring worker exists (the
# bench's setup of the export is over then) until the workload ends.
# Usage: bench/profile.sh [--build-dir DIR] [--freq HZ] [--call-graph] WORKLOAD [BENCH-OPTIONS]
#   WORKLOAD: one name of the table (seq_read, getattr, parallel_read_x4, ...).
#   BENCH-OPTIONS: passed to xen9p-bench; default `--quick --seconds 5`, so the
#   time-bounded workloads run 5 s. The others (seq_*, create_close, unlink,
#   small_files_*) run their fixed size: pass nothing quick for the default
#   size, e.g. `bench/profile.sh seq_write --seconds 1`.
# Prints the CPU share per command (swapper is idle time; the worker is 'xen9pd',
# the guest side 'xen9p-bench', io_uring's helper threads of the worker
# 'iou-wrk-*'), then the top symbols of the worker and of the guest. perf.data stays in DIR/bench-profile/WORKLOAD (`perf report -i` it).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
freq=2999
callgraph=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --freq) freq=$2; shift 2 ;;
    --call-graph) callgraph="--call-graph dwarf,16384"; shift ;;
    *) break ;;
    esac
done
workload=${1:?usage: profile.sh [--build-dir DIR] [--freq HZ] [--call-graph] WORKLOAD [BENCH-OPTIONS]}
shift
[ $# -gt 0 ] || set -- --quick --seconds 5
out="$build/bench-profile/$workload"
mkdir -p "$out"
command -v perf >/dev/null 2>&1 || { echo "profile: perf is not installed" >&2; exit 1; }
bench_binary="$build/bench/driver/xen9p-bench"
[ -x "$bench_binary" ] || { echo "profile: build $bench_binary first" >&2; exit 1; }

"$bench_binary" --targets xen9pd-ring --only "$workload" --out "$out" "$@" \
    >"$out/bench.log" 2>&1 &
bench=$!
perf=""
cleanup() {
    [ -n "$perf" ] && kill -INT "$perf" 2>/dev/null
    kill "$bench" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# `xen9pd run` is the bench's child; its first worker is forked when the first
# guest connects, which is when the workload starts. At the default size the
# bench first fills the export for a few minutes: wait up to five.
worker=""
tries=0
while [ -z "$worker" ]; do
    tries=$((tries + 1))
    [ "$tries" -gt 6000 ] && { echo "profile: no worker appeared" >&2; cat "$out/bench.log" >&2; exit 1; }
    kill -0 "$bench" 2>/dev/null || { echo "profile: bench ended early" >&2; cat "$out/bench.log" >&2; exit 1; }
    sleep 0.05
    for daemon in $(pgrep -P "$bench" -x xen9pd || true); do
        worker=$(pgrep -P "$daemon" | head -n 1 || true)
    done
done

# System-wide: every worker of a multi-guest workload, the guests' threads and
# idle time are all in one profile.
# shellcheck disable=SC2086 # $callgraph is empty or two words.
perf record -a -e cpu-clock -F "$freq" $callgraph -o "$out/perf.data" >"$out/perf.log" 2>&1 &
perf=$!
# Stop at the workload's result line: after it the bench removes the export
# (100k entries), which is no part of the workload.
while kill -0 "$bench" 2>/dev/null && ! grep -q "^  $workload " "$out/bench.log"; do
    sleep 0.05
done
kill -INT "$perf"
status=0
wait "$bench" || status=$?
wait "$perf" || true
perf=""
trap - EXIT INT TERM
[ "$status" -eq 0 ] || { echo "profile: bench failed ($status)" >&2; cat "$out/bench.log" >&2; exit 1; }

grep -E '^  ' "$out/bench.log" || cat "$out/bench.log"
echo "== CPU by command, all CPUs (swapper = idle; worker 'xen9pd' (and its idle supervisor) and its io_uring threads 'iou-wrk-*'; guests 'xen9p-bench')"
perf report -i "$out/perf.data" --no-children --sort comm -g none -q 2>/dev/null | head -n 8
# perf's --comm filter loses threads that existed before recording began (the
# guests' threads), so the split by command is done here.
perf report -i "$out/perf.data" --no-children --sort comm,dso,sym -g none -q -t '|' \
    2>/dev/null >"$out/symbols.txt"
for comm in xen9pd iou-wrk xen9p-bench; do
    echo "== $comm*, top symbols (share of the samples of $comm*)"
    awk -F'|' -v comm="$comm" '
        { c = $2; gsub(/ /, "", c) }
        index(c, comm) == 1 {
            p = $1; gsub(/[ %]/, "", p)
            total += p; n++; share[n] = p; line[n] = $3 " " $4
        }
        END {
            for (i = 1; i <= n && i <= 20; i++)
                printf "%6.2f%%  %s\n", 100 * share[i] / total, substr(line[i], 1, 130)
        }' "$out/symbols.txt"
done
