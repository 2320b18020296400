#!/bin/sh
# Builds and unit-tests xen9pd on Debian 13: in the trixie root WORKDIR/root
# (tests/debian13/make-root.sh), installs the build dependencies with the
# project's own cmake/install-deps.sh --package, copies SRCDIR in and runs
# `dpkg-buildpackage -us -uc -b`, whose dh_auto_test runs the unit tests.
# Leaves WORKDIR/xen9pd_<version>_amd64.deb and prints its path.
#   build-package.sh WORKDIR SRCDIR
# Every mount lives in a private mount namespace of this script (and is
# unmounted on exit too), so none outlives it, even after a kill -9.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: build-package.sh WORKDIR SRCDIR" >&2
    exit 2
fi
workdir=$(realpath "$1")
src=$(realpath "$2")
root=$workdir/root
if [ ! -x "$root/usr/bin/apt-get" ]; then
    echo "build-package.sh: no Debian root at $root (tests/debian13/make-root.sh makes it)" >&2
    exit 1
fi
if [ -z "${XEN9P_BUILD_PACKAGE_NS:-}" ]; then
    XEN9P_BUILD_PACKAGE_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

mounted=""
cleanup() {
    for m in $mounted; do umount -R "$m" 2>/dev/null || umount -l "$m" || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# mount_in TARGET MOUNT-ARGS...: mounts at TARGET inside the root.
mount_in() {
    target=$root$1
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted="$target $mounted"
}
# The root a mount point of its own: the workers' sandbox pivot_root()s and
# unshare(1) makes / private, both EINVAL in a chroot that is a plain directory.
mount --bind "$root" "$root"
mounted=$root
mount_in /proc -t proc proc
mount_in /dev --rbind /dev
mount_in /sys -t sysfs sysfs
cp /etc/resolv.conf "$root/etc/resolv.conf"

# The host's ccache, when it has one: trixie's compiler hashes differently,
# so its entries sit beside the host's without colliding, and a second run
# on the same machine compiles almost nothing.
ccache_env=""
with_ccache=""
if command -v ccache >/dev/null 2>&1; then
    cache_dir=$(ccache -k cache_dir 2>/dev/null || true)
    if [ -n "$cache_dir" ] && mkdir -p "$cache_dir"; then
        mount_in /var/cache/xen9pd-ccache --bind "$cache_dir"
        ccache_env="CCACHE_DIR=/var/cache/xen9pd-ccache CCACHE_BASEDIR=/build/xen9pd CCACHE_NOHASHDIR=1"
        with_ccache=ccache
    fi
fi

in_root() {
    # shellcheck disable=SC2086 # ccache_env is a list of assignments
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive $ccache_env "$@"
}

rm -rf "$root/build"
mkdir -p "$root/build/xen9pd"
if git -C "$src" rev-parse --show-toplevel >/dev/null 2>&1; then
    # Committed and uncommitted files alike, no build trees.
    (cd "$src" && git ls-files -z -co --exclude-standard |
        tar --null --ignore-failed-read -T - -cf -) | tar -xf - -C "$root/build/xen9pd"
else
    tar -C "$src" --exclude='./build*' --exclude=./.git --exclude='./obj-*' -cf - . |
        tar -xf - -C "$root/build/xen9pd"
fi

start=$(date +%s)
in_root /build/xen9pd/cmake/install-deps.sh --package
if [ -n "$with_ccache" ]; then
    in_root sh -c 'dpkg-query -W -f="\${Status}" ccache 2>/dev/null | grep -q "ok installed" ||
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends ccache; }'
fi
deps_done=$(date +%s)
in_root sh -c 'cd /build/xen9pd && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b'
build_done=$(date +%s)
echo "install-deps: $((deps_done - start)) s, dpkg-buildpackage: $((build_done - deps_done)) s"

version=$(in_root dpkg-parsechangelog -l /build/xen9pd/debian/changelog -S Version)
deb=$workdir/xen9pd_${version}_amd64.deb
cp "$root/build/xen9pd_${version}_amd64.deb" "$deb"
echo "package: $deb"
