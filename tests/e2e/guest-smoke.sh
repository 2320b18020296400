#!/bin/sh
# A small POSIX behaviour list for the domU, used only when the shared guest
# suite (tests/guest/run.sh) is not in the tree. Same output format:
# `XEN9P-CHECK <name> PASS|FAIL` lines, then `XEN9P-SUMMARY passed=N failed=M`.
#   guest-smoke.sh MOUNTPOINT
root="$1/e2e-smoke"
passed=0
failed=0

run() {
    name=$1
    shift
    if out=$("$@" 2>&1); then
        echo "XEN9P-CHECK $name PASS"
        passed=$((passed + 1))
    else
        echo "XEN9P-CHECK $name FAIL $(echo "$out" | tail -n 1)"
        failed=$((failed + 1))
    fi
}

create_write_read() {
    printf 'hello 9p\n' > "$root/f" && [ "$(cat "$root/f")" = "hello 9p" ]
}
append() {
    printf 'a' > "$root/ap" && printf 'b' >> "$root/ap" && [ "$(cat "$root/ap")" = "ab" ]
}
mkdir_rmdir() {
    mkdir "$root/d" && [ -d "$root/d" ] && rmdir "$root/d" && [ ! -e "$root/d" ]
}
rename_replaces() {
    echo one > "$root/r1" && echo two > "$root/r2" && mv "$root/r1" "$root/r2" &&
        [ "$(cat "$root/r2")" = one ] && [ ! -e "$root/r1" ]
}
rename_across_dirs() {
    mkdir -p "$root/x/y" && echo z > "$root/x/f" && mv "$root/x/f" "$root/x/y/g" &&
        [ "$(cat "$root/x/y/g")" = z ]
}
readdir_many() {
    mkdir "$root/many" || return 1
    i=0
    while [ $i -lt 500 ]; do
        : > "$root/many/entry-$i" || return 1
        i=$((i + 1))
    done
    [ "$(ls "$root/many" | wc -l)" -eq 500 ] || return 1
    [ "$(ls "$root/many" | sort -u | wc -l)" -eq 500 ] || return 1
    mv "$root/many/entry-7" "$root/many/renamed" || return 1
    # shellcheck disable=SC2010 # listing the directory is the point
    [ "$(ls "$root/many" | grep -c '^entry-')" -eq 499 ] && [ -e "$root/many/renamed" ]
}
symlink_readlink() {
    ln -s target-name "$root/sl" && [ "$(readlink "$root/sl")" = target-name ]
}
hardlink_count() {
    echo h > "$root/h1" && ln "$root/h1" "$root/h2" && [ "$(stat -c %h "$root/h1")" -eq 2 ]
}
chmod_mode() {
    : > "$root/m" && chmod 640 "$root/m" && [ "$(stat -c %a "$root/m")" = 640 ]
}
truncate_size() {
    printf '0123456789' > "$root/t" && truncate -s 4 "$root/t" && [ "$(cat "$root/t")" = 0123 ] &&
        truncate -s 100000 "$root/t" && [ "$(stat -c %s "$root/t")" -eq 100000 ]
}
open_unlink_read() {
    echo kept > "$root/u" || return 1
    exec 3< "$root/u"
    rm "$root/u"
    got=$(cat <&3)
    exec 3<&-
    [ "$got" = kept ] && [ ! -e "$root/u" ]
}
unlink_missing_fails() {
    ! rm "$root/does-not-exist" 2>/dev/null
}
rmdir_nonempty_fails() {
    mkdir -p "$root/ne" && : > "$root/ne/f" && ! rmdir "$root/ne" 2>/dev/null
}
statfs_works() {
    df "$root" > /dev/null
}

rm -rf "$root"
if ! mkdir "$root"; then
    echo "XEN9P-CHECK smoke-setup FAIL"
    echo "XEN9P-SUMMARY passed=0 failed=1"
    exit 1
fi
run create-write-read create_write_read
run append append
run mkdir-rmdir mkdir_rmdir
run rename-replaces-target rename_replaces
run rename-across-directories rename_across_dirs
run readdir-500-entries-and-rename readdir_many
run symlink-readlink symlink_readlink
run hardlink-count hardlink_count
run chmod-mode chmod_mode
run truncate-shrink-and-grow truncate_size
run open-unlink-read open_unlink_read
run unlink-missing-fails unlink_missing_fails
run rmdir-nonempty-fails rmdir_nonempty_fails
run statfs statfs_works
rm -rf "$root"
echo "XEN9P-SUMMARY passed=$passed failed=$failed"
[ "$failed" -eq 0 ]
