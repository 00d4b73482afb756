#!/bin/bash
# Build the rig's own test programs into OUTDIR (default build/rig/selftest/bin).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../common.sh"
OUT=${1:-$HERE/../../../build/rig/selftest/bin}
mkdir -p "$OUT"
# For another architecture (RIG_CROSS, from testing/rig/release/arch-*.env): its
# cross-compiler and Debian's libraries unpacked by testing/rig/fetch.sh (XEN_SYSROOT).
SYS=()
if [ -n "$RIG_CROSS" ]; then
    L=$(. "$RIG_CACHE_DIR/current.env"; echo "$XEN_SYSROOT")/usr/lib/$RIG_MULTIARCH
    SYS=(-I"$L/../../include" -L"$L" -Wl,-rpath-link,"$L")
fi
"${RIG_CROSS}gcc" -Wall -Werror -O2 -o "$OUT/selftest" "$HERE/selftest.c" "${SYS[@]}" -lxengnttab
install -m 755 "$HERE/crash-dom0" "$HERE/sleep-forever" "$OUT/"
