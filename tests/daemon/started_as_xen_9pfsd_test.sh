#!/bin/sh
# The package links Xen's diverted /usr/lib/xen-4.NN/bin/xen-9pfsd to
# xen9pd, and libxl starts it with argv {"xen-9pfsd"} and nothing else:
# xen9pd must then run the daemon from /etc/xen9pd.conf, and say clearly
# when that file is missing. Each run sees its own /etc (a bind mount in a
# private mount namespace), so the host's configuration plays no part.
#   started_as_xen_9pfsd_test.sh XEN9PD
set -u
xen9pd=$1
if [ "$(id -u)" -ne 0 ] || ! unshare --mount true 2>/dev/null; then
    echo "SKIP: needs root and mount namespaces"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/etc"
ln -s "$xen9pd" "$tmp/bin/xen-9pfsd"
status=0

# run CONFIG_TEXT: xen-9pfsd as libxl starts it, with /etc/xen9pd.conf
# holding CONFIG_TEXT (none when empty); sets $rc, output in $tmp/out.
run() {
    rm -f "$tmp/etc/xen9pd.conf"
    [ -n "$1" ] && printf '%s\n' "$1" >"$tmp/etc/xen9pd.conf"
    timeout 20 unshare --mount bash -c 'mount --bind "$1" /etc && exec -a xen-9pfsd "$2"' \
        _ "$tmp/etc" "$tmp/bin/xen-9pfsd" >"$tmp/out" 2>&1 </dev/null
    rc=$?
}

# expect NAME RC TEXT: the last run exited with RC and printed TEXT.
expect() {
    if [ "$rc" -eq "$2" ] && grep -qF -- "$3" "$tmp/out"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: exit $rc (want $2), output (want '$3'):"
        cat "$tmp/out"
        status=1
    fi
}

run ""
expect "no /etc/xen9pd.conf: a configuration error naming the file and the example" 2 \
    "/etc/xen9pd.conf does not exist and no --allowed-root was given"
expect "the error names the example" 2 "examples/xen9pd.conf"

run "$(printf 'allowed-root = /srv\nno-such-key = 1')"
expect "/etc/xen9pd.conf is read when started with no arguments" 2 \
    "/etc/xen9pd.conf: line 2"

sim=$tmp/no-such-sim
run "$(printf 'allowed-root = /srv\nuid-range-base = 131072\nxen = sim:%s' "$sim")"
expect "a valid /etc/xen9pd.conf runs the daemon (which needs xenstore)" 1 \
    "cannot connect to xenstore"

exit "$status"
