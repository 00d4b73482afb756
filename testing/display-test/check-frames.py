#!/usr/bin/env python3
"""Checks the PNGs vdispl-backend captured, pixel by pixel.

  check-frames.py pattern DIR PREFIX WxH N   frames of dp-draw: every PNG named
        PREFIX-c0-*.png must equal dp-draw's frame n for some n < N (found from
        its first pixel, then every pixel compared), the frame numbers must rise
        with the capture number, and all of 0..N-1 must be there (the backend
        ran with --max-png-per-sec 0, so every frame was captured).
  check-frames.py hostile DIR PREFIX WxH MIN  frames of vdispl-hostile-frontend's
        good device: its fixed 64x32 pattern, at least MIN of them.
  check-frames.py screen PPM WxH N   a screendump of QEMU's display (binary
        PPM, testing/rig/screendump.py) must equal dp-draw's frame N, every pixel.

Before judging, it proves that it can fail: the first frame with one byte
changed, and the first frame compared with the next frame's pattern, must both
be reported as mismatches. Exit status 0 only if every check passed.
PNG decoding is here (8-bit RGB/RGBA, zlib, filter type 0, the only one the backend writes);
any other PNG feature is reported as a failure, not skipped.
"""
import struct
import sys
import zlib
from pathlib import Path


def decode_png(path):
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, w = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace != 0:
                raise ValueError(f"unsupported PNG: depth {depth} colour type {ctype} interlace {interlace}")
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if w is None:
        raise ValueError("no IHDR")
    raw = zlib.decompress(b"".join(idat))
    bpp = 4 if ctype == 6 else 3  # RGBA, or RGB (the backend drops X of XRGB)
    stride = 1 + bpp * w
    if len(raw) != stride * h:
        raise ValueError(f"image data is {len(raw)} bytes, expected {stride * h}")
    rows = []
    for y in range(h):
        if raw[y * stride] != 0:
            raise ValueError(f"row {y}: filter type {raw[y * stride]} (only 0 supported)")
        row = raw[y * stride + 1:(y + 1) * stride]
        if bpp == 3:
            rgba = bytearray(4 * w)
            for c in range(3):
                rgba[c::4] = row[c::3]
            rgba[3::4] = b"\xff" * w
            row = bytes(rgba)
        rows.append(row)
    return w, h, rows


class DrawPattern:
    """dp-draw.c's dt_pixel(x, y, n) as RGBA rows."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.xs = bytes((x >> 3) & 0xff for x in range(w))
        self.xor = [bytes(v ^ c for v in range(256)) for c in range(256)]

    def first_pixel(self, n):
        return bytes([(3 * n) & 0xff, (5 * n) & 0xff, (n * 37) & 0xff, 255])

    def row(self, y, n):
        w, r = self.w, bytearray(4 * self.w)
        r[0::4] = bytes((x + 3 * n) & 0xff for x in range(w))
        r[1::4] = bytes([(y + 5 * n) & 0xff]) * w
        r[2::4] = self.xs.translate(self.xor[((y >> 3) ^ (n * 37)) & 0xff])
        r[3::4] = b"\xff" * w
        return bytes(r)


class HostilePattern:
    """vdispl-hostile-frontend's good buffer: bytes (x*4, y*8, 0x80, 0) as XRGB8888."""

    def __init__(self, w, h):
        self.w, self.h = w, h

    def row(self, y, n):
        r = bytearray(4 * self.w)
        r[0::4] = b"\x80" * self.w
        r[1::4] = bytes([(y * 8) & 0xff]) * self.w
        r[2::4] = bytes((x * 4) & 0xff for x in range(self.w))
        r[3::4] = b"\xff" * self.w
        return bytes(r)


def compare(pat, rows, n):
    """None if rows equal pattern frame n, else the first mismatch."""
    for y, got in enumerate(rows):
        want = pat.row(y, n)
        if got != want:
            i = next(i for i in range(len(want)) if got[i] != want[i]) // 4
            return f"pixel ({i},{y}) is {tuple(got[4*i:4*i+4])}, frame {n} has {tuple(want[4*i:4*i+4])}"
    return None


def decode_ppm(path):
    data = path.read_bytes()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments allowed
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1  # the single whitespace before the raster
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"not an 8-bit binary PPM: {fields[0]!r} maxval {fields[3]!r}")
    w, h = int(fields[1]), int(fields[2])
    raw = data[pos:pos + 3 * w * h]
    if len(raw) != 3 * w * h:
        raise ValueError(f"PPM raster is {len(raw)} bytes, expected {3 * w * h}")
    rows = []
    for y in range(h):
        rgba = bytearray(4 * w)
        row = raw[3 * w * y:3 * w * (y + 1)]
        for c in range(3):
            rgba[c::4] = row[c::3]
        rgba[3::4] = b"\xff" * w
        rows.append(bytes(rgba))
    return w, h, rows


