#!/usr/bin/env python3
"""Screendumps of QEMU's display on request from inside the boot.

  screendump.py CONSOLE_LOG QMP_SOCKET OUT_DIR

Follows the console log; for each line `@@RIG-SCREENDUMP <tag>` (printed by a
domain to its console, e.g. `echo ... > /dev/console` in dom0) it asks QEMU,
over QMP, for a `screendump` of the emulated display into OUT_DIR/<tag>.ppm
(binary PPM, P6), and appends `<tag> ok|error ...` to OUT_DIR/dumps.log.
Runs until killed (testing/rig/boot.sh stops it when QEMU has ended).
"""
import json
import os
import re
import socket
import sys
import time

MARK = re.compile(rb"@@RIG-SCREENDUMP ([A-Za-z0-9_.-]{1,64})")


def qmp(sock_path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    f = s.makefile("rwb")

    def reply():
        while True:
            m = json.loads(f.readline())
            if "return" in m or "error" in m:
                return m

    json.loads(f.readline())  # greeting
    for c in ({"execute": "qmp_capabilities"}, cmd):
        f.write(json.dumps(c).encode() + b"\n")
        f.flush()
        r = reply()
    s.close()
    return r


def main():
    log, sock, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    pos, seen = 0, set()
    while True:
        try:
            with open(log, "rb") as fh:
                fh.seek(pos)
                data = fh.read()
        except FileNotFoundError:
            data = b""
        # only whole lines (a marker may be half written)
        end = data.rfind(b"\n") + 1
        for m in MARK.finditer(data[:end]):
            tag = m.group(1).decode()
            if tag in seen:
                continue
            seen.add(tag)
            path = os.path.join(out, tag + ".ppm")
            t0 = time.time()
            try:
                args = {"filename": path}
                # RIG_SCREEN_DEVICE: the card's id where it is not QEMU's
                # first console (arm64: a PCI card beside the serial console).
                if os.environ.get("RIG_SCREEN_DEVICE"):
                    args["device"] = os.environ["RIG_SCREEN_DEVICE"]
                r = qmp(sock, {"execute": "screendump", "arguments": args})
                status = "ok" if "return" in r else "error " + json.dumps(r.get("error"))
            except OSError as e:
                status = f"error {e}"
            with open(os.path.join(out, "dumps.log"), "a") as lf:
                lf.write(f"{tag} {status} {time.time() - t0:.2f}s\n")
        pos += end
        time.sleep(0.2)


if __name__ == "__main__":
    main()
