#!/bin/sh
# Fuzzes for ${XEN9P_FUZZ_SECONDS:-60} seconds on a scratch copy of the seed
# corpus (libFuzzer adds new inputs to its first corpus directory).
# Usage: run_fuzz.sh <fuzzer> <seed corpus> <work dir>
set -eu
fuzzer=$1 seeds=$2 work=$3
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
exec "$fuzzer" -max_total_time="${XEN9P_FUZZ_SECONDS:-60}" -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus"
