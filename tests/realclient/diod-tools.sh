#!/bin/sh
# diod's generic 9P2000.L client tools (diodls, diodcat: Tauth answered with
# ENOENT, then Tattach with afid NOFID) against xen9pd's TCP listener:
# listings, reads with checksums at several msizes, ENOENT, wrong aname.
# Usage: diod-tools.sh XEN9PD_BINARY
set -eu

xen9pd=${1:?usage: diod-tools.sh XEN9PD_BINARY}
if [ ! -x "$xen9pd" ]; then
    echo "diod-tools: xen9pd not built at $xen9pd" >&2
    exit 1
fi
if ! command -v diodcat >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends diod >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/diod-tools.XXXXXX")
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

exp=$work/export
mkdir -p "$exp/sub"
printf 'hello\n' >"$exp/small"
head -c 3000000 /dev/urandom >"$exp/big"
: >"$exp/empty"
printf 'nested\n' >"$exp/sub/inner"
ln -s small "$exp/link"

"$xen9pd" serve --no-sandbox --export "$exp" --listen tcp:127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
port=""
i=0
while [ -z "$port" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "diod-tools: xen9pd did not report its port; its log:" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.1
    port=$(sed -n 's/.*msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "$work/server.log" | head -1)
done
srv=127.0.0.1:$port

failed=0
ok() { echo "PASS $1"; }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

names=$(diodls -t 20 -s "$srv" -a "$exp" / 2>&1 | sort | tr '\n' ' ') || true
# The short listing leaves out "." and ".." (as it does against diod).
want="big empty link small sub "
[ "$names" = "$want" ] && ok listing_root || bad listing_root "got '$names' want '$want'"
names=$(diodls -t 20 -s "$srv" -a "$exp" /sub 2>&1 | sort | tr '\n' ' ') || true
[ "$names" = "inner " ] && ok listing_subdir || bad listing_subdir "got '$names'"
long=$(diodls -t 20 -s "$srv" -a "$exp" -l / 2>&1 | awk '$NF == "big" {print $5}') || true
[ "$long" = 3000000 ] && ok listing_long_size || bad listing_long_size "got '$long'"

want_sum=$(md5sum <"$exp/big" | cut -d' ' -f1)
for msize in 4096 8192 65536 1048576; do
    sum=$(diodcat -t 60 -m "$msize" -s "$srv" -a "$exp" big 2>/dev/null | md5sum | cut -d' ' -f1) || true
    [ "$sum" = "$want_sum" ] && ok "read_checksum_msize_$msize" || bad "read_checksum_msize_$msize" "md5 $sum"
done
out=$(diodcat -t 20 -s "$srv" -a "$exp" small sub/inner 2>&1) || true
[ "$out" = "$(printf 'hello\nnested')" ] && ok read_two_files || bad read_two_files "got '$out'"
out=$(diodcat -t 20 -s "$srv" -a "$exp" empty 2>&1 | wc -c | tr -d ' ') || true
[ "$out" = 0 ] && ok read_empty || bad read_empty "got $out bytes"

if out=$(diodcat -t 20 -s "$srv" -a "$exp" missing 2>&1); then
    bad missing_file_enoent "succeeded"
else
    echo "$out" | grep -q 'No such file' && ok missing_file_enoent || bad missing_file_enoent "$out"
fi
if out=$(diodcat -t 20 -s "$srv" -a /not/the/export small 2>&1); then
    bad wrong_aname_refused "succeeded"
else
    echo "$out" | grep -q 'attach' && ok wrong_aname_refused || bad wrong_aname_refused "$out"
fi
kill -0 "$pid" 2>/dev/null && ok server_alive || bad server_alive "xen9pd exited"

echo "diod-tools: failed=$failed"
[ "$failed" -eq 0 ]
