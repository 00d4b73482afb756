#!/bin/bash
# User-space instructions per operation of each library, counted by callgrind
# on this machine (no Xen): bench.c's loop under the fake-devices.c stand-in,
# run for N and 2N operations; the difference over N is per operation, so
# start-up and set-up cancel out. The figure includes the stand-in's own code
# (a few instructions per ioctl and mmap; upstream makes one ioctl more per
# map + unmap, so its figure carries slightly more of them).
# Usage: count.sh BENCH FAKE_SO OURS_LIB_DIR [UPSTREAM_LIB_DIR] [WORKLOAD...]
set -euo pipefail
BENCH=$1 FAKE=$2 OURS=$3 UPSTREAM=${4:-/usr/lib/x86_64-linux-gnu}
shift 4 2>/dev/null || shift $#
WORKLOADS=${*:-map1 share16 dmabuf-import-2M}
N=200
[ -e "$UPSTREAM/libxengnttab.so.1" ] || { echo "no upstream library in $UPSTREAM (apt-get install libxengnttab1)" >&2; exit 1; }
command -v valgrind > /dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
instructions() { # libdir workload ops
    LD_PRELOAD=$FAKE LD_LIBRARY_PATH=$1 valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" \
        "$BENCH" "$2" "$3" > /dev/null 2> "$OUT/log" || { cat "$OUT/log" >&2; exit 1; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$OUT/log"
}
printf '| workload | upstream (instructions/op) | ours (instructions/op) |\n|---|---|---|\n'
for w in $WORKLOADS; do
    row="| $w"
    for lib in "$UPSTREAM" "$OURS"; do
        a=$(instructions "$lib" "$w" $N) b=$(instructions "$lib" "$w" $((2 * N)))
        row+=" | $(( (b - a) / N ))"
    done
    echo "$row |"
done
