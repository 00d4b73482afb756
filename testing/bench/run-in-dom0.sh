#!/bin/sh
# Runs in the rig's dom0 (busybox sh): every workload, ROUNDS rounds
# (rounds.sh). Then system calls per operation, counted by
# strace as the difference between N and 2N ops, and the kernel's time per
# system call of a one-grant map + unmap (steps, no library).
cd "$(dirname "$0")" || exit 1
. ./rounds.sh
ROUNDS=${BENCH_ROUNDS:-24}  # even: report.py compares pairs of rounds
# Room for a 1920x1080x32 frame store (2025 pages) in gntalloc's global budget.
echo 8192 > /sys/module/xen_gntalloc/parameters/limit
# Short runs, many rounds: a burst of emulator noise spoils a round, not the median.
WORKLOADS="map1:800 map256:12 copy64-to-grant:50 copy64-from-grant:50 share16:100 dmabuf-import-2M:12 frames-copy:3 frames-dmabuf:12"

run() { # lib workload ops
    LD_LIBRARY_PATH=/opt/$1/lib ./bench "$2" "$3"
}

# dma-buf imports get slower as a boot's imports accumulate, with either
# library (a kernel effect: 0.7 ms per import at first, 1.2 ms after about
# 1400, then level): measure after they have levelled off.
run ours dmabuf-import-2M 1600 > /dev/null || { echo "FAILED warm-up"; exit 1; }

rounds "$ROUNDS" "$WORKLOADS"

calls() { # lib workload ops -> total syscalls
    LD_LIBRARY_PATH=/opt/$1/lib ./strace -f -c -o /tmp/strace.out ./bench "$2" "$3" > /dev/null || return 1
    awk '$NF == "total" { print $4 }' /tmp/strace.out
}
for w in map1:50 map256:10 copy64-to-grant:10 copy64-from-grant:10 share16:20 dmabuf-import-2M:10; do
    name=${w%%:*}; n=${w##*:}
    for lib in upstream ours; do
        a=$(calls "$lib" "$name" "$n") && b=$(calls "$lib" "$name" $((2 * n))) || { echo "FAILED strace $lib $name"; exit 1; }
        echo "syscalls $lib $name $(( (b - a) / n ))"
    done
done
./steps 1000 || { echo "FAILED steps"; exit 1; }
echo "bench done"
