#!/usr/bin/env python3
"""ppm2png.py IN.ppm OUT.png: a screendump (binary PPM) as a PNG, each row
filtered with PNG's Sub filter and deflated at level 9 (small files for
smooth test patterns). Python's standard library only."""
import struct
import sys
import zlib


def main():
    data = open(sys.argv[1], "rb").read()
    magic, w, h, maxval, raw = data.split(maxsplit=4)
    if magic != b"P6" or maxval != b"255":
        sys.exit(f"{sys.argv[1]}: not an 8-bit binary PPM")
    w, h = int(w), int(h)
    out = bytearray()
    for y in range(h):
        row = raw[3 * w * y:3 * w * (y + 1)]
        out.append(1)  # Sub: each byte minus the one 3 bytes to its left
        out += row[:3] + bytes((row[i] - row[i - 3]) & 0xff for i in range(3, len(row)))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(bytes(out), 9)) + chunk(b"IEND", b"")
    open(sys.argv[2], "wb").write(png)


if __name__ == "__main__":
    main()
