#!/bin/sh
# Data integrity over the share, run in the domU:
#   integrity.sh MOUNTPOINT NAME
# Writes a random pattern of about 5 MiB sequentially in odd-sized blocks and
# again in odd-sized chunks at odd offsets in reverse order, reads both back
# with another block size and compares checksums; reads the file dom0 put on
# the share and compares it with the checksum dom0 wrote next to it. Leaves
# e2e-sums-NAME on the share so dom0 can check the bytes from its side.
mnt=$1
name=$2
dir="$mnt/e2e-integrity-$name"

check() {
    if [ "$2" = ok ]; then
        echo "XEN9P-CHECK $1 PASS"
    else
        echo "XEN9P-CHECK $1 FAIL $2"
    fi
}
sum() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$dir"
dd if=/dev/urandom of=/tmp/pattern bs=1000003 count=5 2>/dev/null
want=$(sum /tmp/pattern)
size=$(stat -c %s /tmp/pattern)

dd if=/tmp/pattern of="$dir/sequential" bs=4093 2>/dev/null
dd if="$dir/sequential" of=/tmp/back bs=65521 2>/dev/null
got=$(sum /tmp/back)
if [ "$got" = "$want" ] && [ "$(stat -c %s "$dir/sequential")" = "$size" ]; then
    check integrity-sequential-odd-blocks ok
else
    check integrity-sequential-odd-blocks "sha=$got size=$(stat -c %s "$dir/sequential")"
fi

# Chunks of 77777 bytes written last-first: every write lands at an odd offset
# past the current end or inside a hole, never in order.
chunk=77777
i=$(((size + chunk - 1) / chunk - 1))
ok=ok
while [ "$i" -ge 0 ]; do
    dd if=/tmp/pattern of="$dir/scattered" bs=$chunk skip=$i seek=$i count=1 conv=notrunc \
        2>/dev/null || ok="dd-chunk-$i"
    i=$((i - 1))
done
dd if="$dir/scattered" of=/tmp/back bs=8191 2>/dev/null
got=$(sum /tmp/back)
[ "$got" = "$want" ] || ok="sha=$got"
check integrity-scattered-odd-offsets "$ok"

# Overwrite 1000 bytes at offset 1234567 in place; the size must not change.
dd if=/dev/urandom of=/tmp/patch bs=1000 count=1 2>/dev/null
dd if=/tmp/patch of="$dir/sequential" bs=1 seek=1234567 conv=notrunc 2>/dev/null
dd if=/tmp/patch of=/tmp/pattern bs=1 seek=1234567 conv=notrunc 2>/dev/null
got=$(sum "$dir/sequential")
if [ "$got" = "$(sum /tmp/pattern)" ] && [ "$(stat -c %s "$dir/sequential")" = "$size" ]; then
    check integrity-overwrite-in-place ok
else
    check integrity-overwrite-in-place "sha=$got"
fi

if [ -f "$mnt/e2e-from-dom0" ]; then
    got=$(sum "$mnt/e2e-from-dom0")
    if [ "$got" = "$(cat "$mnt/e2e-from-dom0.sha256")" ]; then
        check integrity-read-dom0-file ok
    else
        check integrity-read-dom0-file "sha=$got"
    fi
else
    check integrity-read-dom0-file missing
fi

(cd "$dir" && sha256sum sequential scattered) > "$mnt/e2e-sums-$name.tmp"
mv "$mnt/e2e-sums-$name.tmp" "$mnt/e2e-sums-$name"
sync
