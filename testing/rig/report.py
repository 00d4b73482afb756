#!/usr/bin/env python3
"""Judge the rig's results: one line per test, then "N passed, N failed".

usage: report.py RESULTS_DIR --suite DOMAIN=SUITE_FILE [...] [--differences FILE]
                 [--boot-failed DOMAIN=REASON ...]

RESULTS_DIR/<domain>/<name>.<lib>.{out,err,rc}, as written by the domain's /init.
A test passes when each run exited 0 and, for mode "both", upstream's and ours'
stdout agree (lines starting with '#' ignored; values of keys listed in the
differences file may differ if ours' value fully matches the regex) and their
stderr agree (unless the test lists key "stderr": then each ours stderr line
must fully match the regex). Exit status 1 if anything failed.
"""
import argparse
import difflib
import os
import re
import sys

MAX_DIFF_LINES = 80


def read_suite(path):
    tests = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            tests.append((words[0], words[1]))
    return tests


def read_differences(path):
    """{test: {key: [(regex, reason)]}}"""
    allowed = {}
    if not path or not os.path.exists(path):
        return allowed
    with open(path) as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if len(words) < 3:
                sys.exit(f"{path}:{n}: want '<test> <key> <ours-regex> <reason...>'")
            test, key, regex = words[:3]
            try:
                re.compile(regex)
            except re.error as e:
                sys.exit(f"{path}:{n}: bad regex {regex!r}: {e}")
            allowed.setdefault(test, {}).setdefault(key, []).append(
                (regex, " ".join(words[3:])))
    return allowed


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return None


def describe_rc(rc):
    if rc is None:
        return "no result (run never finished: dom0 stopped?)"
    if rc in (124, 143):
        return f"exit status {rc} (timed out)"
    if rc == 127:
        return "exit status 127 (command not found, or the dynamic loader failed: see stderr)"
    if rc > 128:
        return f"exit status {rc} (signal {rc - 128})"
    return f"exit status {rc}"


def normalize(lines, allowed_keys):
    """Drop comments; replace values of allowed keys by a placeholder.
    Returns (lines, {key: [values]})."""
    out, values = [], {}
    for line in lines:
        if line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if sep and key in allowed_keys:
            values.setdefault(key, []).append(value)
            line = f"{key}: <allowed to differ>"
        out.append(line)
    return out, values


def udiff(a, b, name_a, name_b):
    d = list(difflib.unified_diff(a, b, name_a, name_b, lineterm=""))
    if len(d) > MAX_DIFF_LINES:
        d = d[:MAX_DIFF_LINES] + [f"... ({len(d) - MAX_DIFF_LINES} more diff lines)"]
    return d


def judge(rdir, name, mode, allowed):
    """Returns (ok, reason, detail_lines)."""
    libs = ["upstream", "ours"] if mode == "both" else ["ours"]
    running = read_text(os.path.join(rdir, "running"))
    if running and running[0].split()[0] == name:
        return False, f"the domain died while running it ({running[0]})", []
    runs = {}
    for lib in libs:
        base = os.path.join(rdir, f"{name}.{lib}")
        rc = read_text(base + ".rc")
        runs[lib] = {
            "rc": int(rc[0]) if rc else None,
            "out": read_text(base + ".out") or [],
            "err": read_text(base + ".err") or [],
            "base": base,
        }
    bad = [f"{lib} run: {describe_rc(r['rc'])}" for lib, r in runs.items() if r["rc"] != 0]
    if bad:
        detail = []
        for lib, r in runs.items():
            if r["rc"] != 0:
                detail += [f"{lib} stderr (last lines): {l}" for l in r["err"][-5:]]
        return False, "; ".join(bad), detail
    if mode != "both":
        return True, "", []

    up, ours = runs["upstream"], runs["ours"]
    keys = {k: v for k, v in allowed.get(name, {}).items() if k != "stderr"}
    up_lines, up_vals = normalize(up["out"], keys)
    our_lines, our_vals = normalize(ours["out"], keys)
    detail, reasons = [], []
    for key, rules in keys.items():
        for v in our_vals.get(key, []):
            if not any(re.fullmatch(rx, v) for rx, _ in rules):
                reasons.append(f"ours' {key} {v!r} does not match allowed /{rules[0][0]}/")
        if up_vals.get(key) != our_vals.get(key):
            detail.append(f"allowed difference {key}: upstream {up_vals.get(key)} "
                          f"ours {our_vals.get(key)} ({rules[0][1]})")
    if up_lines != our_lines:
        reasons.append("stdout differs")
        detail += udiff(up_lines, our_lines, up["base"] + ".out", ours["base"] + ".out")

    err_rules = allowed.get(name, {}).get("stderr")
    if err_rules:
        for line in ours["err"]:
            if not any(re.fullmatch(rx, line) for rx, _ in err_rules):
                reasons.append(f"ours' stderr line {line!r} not allowed by /{err_rules[0][0]}/")
        if up["err"] != ours["err"]:
            detail.append(f"allowed difference stderr ({err_rules[0][1]})")
    elif up["err"] != ours["err"]:
        reasons.append("stderr differs")
        detail += udiff(up["err"], ours["err"], up["base"] + ".err", ours["base"] + ".err")
    return not reasons, "; ".join(reasons), detail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--suite", action="append", default=[], metavar="DOMAIN=FILE")
    ap.add_argument("--differences")
    ap.add_argument("--boot-failed", action="append", default=[], metavar="DOMAIN=REASON")
    a = ap.parse_args()

    allowed = read_differences(a.differences)
    tests = []  # (domain, name, mode, name as shown: domain/ prefix unless dom0)
    for spec in a.suite:
        domain, path = spec.split("=", 1)
        for name, mode in read_suite(path):
            tests.append((domain, name, mode, name if domain == "dom0" else f"{domain}/{name}"))
    for test in sorted(set(allowed) - {t[3] for t in tests}):
        print(f"# note: differences entry for a test not in this suite: {test}")

    passed = failed = 0
    for domain, name, mode, shown in tests:
        ok, reason, detail = judge(os.path.join(a.results, domain), name, mode,
                                   {name: allowed[shown]} if shown in allowed else {})
        print(f"PASS {shown}" if ok else f"FAIL {shown}: {reason}")
        for line in detail:
            print("    " + line)
        passed += ok
        failed += not ok
    for spec in a.boot_failed:
        domain, reason = spec.split("=", 1)
        print(f"FAIL boot({domain}): {reason}")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
