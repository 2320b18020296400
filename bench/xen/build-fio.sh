#!/bin/sh
# Builds a static fio for the real-Xen bench's guest into CACHE, once.
#   build-fio.sh CACHE       prints the path of the binary
#
# Debian's fio links librados, librbd, glusterfs and more: about 84 MB of
# libraries that a guest booting from a RAM disk has no room for. So this
# fetches the source Debian ships for this host's release (from the Debian
# mirror, with a private sources list: the host's apt configuration is not
# touched) and builds it static with only the engines the bench uses (psync).
set -eu

cache=${1:?usage: build-fio.sh CACHE}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
dir="$cache/fio-src"
# Named fio: the guest image takes a binary's file name.
if [ -x "$dir/bin/fio" ]; then
    echo "$dir/bin/fio"
    exit 0
fi

codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
rm -rf "$dir"
mkdir -p "$dir/apt/sources.list.d" "$dir/apt/lists/partial"
cat > "$dir/apt/sources.list.d/src.sources" << EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_src() {
    apt-get -qq -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt/sources.list.d" \
        -o "Dir::State::Lists=$dir/apt/lists" -o APT::Sandbox::User=root "$@"
}
apt_src update > "$dir/apt.log" 2>&1 || { cat "$dir/apt.log" >&2; exit 1; }
(cd "$dir" && apt_src source --download-only fio) >> "$dir/apt.log" 2>&1 ||
    { cat "$dir/apt.log" >&2; exit 1; }
tar -xzf "$dir"/fio_*.orig.tar.gz -C "$dir"
src=$(find "$dir" -mindepth 1 -maxdepth 1 -type d -name 'fio-*' | head -n 1)
[ -n "$src" ] || { echo "build-fio: no source tree in $dir" >&2; exit 1; }
(
    cd "$src"
    ./configure --build-static --disable-native --disable-numa --disable-rdma --disable-rados \
        --disable-rbd --disable-http --disable-gfapi --disable-libnfs --disable-pmem \
        --disable-xnvme --disable-libzbc --disable-tcmalloc --disable-dfs --disable-lex
    make -j "$(nproc)" fio
) > "$dir/build.log" 2>&1 || { tail -n 30 "$dir/build.log" >&2; exit 1; }
mkdir -p "$dir/bin"
strip -o "$dir/bin/fio" "$src/fio"
echo "$dir/bin/fio"
