#!/bin/bash
# Build the rig's own test programs into OUTDIR (default build/rig/selftest/bin).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../../../build/rig/selftest/bin}
mkdir -p "$OUT"
gcc -Wall -Werror -O2 -o "$OUT/selftest" "$HERE/selftest.c" -lxengnttab
install -m 755 "$HERE/crash-dom0" "$HERE/sleep-forever" "$OUT/"
