//! A minimal PNG encoder: 8-bit RGB or RGBA, zlib stream of stored (not
//! compressed) deflate blocks, CRC-32 and Adler-32 computed here. Files are
//! large but writing is cheap and exact, which is what frame capture needs.

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
};

/// CRC-32 (ISO-HDLC, as PNG uses), continuing from `crc` (start with 0).
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Adler-32, continuing from `adler` (start with 1).
pub fn adler32(adler: u32, data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (adler & 0xffff, adler >> 16);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += x as u32;
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// zlib stream of stored deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 16);
    out.extend_from_slice(&[0x78, 0x01]);
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(if chunks.peek().is_none() { 1 } else { 0 });
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&adler32(1, data).to_be_bytes());
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(crc32(0, kind), data);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Encode `rgba` (width * height * 4 bytes) as PNG; with `alpha` false the
/// alpha bytes are dropped (colour type 2), otherwise kept (colour type 6).
pub fn encode(width: u32, height: u32, rgba: &[u8], alpha: bool) -> Vec<u8> {
    assert_eq!(rgba.len(), width as usize * height as usize * 4, "rgba length");
    let bpp = if alpha { 4 } else { 3 };
    let mut raw = Vec::with_capacity(height as usize * (1 + width as usize * bpp));
    for row in rgba.chunks_exact((width as usize * 4).max(1)).take(height as usize) {
        raw.push(0); // filter: none
        if alpha {
            raw.extend_from_slice(row);
        } else {
            for px in row.chunks_exact(4) {
                raw.extend_from_slice(&px[..3]);
            }
        }
    }
    let mut out = Vec::with_capacity(raw.len() + 1024);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, if alpha { 6 } else { 2 }, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Decode what [`encode`] writes (stored blocks, filter 0 only) back to
/// RGBA: used by tests and by the end-to-end check of captured frames.
pub fn decode_stored(png: &[u8]) -> Result<(u32, u32, Vec<u8>), &'static str> {
    if png.len() < 8 || &png[..8] != b"\x89PNG\r\n\x1a\n" {
        return Err("not a PNG");
    }
    let mut pos = 8;
    let (mut w, mut h, mut ct) = (0u32, 0u32, 0u8);
    let mut idat = Vec::new();
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = png.get(pos + 8..pos + 8 + len).ok_or("truncated chunk")?;
        let crc = u32::from_be_bytes(png.get(pos + 8 + len..pos + 12 + len).ok_or("truncated")?.try_into().unwrap());
        if crc32(crc32(0, kind), data) != crc {
            return Err("bad CRC");
        }
        match kind {
            b"IHDR" => {
                w = u32::from_be_bytes(data[0..4].try_into().unwrap());
                h = u32::from_be_bytes(data[4..8].try_into().unwrap());
                ct = data[9];
            }
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => break,
            _ => {}
        }
        pos += 12 + len;
    }
    // zlib: header, stored blocks, adler
    let mut raw = Vec::new();
    let mut p = 2;
    loop {
        let hdr = *idat.get(p).ok_or("truncated zlib")?;
        if hdr & 0b110 != 0 {
            return Err("not a stored block");
        }
        let len = u16::from_le_bytes(idat.get(p + 1..p + 3).ok_or("truncated")?.try_into().unwrap()) as usize;
        raw.extend_from_slice(idat.get(p + 5..p + 5 + len).ok_or("truncated block")?);
        p += 5 + len;
        if hdr & 1 == 1 {
            break;
        }
    }
    let adler = u32::from_be_bytes(idat.get(p..p + 4).ok_or("no adler")?.try_into().unwrap());
    if adler32(1, &raw) != adler {
        return Err("bad Adler-32");
    }
    let bpp = match ct {
        2 => 3,
        6 => 4,
        _ => return Err("colour type"),
    };
    let stride = 1 + w as usize * bpp;
    if raw.len() != stride * h as usize {
        return Err("size");
    }
    let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
    for row in raw.chunks_exact(stride) {
        if row[0] != 0 {
            return Err("filter");
        }
        for px in row[1..].chunks_exact(bpp) {
            rgba.extend_from_slice(&[px[0], px[1], px[2], if bpp == 4 { px[3] } else { 255 }]);
        }
    }
    Ok((w, h, rgba))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_known_values() {
        assert_eq!(crc32(0, b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(0, b"IEND"), 0xae42_6082);
        assert_eq!(adler32(1, b"Wikipedia"), 0x11e6_0398);
        let big = vec![0xffu8; 100_000];
        let mut a = 1;
        for c in big.chunks(7) {
            a = adler32(a, c);
        }
        assert_eq!(a, adler32(1, &big));
    }

    #[test]
    fn roundtrip_rgb_and_rgba() {
        let (w, h) = (300u32, 257u32); // > 65535 bytes: several stored blocks
        let rgba: Vec<u8> = (0..w * h).flat_map(|i| [(i % 251) as u8, (i / 7) as u8, (i * 3) as u8, (i % 13) as u8]).collect();
        let png = encode(w, h, &rgba, true);
        assert_eq!(decode_stored(&png).unwrap(), (w, h, rgba.clone()));
        let png = encode(w, h, &rgba, false);
        let (_, _, back) = decode_stored(&png).unwrap();
        for (a, b) in rgba.chunks(4).zip(back.chunks(4)) {
            assert_eq!((&a[..3], b[3]), (&b[..3], 255));
        }
    }

    #[test]
    fn python_reads_it_if_available() {
        // Cross-check with an independent decoder (zlib in Python) when present.
        let Ok(py) = which("python3") else { return };
        let rgba: Vec<u8> = (0..16 * 9).flat_map(|i| [i as u8, 2, 3, 4]).collect();
        let dir = std::env::temp_dir().join(format!("vdispl-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("t.png");
        std::fs::write(&f, encode(16, 9, &rgba, false)).unwrap();
        let script = "import sys,zlib,struct\nd=open(sys.argv[1],'rb').read()\np=8\nidat=b''\nwhile p<len(d):\n n=struct.unpack('>I',d[p:p+4])[0];k=d[p+4:p+8];c=d[p+8:p+8+n]\n assert zlib.crc32(k+c)==struct.unpack('>I',d[p+8+n:p+12+n])[0]\n if k==b'IHDR': w,h=struct.unpack('>II',c[:8])\n if k==b'IDAT': idat+=c\n p+=12+n\nr=zlib.decompress(idat)\nprint(w,h,len(r),r[1],r[4])\n";
        let out = std::process::Command::new(py).arg("-c").arg(script).arg(&f).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "16 9 441 0 1");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn which(name: &str) -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| c.is_file()))
            .ok_or(())
    }
}
