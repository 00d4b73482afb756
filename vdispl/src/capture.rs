//! Frame capture to PNG files, off the event loop.
//!
//! The event loop only copies the raw pixels of a frame (clipped to the
//! connector's resolution, which the toolstack sets and the guest cannot) and
//! hands them to one encoder thread through a queue of two. A full queue
//! drops the frame (counted): a guest flipping faster than frames can be
//! encoded costs the loop a bounded copy, never an encode. The encoder writes
//! at most `max_bytes` in total, then stops and says so once. The rate limit
//! (`max_per_sec`) is for the whole backend, not per connector, so many
//! connectors or devices cannot multiply it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::protocol::PixelFormat;

/// A frame's raw pixels, as the guest laid them out (tightly packed rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub pixels: Vec<u8>,
}

/// An RGBA image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    /// width * height * 4 bytes, RGBA.
    pub rgba: Vec<u8>,
}

impl RawFrame {
    pub fn to_image(&self) -> Image {
        let bpp = (self.format.bpp() / 8) as usize;
        let mut rgba = Vec::with_capacity(self.width as usize * self.height as usize * 4);
        for px in self.pixels.chunks_exact(bpp) {
            rgba.extend_from_slice(&self.format.to_rgba(px));
        }
        Image { width: self.width, height: self.height, has_alpha: self.format.has_alpha(), rgba }
    }
}

/// Encode as PNG (the `png` crate): RGB, or RGBA when the format has alpha;
/// filter type 0 on every row (what `testing/display-test/check-frames.py` decodes)
/// and the fastest deflate level.
pub fn encode(img: &Image) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut e = png::Encoder::new(&mut out, img.width, img.height);
    e.set_color(if img.has_alpha { png::ColorType::Rgba } else { png::ColorType::Rgb });
    e.set_depth(png::BitDepth::Eight);
    e.set_compression(png::Compression::Fast);
    e.set_filter(png::Filter::NoFilter);
    let mut w = e.write_header()?;
    if img.has_alpha {
        w.write_image_data(&img.rgba)?;
    } else {
        let rgb: Vec<u8> = img.rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        w.write_image_data(&rgb)?;
    }
    w.finish()?;
    Ok(out)
}

/// Decode a PNG (for tests): (width, height, RGBA).
pub fn decode(data: &[u8]) -> Result<(u32, u32, Vec<u8>), png::DecodingError> {
    let mut r = png::Decoder::new(std::io::Cursor::new(data)).read_info()?;
    let mut buf = vec![0; r.output_buffer_size().unwrap_or(0)];
    let info = r.next_frame(&mut buf)?;
    buf.truncate(info.buffer_size());
    let rgba = match info.color_type {
        png::ColorType::Rgba => buf,
        png::ColorType::Rgb => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        _ => return Err(png::DecodingError::LimitsExceeded),
    };
    Ok((info.width, info.height, rgba))
}

/// Settings of the PNG output.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    pub dir: PathBuf,
    /// Frames per second for the whole backend (0: every frame).
    pub max_per_sec: u32,
    /// Bytes of PNG files written in total, at most.
    pub max_bytes: u64,
}

/// What happened to captures so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub queued: u64,
    pub rate_limited: u64,
    pub dropped_busy: u64,
}

/// Where admitted frames go: the encoder thread, or (tests) memory.
pub trait FrameOut: std::fmt::Debug {
    /// Take a frame without waiting; false if it had to be dropped.
    fn send(&mut self, f: RawFrame) -> bool;
    /// Finish queued work (at exit).
    fn finish(&mut self) {}
}

/// The encoder thread and its queue.
#[derive(Debug)]
struct PngWriter {
    tx: Option<SyncSender<RawFrame>>,
    worker: Option<JoinHandle<()>>,
}

