#!/bin/sh
# Builds and runs the benchmark suite, then draws the plot.
# Usage: bench/run.sh [--build-dir DIR] [--out DIR] [xen9p-bench options: --quick, --targets ...]
# (in any order)
# Writes results.json, results.md, plot.dat and results.png (and the scaling
# and many-guests plots, scaling.png and fleet.png) into the output
# directory (default DIR/bench-results) and prints the table.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
build="$here/../build"
out=""
# Its own options may come anywhere; the others go to xen9p-bench in order.
n=$#
while [ "$n" -gt 0 ]; do
    case "$1" in
    --build-dir | --out)
        if [ "$n" -lt 2 ]; then
            echo "bench/run.sh: $1 needs a directory" >&2
            exit 2
        fi
        if [ "$1" = --out ]; then out=$2; else build=$2; fi
        shift 2
        n=$((n - 2))
        ;;
    *)
        set -- "$@" "$1"
        shift
        n=$((n - 1))
        ;;
    esac
done
[ -n "$out" ] || out="$build/bench-results"

# gnuplot only draws the PNG; the bench itself does not need it.
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "bench: installing gnuplot-nox for the plot"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gnuplot-nox
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$here/.." -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --target xen9p-bench

status=0
"$build/bench/driver/xen9p-bench" --out "$out" "$@" || status=$?
# A data file with its header line only (e.g. `--only fleet`) has nothing to draw.
has_rows() { [ -f "$1" ] && [ "$(wc -l <"$1")" -gt 1 ]; }
if has_rows "$out/plot.dat"; then
    ncols=$(head -n 1 "$out/plot.dat" | wc -w)
    gnuplot -e "datafile='$out/plot.dat'; outfile='$out/results.png'; ncols=$ncols" \
        "$here/plot.gp"
fi
if has_rows "$out/scaling.dat"; then
    ncols=$(head -n 1 "$out/scaling.dat" | wc -w)
    gnuplot -e "datafile='$out/scaling.dat'; outfile='$out/scaling.png'; ncols=$ncols" \
        "$here/scaling.gp"
fi
if has_rows "$out/fleet.dat"; then
    gnuplot -e "datafile='$out/fleet.dat'; outfile='$out/fleet.png'" "$here/fleet.gp"
fi
[ -f "$out/results.md" ] && cat "$out/results.md"
echo "bench: results in $out (results.json, results.md, results.png, scaling.png, fleet.png)"
exit $status
