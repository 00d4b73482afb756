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
ops = {}
calls = defaultdict(dict)
copied = defaultdict(dict)
for line in out:
    f = line.split()
    if f[0] == "time":
        _, rnd, lib, w, n, total = f
        ns[w][lib].append(int(total) / int(n))
        ops[w] = int(n)
    elif f[0] == "syscalls":
        calls[f[2]][f[1]] = int(f[3])
    elif f[0] == "bytes":
        copied[f[2]][f[1]] = int(f[3])

def fmt(t):
    return f"{t / 1e6:.2f} ms" if t >= 1e6 else f"{t / 1e3:.1f} us"

print("| workload | ops/round | upstream (median per op) | ours (median per op) | ours/upstream: median [range over rounds] | best/best | syscalls/op upstream | syscalls/op ours |")
print("|---|---|---|---|---|---|---|---|")
for w, by_lib in ns.items():
    up, us = statistics.median(by_lib["upstream"]), statistics.median(by_lib["ours"])
    # Both libraries ran back to back in each round: compare within rounds.
    # best/best compares the fastest round of each (noise only adds time).
    ratios = [o / u for o, u in zip(by_lib["ours"], by_lib["upstream"])]
    c = calls.get(w, {})
    print(f"| {w} | {ops[w]} | {fmt(up)} | {fmt(us)} | {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}] | {min(by_lib['ours']) / min(by_lib['upstream']):.2f} | {c.get('upstream', '-')} | {c.get('ours', '-')} |")
rounds = len(next(iter(ns.values()))["ours"])
print(f"\nRounds: {rounds} (median shown). Frames (1920x1080x32bpp):")
for w in ("frames-copy", "frames-dmabuf"):
    if w in ns:
        for lib in ("upstream", "ours"):
            per = statistics.median(ns[w][lib])
            print(f"- {w} {lib}: {1e9 / per:.1f} frames/s, {copied[w].get(lib, '?')} bytes copied per frame")