impl FrameOut for PngWriter {
    fn send(&mut self, f: RawFrame) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(f) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => false,
            Err(TrySendError::Disconnected(_)) => {
                self.tx = None;
                false
            }
        }
    }
    fn finish(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The capture front end (in the event loop).
#[derive(Debug)]
pub struct Capture {
    max_per_sec: u32,
    out: Box<dyn FrameOut>,
    last: Option<Instant>,
    pub stats: CaptureStats,
}

impl Capture {
    /// PNG files in `cfg.dir`, written by a thread behind a queue of `queue`
    /// frames.
    pub fn start(cfg: CaptureConfig, queue: usize) -> std::io::Result<Capture> {
        std::fs::create_dir_all(&cfg.dir)?;
        let (tx, rx) = sync_channel(queue.max(1));
        let (dir, max) = (cfg.dir.clone(), cfg.max_bytes);
        let worker = std::thread::Builder::new().name("png".into()).spawn(move || encoder(rx, &dir, max))?;
        Ok(Capture::with_output(cfg.max_per_sec, Box::new(PngWriter { tx: Some(tx), worker: Some(worker) })))
    }

    /// Frames to another destination.
    pub fn with_output(max_per_sec: u32, out: Box<dyn FrameOut>) -> Capture {
        Capture { max_per_sec, out, last: None, stats: CaptureStats::default() }
    }

    /// Whether a frame at `now` may be captured (the global rate limit).
    /// Asking counts as using the slot, so callers ask only when they will
    /// capture.
    pub fn admit(&mut self, now: Instant) -> bool {
        if self.max_per_sec > 0 {
            let gap = Duration::from_secs(1) / self.max_per_sec;
            if self.last.is_some_and(|t| now.saturating_duration_since(t) < gap) {
                self.stats.rate_limited += 1;
                return false;
            }
        }
        self.last = Some(now);
        true
    }

    /// Queue a frame for the encoder; dropped (and counted) if it is busy.
    pub fn submit(&mut self, f: RawFrame) -> bool {
        let ok = self.out.send(f);
        if ok {
            self.stats.queued += 1;
        } else {
            self.stats.dropped_busy += 1;
        }
        ok
    }

    /// Let the encoder finish what is queued (at exit).
    pub fn finish(&mut self) {
        self.out.finish();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.finish();
    }
}

fn encoder(rx: Receiver<RawFrame>, dir: &Path, max_bytes: u64) {
    let mut written = 0u64;
    let mut full = false;
    for f in rx {
        if full {
            continue;
        }
        let data = match encode(&f.to_image()) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("PNG {}: {e}", f.name);
                continue;
            }
        };
        if written + data.len() as u64 > max_bytes {
            log::warn!("PNG output reached its cap of {max_bytes} bytes: no more frames are written");
            full = true;
            continue;
        }
        let path = dir.join(format!("{}.png", f.name));
        let tmp = dir.join(format!(".{}.png.tmp", f.name));
        // written whole, then renamed: a reader never sees half a file
        let r = std::fs::File::create(&tmp).and_then(|mut file| file.write_all(&data)).and_then(|_| std::fs::rename(&tmp, &path));
        match r {
            Ok(()) => written += data.len() as u64,
            Err(e) => log::warn!("writing {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32) -> RawFrame {
        let pixels = (0..w * h).flat_map(|i| [i as u8, (i >> 8) as u8, 7, 0]).collect();
        RawFrame { name: format!("f{w}x{h}"), width: w, height: h, format: PixelFormat::Xrgb8888, pixels }
    }

    #[test]
    fn encode_decode_roundtrip_exact() {
        let f = frame(37, 11);
        let img = f.to_image();
        let (w, h, rgba) = decode(&encode(&img).unwrap()).unwrap();
        assert_eq!((w, h), (37, 11));
        assert_eq!(rgba, img.rgba);
        let mut a = frame(5, 3);
        a.format = PixelFormat::Argb8888;
        let img = a.to_image();
        assert!(img.has_alpha);
        assert_eq!(decode(&encode(&img).unwrap()).unwrap().2, img.rgba);
    }

    #[test]
    fn global_rate_limit() {
        let dir = std::env::temp_dir().join(format!("vdispl-cap-rate-{}", std::process::id()));
        let mut c = Capture::start(CaptureConfig { dir: dir.clone(), max_per_sec: 2, max_bytes: 1 << 30 }, 2).unwrap();
        let t0 = Instant::now();
        let admitted = (0..10).filter(|i| c.admit(t0 + Duration::from_millis(100 * i))).count();
        assert_eq!(admitted, 2, "0 ms and 500 ms");
        assert_eq!(c.stats.rate_limited, 8);
        c.finish();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn disk_cap_stops_writing() {
        let dir = std::env::temp_dir().join(format!("vdispl-cap-disk-{}", std::process::id()));
        let one = encode(&frame(64, 64).to_image()).unwrap().len() as u64;
        let mut c = Capture::start(CaptureConfig { dir: dir.clone(), max_per_sec: 0, max_bytes: one * 2 + one / 2 }, 8).unwrap();
        for i in 0..5 {
            let mut f = frame(64, 64);
            f.name = format!("n{i}");
            assert!(c.submit(f), "a queue of 8 takes 5");
        }
        c.finish();
        let n = std::fs::read_dir(&dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "png")).count();
        assert_eq!(n, 2, "two frames fit under the cap");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn busy_encoder_drops_instead_of_blocking() {
        let dir = std::env::temp_dir().join(format!("vdispl-cap-busy-{}", std::process::id()));
        let mut c = Capture::start(CaptureConfig { dir: dir.clone(), max_per_sec: 0, max_bytes: 1 << 30 }, 2).unwrap();
        let f = frame(512, 512);
        let frames: Vec<RawFrame> = (0..50).map(|_| f.clone()).collect();
        let t = Instant::now();
        for f in frames {
            c.submit(f);
        }
        assert!(t.elapsed() < Duration::from_millis(500), "submit never waits for the encoder: {:?}", t.elapsed());
        assert!(c.stats.dropped_busy > 0);
        assert_eq!(c.stats.queued + c.stats.dropped_busy, 50);
        c.finish();
        let _ = std::fs::remove_dir_all(dir);
    }
}
