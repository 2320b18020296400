#!/bin/sh
# Installs the Debian packages xen9pd needs, on Debian 12 (bookworm) or 13
# (trixie). Skips what is present; needs root (or sudo) only when something
# is missing.
#   install-deps.sh              build, all tests but the sanitizer build, demo, clang-format
#   install-deps.sh --sanitizer  and clang-19 with its runtimes (ASan, UBSan, libFuzzer)
#   install-deps.sh --package    only what `dpkg-buildpackage -b` needs (tests/debian13)
set -eu

# Same names on both releases.
build="build-essential cmake ninja-build pkg-config libxen-dev liburing-dev
libboost-test-dev libseccomp-dev libcap-dev binutils"
# debootstrap makes the Debian 13 root of tests/debian13 and the Xen 4.20 runs.
tools="clang-format diod debootstrap"
sanitizer="clang-19 libclang-rt-19-dev"

# debian/rules asks pkg-config for the systemd unit directory: systemd.pc is
# in systemd on 12 and in systemd-dev from 13 on.
release=$(. /etc/os-release && echo "${VERSION_ID:-}")
case "$release" in
    12) package="debhelper dpkg-dev systemd" ;;
    13) package="debhelper dpkg-dev systemd-dev" ;;
    *)
        echo "install-deps.sh: Debian 12 or 13 expected (VERSION_ID '$release'); trying 13's names" >&2
        package="debhelper dpkg-dev systemd-dev"
        ;;
esac

case "${1:-}" in
    "") packages="$build $tools" ;;
    --sanitizer) packages="$build $tools $sanitizer" ;;
    --package) packages="$build $package" ;;
    *)
        echo "usage: install-deps.sh [--sanitizer | --package]" >&2
        exit 2
        ;;
esac

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
