#!/bin/sh
# The installed xen9pd carries no simulator, no guest-side code and no 9P
# client: none of its symbols lies in a namespace of sim/, client/ or
# frontend/ or names one of their classes, and none of the functions and data
# those libraries define is defined in it, whatever namespace they move to.
#   installed_binary_test.sh NM BINARY "CLASS..." FORBIDDEN_ARCHIVE...
# NM is binutils' nm (cmake's CMAKE_NM; binutils comes with build-essential).
set -eu
export LC_ALL=C  # one collation for sort and comm

if [ $# -lt 4 ] || [ -z "$3" ]; then
    echo 'usage: installed_binary_test.sh NM BINARY "CLASS..." FORBIDDEN_ARCHIVE...' >&2
    exit 2
fi
nm=$1
binary=$2
classes=$3
shift 3

symbols=$(mktemp)
demangled=$(mktemp)
forbidden=$(mktemp)
trap 'rm -f "$symbols" "$demangled" "$forbidden"' EXIT

"$nm" "$binary" >"$symbols"
"$nm" -C "$binary" >"$demangled"

# A binary without symbols would pass every check below.
if ! grep -q 'xen9p::server::Session::' "$demangled"; then
    echo "FAIL: no xen9p::server::Session symbols in $binary (stripped?)"
    exit 1
fi

status=0

in_namespaces=$(grep -E 'xen9p::(sim|client|frontend)::' "$demangled" || true)
if [ -n "$in_namespaces" ]; then
    echo "FAIL: $binary has symbols of xen9p::sim, xen9p::client or xen9p::frontend:"
    echo "$in_namespaces" | head -n 20
    status=1
fi

# By name: before they had their own folders, SimGrantSharer and
# GrantSharer sat in xen9p::platform and came into xen9pd with it.
class_pattern="(^|[^A-Za-z0-9_])($(echo "$classes" | tr ' ' '|'))([^A-Za-z0-9_]|\$)"
named=$(grep -E "$class_pattern" "$demangled" || true)
if [ -n "$named" ]; then
    echo "FAIL: $binary has symbols naming $classes:"
    echo "$named" | head -n 20
    status=1
fi

# What each forbidden library defines for the whole program (T, D, B, R:
# functions and data defined once; weak inline copies and anonymous
# namespaces are shared names, not the library's).
for archive in "$@"; do
    "$nm" --defined-only -g "$archive" | awk 'NF == 3 && $2 ~ /^[TDBR]$/ { print $3 }'
done | sort -u >"$forbidden"
if [ ! -s "$forbidden" ]; then
    echo "FAIL: no symbols defined in $*"
    exit 1
fi
defined_here=$(awk 'NF == 3 && $2 ~ /^[TDBRtdbr]$/ { print $3 }' "$symbols" | sort -u |
               comm -12 - "$forbidden")
if [ -n "$defined_here" ]; then
    echo "FAIL: $binary defines what these libraries define: $*"
    echo "$defined_here" | c++filt | head -n 20
    status=1
fi

[ "$status" -eq 0 ] && echo "ok: $binary links no simulator, frontend or 9P client code"
exit "$status"
