#!/bin/sh
# Installs the Debian 12 packages xen9pd needs to build, test and demo.
# Skips what is present; needs root (or sudo) only when something is missing.
set -eu

packages="build-essential cmake ninja-build pkg-config libxen-dev liburing-dev
libboost-test-dev libseccomp-dev libcap-dev clang-19 libclang-rt-19-dev clang-format diod
binutils"

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
