#!/bin/sh
# Builds a busybox initramfs for a test guest.
# Usage: build-initramfs.sh OUT.cpio.gz KERNEL_ROOT INIT_SCRIPT "MODULES" "BINARIES" [SRC=DST ...]
#   KERNEL_ROOT  a dpkg-deb -x'd linux-image package (has lib/modules/<ver>/)
#   INIT_SCRIPT  becomes /init
#   MODULES      module names to load at boot; dependencies are resolved from
#                modules.dep and written, in load order, to /etc/modules.order
#   BINARIES     host executables copied to /bin with the shared libraries ldd
#                names (dynamic ones keep their library paths)
#   SRC=DST      extra files copied to DST inside the image
# Shared by the QEMU real-client harness and the Xen end-to-end harness.
set -eu

out=$1
kroot=$2
init=$3
modules=$4
binaries=$5
shift 5

busybox=$(command -v busybox)
case "$(file -b "$busybox" 2>/dev/null || echo static)" in
*dynamic*) echo "build-initramfs: $busybox is not static (install busybox-static)" >&2; exit 1 ;;
esac

kver=$(ls "$kroot/lib/modules" | head -1)
moddir=$kroot/lib/modules/$kver
stage=$(mktemp -d "${TMPDIR:-/tmp}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# mktemp's 0700 would become the guest's "/" and lock out non-root users.
chmod 755 "$stage"

mkdir -p "$stage/bin" "$stage/sbin" "$stage/etc" "$stage/proc" "$stage/sys" "$stage/dev" \
    "$stage/tmp" "$stage/run" "$stage/mnt" "$stage/root" "$stage/lib/modules" "$stage/usr/bin" \
    "$stage/usr/sbin"
cp "$busybox" "$stage/bin/busybox"
for applet in $("$busybox" --list); do
    [ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done

# Load order from each module's own "depends=" modinfo field (the package
# leaves modules.dep to depmod, and the host need not have kmod).
order=""
find_module() {
    alt=$(echo "$1" | tr '_-' '-_')
    find "$moddir/kernel" \( -name "$1.ko*" -o -name "$alt.ko*" \) | head -1
}
add_module() {
    path=$(find_module "$1")
    if [ -z "$path" ]; then
        echo "build-initramfs: module $1 not found under $moddir" >&2
        exit 1
    fi
    case " $order " in *" $path "*) return ;; esac
    case "$path" in
    *.ko.xz) deps=$(xz -dc "$path" | strings -a | sed -n 's/^depends=//p' | head -1) ;;
    *.ko.zst) deps=$(zstd -qdc "$path" | strings -a | sed -n 's/^depends=//p' | head -1) ;;
    *) deps=$(strings -a "$path" | sed -n 's/^depends=//p' | head -1) ;;
    esac
    for dep in $(echo "$deps" | tr ',' ' '); do add_module "$dep"; done
    path=$(find_module "$1")
    case " $order " in *" $path "*) ;; *) order="$order $path" ;; esac
}
for m in $modules; do add_module "$m"; done
: >"$stage/etc/modules.order"
for path in $order; do
    name=$(basename "$path")
    case "$name" in
    *.ko.xz) xz -dc "$path" >"$stage/lib/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko.zst) zstd -qdc "$path" >"$stage/lib/modules/${name%.zst}"; name=${name%.zst} ;;
    *) cp "$path" "$stage/lib/modules/$name" ;;
    esac
    echo "$name" >>"$stage/etc/modules.order"
done

copy_with_libs() {
    # Replace a busybox applet link of the same name, never write through it.
    rm -f "$stage/bin/$(basename "$1")"
    cp -L "$1" "$stage/bin/$(basename "$1")"
    for lib in $(ldd "$1" 2>/dev/null | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]+ \(/{print $1}'); do
        mkdir -p "$stage$(dirname "$lib")"
        [ -e "$stage$lib" ] || cp -L "$lib" "$stage$lib"
    done
}
for b in $binaries; do copy_with_libs "$b"; done
# Programs run from /bin must also be found at their Debian paths by scripts.
for b in "$stage"/bin/*; do
    n=$(basename "$b")
    [ -e "$stage/usr/bin/$n" ] || ln -s "/bin/$n" "$stage/usr/bin/$n"
done

for spec in "$@"; do
    src=${spec%%=*}
    dst=${spec#*=}
    mkdir -p "$stage$(dirname "$dst")"
    cp -L "$src" "$stage$dst"
done

cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/tmp:/bin/sh
other:x:1001:1001:other:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
user:x:1000:
other:x:1001:
nogroup:x:65534:
EOF
cp "$init" "$stage/init"
chmod 755 "$stage/init"

(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