def check_screen(path, size, n):
    """A screendump against dp-draw's frame n; 0 if every pixel matches."""
    w, h = map(int, size.split("x"))
    path = Path(path)
    pat = DrawPattern(w, h)
    try:
        fw, fh, rows = decode_ppm(path)
    except (OSError, ValueError) as e:
        print(f"FAIL screen {path.name}: {e}")
        return 1
    fails = []
    if (fw, fh) != (w, h):
        fails.append(f"{fw}x{fh}, expected {w}x{h}")
    else:
        why = compare(pat, rows, n)
        if why:
            fails.append(why)
        # the check must be able to fail
        bad = list(rows)
        r = bytearray(bad[h // 2]); r[4 * (w // 2) + 1] ^= 0x01; bad[h // 2] = bytes(r)
        c1, c2 = compare(pat, bad, n), compare(pat, rows, n + 1)
        print(f"selftest: one changed byte in {path.name} -> {'detected: ' + c1 if c1 else 'NOT detected'}")
        print(f"selftest: {path.name} against frame {n + 1} -> {'detected: ' + c2 if c2 else 'NOT detected'}")
        if not c1 or not c2:
            fails.append("self-test: the comparison cannot fail")
    for m in fails:
        print(f"FAIL screen {path.name}: {m}")
    print(f"{'PASS' if not fails else 'FAIL'} screen {path.name} (QEMU's display, {w}x{h}, against frame {n}: "
          f"{'every pixel matches' if not fails else 'mismatch'})")
    return 1 if fails else 0


def main():
    if sys.argv[1] == "screen":
        return check_screen(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    kind, d, prefix, size, count = sys.argv[1:6]
    w, h = map(int, size.split("x"))
    count = int(count)
    files = sorted(Path(d).glob(f"{prefix}-c0-*.png"))
    fails = []
    print(f"# {len(files)} PNGs {prefix}-c0-*.png in {d}")
    if not files:
        print(f"FAIL {prefix}: no frames captured")
        return 1
    pat = DrawPattern(w, h) if kind == "pattern" else HostilePattern(w, h)
    decoded = []
    for f in files:
        try:
            fw, fh, rows = decode_png(f)
        except Exception as e:  # a broken PNG is a failure, with its reason
            fails.append(f"{f.name}: {e}")
            continue
        if (fw, fh) != (w, h):
            fails.append(f"{f.name}: {fw}x{fh}, expected {w}x{h}")
            continue
        if kind == "pattern":
            cands = [n for n in range(count) if rows[0][:4] == pat.first_pixel(n)]
            n = cands[0] if cands else None
            why = compare(pat, rows, n) if n is not None else f"first pixel {tuple(rows[0][:4])} is no frame < {count}"
        else:
            n, why = 0, compare(pat, rows, 0)
        if why:
            fails.append(f"{f.name}: {why}")
        else:
            decoded.append((f, n, rows))
            print(f"ok {f.name}: frame {n}, all {w}x{h} pixels match")

    # The check must be able to fail: a changed byte and a wrong frame number.
    if decoded:
        f, n, rows = decoded[0]
        bad = list(rows)
        y = h // 2
        r = bytearray(bad[y]); r[4 * (w // 2)] ^= 0x01; bad[y] = bytes(r)
        caught1 = compare(pat, bad, n)
        caught2 = compare(pat, rows, n + 1) if kind == "pattern" else "n/a"
        print(f"selftest: one changed byte in {f.name} -> {'detected: ' + caught1 if caught1 else 'NOT detected'}")
        print(f"selftest: {f.name} against frame {n + 1} -> {'detected: ' + caught2 if caught2 else 'NOT detected'}")
        if not caught1 or not caught2:
            fails.append("self-test: the comparison cannot fail")

    if kind == "pattern":
        seen = [n for _, n, _ in decoded]
        if seen != sorted(seen):
            fails.append(f"frames out of order: {seen}")
        missing = sorted(set(range(count)) - set(seen))
        if missing:
            fails.append(f"frames never captured: {missing}")
        print(f"frames seen: {seen}")
    elif len(decoded) < count:
        fails.append(f"only {len(decoded)} good frames, expected at least {count}")
    for m in fails:
        print(f"FAIL {prefix}: {m}")
    print(f"{'PASS' if not fails else 'FAIL'} frames {prefix} ({len(decoded)} of {len(files)} PNGs match)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
