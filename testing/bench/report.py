#!/usr/bin/env python3
"""Turn the benchmark's dom0 output into the results table (median of the
rounds per workload, upstream vs ours) and syscall counts per operation."""
import statistics
import sys
from collections import defaultdict

out = open(sys.argv[1]).read().splitlines()
if "bench done" not in out:
    sys.exit("benchmark did not finish:\n" + "\n".join(out[-20:]))
ns = defaultdict(lambda: defaultdict(list))   # workload -> lib -> [ns per op]
per_pair = defaultdict(lambda: defaultdict(lambda: defaultdict(float)))  # w -> round pair -> lib -> ns
ops = {}
steps = {}
calls = defaultdict(dict)
copied = defaultdict(dict)
for line in out:
    f = line.split()
    if f[0] == "time":
        _, rnd, lib, w, n, total = f
        ns[w][lib].append(int(total) / int(n))
        per_pair[w][(int(rnd) + 1) // 2][lib] += int(total)
        ops[w] = int(n)
    elif f[0] == "syscalls":
        calls[f[2]][f[1]] = int(f[3])
    elif f[0] == "step":
        steps[" ".join(f[1:-1])] = int(f[-1])
    elif f[0] == "bytes":
        copied[f[2]][f[1]] = int(f[3])

def fmt(t):
    return f"{t / 1e6:.2f} ms" if t >= 1e6 else f"{t / 1e3:.1f} us"

print("| workload | ops/run | upstream (median per op) | ours (median per op) | ours/upstream: median [range over round pairs] | best/best | syscalls/op upstream | syscalls/op ours |")
print("|---|---|---|---|---|---|---|---|")
for w, by_lib in ns.items():
    up, us = statistics.median(by_lib["upstream"]), statistics.median(by_lib["ours"])
    # Rounds run A B B A, upstream first in odd rounds and ours first in even
    # ones, so over a pair of rounds each library runs once in each of the
    # four places. Where a place matters (dma-buf imports get slower run by
    # run within a round: 0.89, 0.97, 1.00, 1.04 ms), only a pair compares
    # fairly: the ratio is per pair of rounds, of the two libraries' sums.
    # best/best compares the fastest run of each (noise only adds time).
    ratios = [r["ours"] / r["upstream"] for r in per_pair[w].values()]
    c = calls.get(w, {})
    print(f"| {w} | {ops[w]} | {fmt(up)} | {fmt(us)} | {statistics.median(ratios):.3f} [{min(ratios):.2f}-{max(ratios):.2f}] | {min(by_lib['ours']) / min(by_lib['upstream']):.2f} | {c.get('upstream', '-')} | {c.get('ours', '-')} |")
pairs = len(next(iter(per_pair.values())))
print(f"\nRound pairs: {pairs} (median shown). Frames (1920x1080x32bpp):")
for w in ("frames-copy", "frames-dmabuf"):
    if w in ns:
        for lib in ("upstream", "ours"):
            per = statistics.median(ns[w][lib])
            print(f"- {w} {lib}: {1e9 / per:.1f} frames/s, {copied[w].get(lib, '?')} bytes copied per frame")

if steps:
    # steps.c: the kernel's share of a one-grant map + unmap, no library.
    print("\nOne-grant map + unmap, system call by system call (testing/bench/steps.c, no library, median of 1000 cycles):\n")
    print("| system call | upstream's order | ours |")
    print("|---|---|---|")
    names = ["map-ioctl", "mmap", "get-offset-ioctl", "munmap", "unmap-ioctl"]
    tot = {}
    for order in ("upstream", "ours"):
        tot[order] = sum(steps.get(f"{order} {n}", 0) for n in names)
    for n in names:
        cell = lambda o: fmt(steps[f"{o} {n}"]) if f"{o} {n}" in steps else "-"
        print(f"| {n} | {cell('upstream')} | {cell('ours')} |")
    print(f"| total | {fmt(tot['upstream'])} | {fmt(tot['ours'])} |")
    print(f"\nRaw system calls, ours' order over upstream's: {tot['ours'] / tot['upstream']:.3f}")
