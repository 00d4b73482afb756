//! Unit tests of `display.rs`: requests against in-memory grants, with and
//! without a (fake) screen.

use std::time::Duration;

use super::*;
use crate::capture::Capture;
use crate::connector::MAX_PENDING_FLIPS;
use crate::protocol::*;
use crate::screen::Owner;
use crate::support::fake_grants::FakeGrants;
use crate::support::fake_screen::FakeScreen;
use crate::support::frames::MemFrames;

const D: u32 = 3;

struct T {
    g: FakeGrants,
    cfg: Config,
    shared: Shared,
    frames: MemFrames,
    logs: Vec<String>,
    d: Display,
    id: u16,
    screen: Option<FakeScreen>,
}

impl T {
    fn new(be_alloc: bool) -> T {
        let cfg = Config { refresh_hz: 50, ..Config::default() };
        let frames = MemFrames::default();
        let shared = Shared::new(&cfg, Some(Capture::with_output(0, Box::new(frames.clone()))));
        T { g: FakeGrants::new(), cfg, shared, frames, logs: vec![], d: Display::new(D, 0, be_alloc, &[(64, 48), (32, 32)]), id: 0, screen: None }
    }
    /// With a screen whose output "VGA-1" shows connector 0.
    fn with_screen(be_alloc: bool) -> T {
        let mut t = T::new(be_alloc);
        let mut s = FakeScreen::new(&["VGA-1", "HDMI-A-1"]);
        let out = s.claim("VGA-1", Owner { dev: (D, 0), conn: 0 }).unwrap();
        t.d.set_output(0, out);
        t.screen = Some(s);
        t
    }
    fn ctx_run<R>(&mut self, f: impl FnOnce(&mut Display, &mut Ctx<'_>) -> R) -> R {
        let logs = &mut self.logs;
        let mut log = |s: &str| logs.push(s.to_string());
        let screen = self.screen.as_mut().map(|s| s as &mut (dyn Screen + 'static));
        let mut ctx = Ctx { grants: &self.g, log: &mut log, cfg: &self.cfg, shared: &mut self.shared, screen };
        f(&mut self.d, &mut ctx)
    }
    fn req_at(&mut self, conn: usize, op: Op, now: Instant) -> Response {
        self.id = self.id.wrapping_add(1);
        let req = Request::new(self.id, op);
        let r = self.ctx_run(|d, ctx| d.handle(conn, &req, now, ctx));
        assert_eq!((r.id, r.operation), (req.id, req.operation), "response echoes id and operation");
        r
    }
    fn req(&mut self, conn: usize, op: Op) -> i32 {
        self.req_at(conn, op, Instant::now()).status
    }
    /// A guest buffer of w x h at 32 bpp filled with XRGB(x, y, 9).
    fn dbuf(&mut self, cookie: u64, w: u32, h: u32) -> i32 {
        let (dir, data) = self.g.guest_buffer(D, (w * h * 4) as usize);
        for y in 0..h {
            for x in 0..w {
                let off = ((y * w + x) * 4) as usize;
                data[off / 4096].write_at(off % 4096, &[9, y as u8, x as u8, 0]).unwrap();
            }
        }
        self.req(0, Op::DbufCreate { dbuf_cookie: cookie, width: w, height: h, bpp: 32, buffer_sz: w * h * 4, flags: 0, gref_directory: dir, data_ofs: 0 })
    }
    fn nframes(&self) -> usize {
        self.frames.0.borrow().len()
    }
    fn last_image(&self) -> crate::capture::Image {
        self.frames.0.borrow().last().expect("a frame").to_image()
    }
}

use crate::mem::SharedMem;

fn xrgb() -> u32 {
    PixelFormat::Xrgb8888.fourcc()
}

#[test]
fn normal_session() {
    let mut t = T::new(false);
    assert_eq!(t.dbuf(0xa000, 64, 48), 0);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 0xa000, fb_cookie: 0xf000, width: 64, height: 48, pixel_format: xrgb() }), 0);
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 0xf000, x: 0, y: 0, width: 64, height: 48, bpp: 32 }), 0);
    assert_eq!(t.nframes(), 1, "first frame comes with SET_CONFIG");
    let img = &t.last_image();
    assert_eq!(&img.rgba[(5 * 64 + 7) * 4..(5 * 64 + 7) * 4 + 4], &[7, 5, 9, 255]);
    let t0 = Instant::now();
    assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 0xf000 }, t0).status, 0);
    assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 0xf000 }, t0).status, 0);
    let c = &t.d.connectors[0];
    assert_eq!(c.pending.len(), 2);
    // paced: the second flip's event is one period (20 ms at 50 Hz) later
    assert_eq!(c.pending[1].due.unwrap() - c.pending[0].due.unwrap(), Duration::from_millis(20));
    assert_eq!(t.nframes(), 3);
    assert_eq!(t.req(0, Op::FbDetach { fb_cookie: 0xf000 }), 0);
    assert_eq!(t.req(0, Op::DbufDestroy { dbuf_cookie: 0xa000 }), 0);
    assert!(t.d.dbufs.is_empty());
    // cookie reusable after destroy
    assert_eq!(t.dbuf(0xa000, 64, 48), 0);
}

#[test]
fn pacing_and_events_in_order() {
    let mut t = T::new(false);
    t.dbuf(1, 8, 8);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 8, height: 8, pixel_format: xrgb() });
    let t0 = Instant::now();
    t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0);
    let c = &mut t.d.connectors[0];
    assert_eq!(c.due(t0).map(|p| p.fb_cookie), Some(2));
    c.flip_done(t0 + Duration::from_millis(3));
    assert!(c.due(t0 + Duration::from_secs(9)).is_none());
    // a flip right after: due one period after the previous one
    t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0 + Duration::from_millis(5));
    let c = &mut t.d.connectors[0];
    assert!(c.due(t0 + Duration::from_millis(19)).is_none());
    assert!(c.due(t0 + Duration::from_millis(20)).is_some());
    // much later: due at once
    c.flip_done(t0 + Duration::from_millis(20));
    t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0 + Duration::from_secs(5));
    assert!(t.d.connectors[0].due(t0 + Duration::from_secs(5)).is_some());
}

#[test]
fn hostile_requests_get_errors() {
    let mut t = T::new(false);
    assert_eq!(t.dbuf(1, 16, 16), 0);
    // duplicate cookie
    assert_eq!(t.dbuf(1, 16, 16), status::EEXIST);
    // buffer ops on connector 1's ring
    assert_eq!(t.req(1, Op::DbufDestroy { dbuf_cookie: 1 }), status::EINVAL);
    // unknown and reserved operations
    assert_eq!(t.req(0, Op::Unknown(0)), status::EINVAL);
    assert_eq!(t.req(0, Op::Unknown(0xff)), status::EINVAL);
    assert_eq!(t.req(0, Op::GetEdid { buffer_sz: 1, gref_directory: 1 }), status::EOPNOTSUPP);
    // connector index out of range
    assert_eq!(t.req(7, Op::PgFlip { fb_cookie: 1 }), status::EINVAL);
    // unknown flags; be-alloc not offered
    assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: 5, width: 1, height: 1, bpp: 32, buffer_sz: 4, flags: 2, gref_directory: 1, data_ofs: 0 }), status::EINVAL);
    assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: 5, width: 1, height: 1, bpp: 32, buffer_sz: 4, flags: 1, gref_directory: 1, data_ofs: 0 }), status::EINVAL);
    // huge buffer
    assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: 5, width: 8192, height: 8192, bpp: 32, buffer_sz: u32::MAX, flags: 0, gref_directory: 1, data_ofs: 0 }), status::ENOMEM);
    // directory ref not granted
    assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: 5, width: 1, height: 1, bpp: 32, buffer_sz: 4, flags: 0, gref_directory: 424242, data_ofs: 0 }), status::EINVAL);
    // pixel formats
    for fmt in [0, 0x3231_5659 /* YV12 */, u32::MAX] {
        assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 16, height: 16, pixel_format: fmt }), status::EINVAL);
    }
    // fb bigger than its buffer; missing dbuf; cookie 0
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 17, height: 16, pixel_format: xrgb() }), status::EINVAL);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 99, fb_cookie: 2, width: 16, height: 16, pixel_format: xrgb() }), status::ENOENT);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 0, width: 16, height: 16, pixel_format: xrgb() }), status::EINVAL);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 16, height: 16, pixel_format: xrgb() }), 0);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 16, height: 16, pixel_format: xrgb() }), status::EEXIST);
    // SET_CONFIG / PG_FLIP with unknown fb or bad geometry
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 3, x: 0, y: 0, width: 16, height: 16, bpp: 32 }), status::EINVAL);
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 2, x: u32::MAX, y: 0, width: 16, height: 16, bpp: 32 }), status::EINVAL);
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 16, height: 16, bpp: 16 }), status::EINVAL);
    assert_eq!(t.req(0, Op::PgFlip { fb_cookie: 3 }), status::EINVAL);
    // a SET_CONFIG larger than the fb is clipped when captured, not read past
    assert_eq!(t.req(1, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 4000, height: 4000, bpp: 32 }), 0);
    assert_eq!((t.last_image().width, t.last_image().height), (16, 16));
    // ... and the capture is clipped to the connector's resolution too
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 9, width: 16, height: 16, pixel_format: xrgb() }), 0);
    // beyond the maximum dimension: refused
    assert_eq!(t.req(1, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 8193, height: 16, bpp: 32 }), status::EINVAL);
    assert_eq!(t.req(0, Op::FbDetach { fb_cookie: 9 }), 0);
    // too many flips waiting
    let now = Instant::now();
    for _ in 0..MAX_PENDING_FLIPS {
        assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 2 }, now).status, 0);
    }
    assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 2 }, now).status, status::EBUSY);
    // unknown destroy / detach
    assert_eq!(t.req(0, Op::DbufDestroy { dbuf_cookie: 77 }), status::ENOENT);
    assert_eq!(t.req(0, Op::FbDetach { fb_cookie: 77 }), status::ENOENT);
    // destroying the dbuf takes its fb with it and blanks the connectors
    assert_eq!(t.req(0, Op::DbufDestroy { dbuf_cookie: 1 }), 0);
    assert!(t.d.fbs.is_empty());
    assert!(t.d.connectors.iter().all(|c| c.current.is_none()));
}

#[test]
fn limits_on_buffer_count() {
    let mut t = T::new(false);
    t.cfg.limits.max_dbufs = 3;
    for i in 1..=3 {
        assert_eq!(t.dbuf(i, 4, 4), 0);
    }
    assert_eq!(t.dbuf(4, 4, 4), status::ENOMEM);
}

#[test]
fn png_rate_limit() {
    let mut t = T::new(false);
    t.shared.capture = Some(Capture::with_output(2, Box::new(t.frames.clone())));
    t.dbuf(1, 4, 4);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
    let t0 = Instant::now();
    for i in 0..10 {
        t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0 + Duration::from_millis(100 * i));
    }
    // 0, 500 ms: two PNGs in one second of flips
    assert_eq!(t.nframes(), 2);
    assert_eq!(t.d.connectors[0].stats.frames, 10);
    // the limit is the backend's, not the connector's: connector 1 gets no more
    t.req_at(1, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 4, height: 4, bpp: 32 }, t0 + Duration::from_millis(950));
    assert_eq!(t.nframes(), 2);
}

#[test]
fn no_capture_without_output() {
    let mut t = T::new(false);
    t.shared.capture = None;
    t.dbuf(1, 4, 4);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
    for _ in 0..3 {
        t.req(0, Op::PgFlip { fb_cookie: 2 });
    }
    assert_eq!(t.nframes(), 0);
    assert_eq!(t.d.connectors[0].stats.frames, 3);
    assert_eq!(t.d.connectors[0].stats.pngs, 0);
}

#[test]
fn zero_copy_refused_once_then_mapping() {
    let mut t = T::new(false);
    t.g.export_errno = Some(libc::EINVAL);
    assert_eq!(t.dbuf(1, 4, 4), 0);
    assert_eq!(t.dbuf(2, 4, 4), 0);
    assert_eq!(t.logs.iter().filter(|l| l.contains("export refused")).count(), 1, "{:?}", t.logs);
    assert!(t.shared.export_refused.is_some());
}

#[test]
fn zero_copy_released_before_destroy_answer() {
    let mut t = T::new(false);
    assert_eq!(t.dbuf(1, 4, 4), 0);
    assert_eq!(t.g.exports.get(), 1);
    assert_eq!(t.g.released.get(), 0);
    assert_eq!(t.req(0, Op::DbufDestroy { dbuf_cookie: 1 }), 0);
    assert_eq!(t.g.released.get(), 1);
}

#[test]
fn backend_allocated_buffer_and_rgb565() {
    let mut t = T::new(true);
    let (dir, dpage) = t.g.grant(D);
    assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: 1, width: 8, height: 8, bpp: 16, buffer_sz: 128, flags: DBUF_FLG_REQ_ALLOC, gref_directory: dir, data_ofs: 0 }), 0);
    let r0 = dpage.load_u32(4).unwrap();
    // the "guest" draws red through its mapping of our page
    let shared = t.g.shared.borrow()[&r0].1.clone();
    for i in 0..64 {
        shared.write_at(i * 2, &0xf800u16.to_le_bytes()).unwrap();
    }
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 8, height: 8, pixel_format: PixelFormat::Rgb565.fourcc() }), 0);
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 8, height: 8, bpp: 16 }), 0);
    let img = &t.last_image();
    assert!(img.rgba.chunks(4).all(|p| p == [255, 0, 0, 255]));
    assert!(t.d.dbufs[&1].exported.is_none());
}

#[test]
fn display_off_and_stats() {
    let mut t = T::new(false);
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 0, x: 0, y: 0, width: 0, height: 0, bpp: 0 }), 0);
    t.dbuf(1, 4, 4);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
    let t0 = Instant::now();
    for i in 0..30 {
        t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0 + Duration::from_millis(40 * i));
        let now = t0 + Duration::from_millis(40 * i + 20);
        t.d.connectors[0].flip_done(now);
    }
    let line = t.d.connectors[0].stats_line(t0 + Duration::from_millis(1200)).unwrap();
    assert!(line.contains("25.0 fps"), "{line}");
    assert!(line.contains("flip latency avg 20.0 ms"), "{line}");
}

/// be-alloc=1 on a screen that exports: the guest's buffer is the card's
/// dumb buffer; flips go to the card one at a time and their events wait for
/// the card; teardown releases every object.
#[test]
fn screen_zero_copy_backend_allocated() {
    let mut t = T::with_screen(true);
    let (dir, dpage) = t.g.grant(D);
    let (w, h) = (64u32, 48u32);
    for cookie in [1, 2] {
        let d = if cookie == 1 { dir } else { t.g.grant(D).0 };
        assert_eq!(t.req(0, Op::DbufCreate { dbuf_cookie: cookie, width: w, height: h, bpp: 32, buffer_sz: w * h * 4, flags: DBUF_FLG_REQ_ALLOC, gref_directory: d, data_ofs: 0 }), 0);
    }
    assert!(t.logs.iter().any(|l| l.contains("zero-copy: the card's dumb buffer")), "{:?}", t.logs);
    assert_eq!(t.g.imports.get(), 2);
    // the guest writes through its grant: it lands in the card's buffer
    let r0 = dpage.load_u32(4).unwrap();
    let page = t.g.shared.borrow()[&r0].1.clone();
    page.write_at(0, &[1, 2, 3, 0]).unwrap();
    for (fb, db) in [(11, 1), (12, 2)] {
        assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: db, fb_cookie: fb, width: w, height: h, pixel_format: xrgb() }), 0);
    }
    let s = t.screen.as_ref().unwrap();
    assert_eq!(s.fbs.len(), 2);
    let fb11 = t.d.sfbs[&11].fb;
    assert!(t.d.sfbs[&11].copy.is_none(), "zero-copy: no copy buffer");
    assert_eq!(s.fb_bytes(fb11, 4), vec![1, 2, 3, 0], "the screen reads the guest's pixels in place");
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 11, x: 0, y: 0, width: w, height: h, bpp: 32 }), 0);
    assert_eq!(t.screen.as_ref().unwrap().outputs[0].shown, Some((fb11, w, h)));
    let t0 = Instant::now();
    assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 12 }, t0).status, 0);
    assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 11 }, t0).status, 0);
    let fb12 = t.d.sfbs[&12].fb;
    assert_eq!(t.screen.as_ref().unwrap().outputs[0].in_flight, Some(fb12), "first flip on the card");
    assert!(t.d.connectors[0].due(t0 + Duration::from_secs(5)).is_none(), "no event before the card completes");
    // the card completes: the event is due, the second flip goes out
    let done = t.screen.as_mut().unwrap().completed().unwrap();
    assert_eq!(done, vec![(0, Owner { dev: (D, 0), conn: 0 })]);
    let t1 = t0 + Duration::from_millis(7);
    t.ctx_run(|d, ctx| d.screen_flip_done(0, t1, ctx));
    assert_eq!(t.d.connectors[0].due(t1).map(|p| p.fb_cookie), Some(12));
    assert_eq!(t.screen.as_ref().unwrap().outputs[0].in_flight, Some(fb11));
    // teardown: output off and free, fbs removed, dumb buffers closed, imports released
    let (nbuf, nsfb, nout) = t.ctx_run(|d, ctx| d.teardown(ctx));
    assert_eq!((nbuf, nsfb, nout), (2, 2, 1));
    let s = t.screen.as_ref().unwrap();
    assert!(s.fbs.is_empty() && s.handles.is_empty(), "{:?} {:?}", s.fbs, s.handles);
    assert_eq!(s.outputs[0].owner, None);
    assert_eq!(t.g.imports_released.get(), 2);
    assert!(t.shared.domain_bytes.is_empty());
}

/// be-alloc=0 where the card imports nothing: map and copy at each flip,
/// pixel for pixel.
#[test]
fn screen_map_and_copy() {
    let mut t = T::with_screen(false);
    assert_eq!(t.dbuf(1, 64, 48), 0);
    assert!(t.logs.iter().any(|l| l.contains("map-and-copy")), "{:?}", t.logs);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 64, height: 48, pixel_format: xrgb() }), 0);
    assert!(t.d.sfbs[&2].copy.is_some());
    assert_eq!(t.req(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 64, height: 48, bpp: 32 }), 0);
    let fb = t.d.sfbs[&2].fb;
    let px = t.screen.as_ref().unwrap().fb_bytes(fb, 64 * 48 * 4);
    // pixel (x, y) = bytes [9, y, x, 0]
    assert_eq!(&px[(5 * 64 + 7) * 4..(5 * 64 + 7) * 4 + 4], &[9, 5, 7, 0]);
    assert_eq!(t.req(0, Op::PgFlip { fb_cookie: 2 }), 0);
    assert_eq!(t.screen.as_ref().unwrap().outputs[0].in_flight, Some(fb));
    // detaching the fb removes the screen's fb and copy buffer
    assert_eq!(t.req(0, Op::FbDetach { fb_cookie: 2 }), 0);
    let s = t.screen.as_ref().unwrap();
    assert!(s.fbs.is_empty());
    assert_eq!(s.handles.len(), 0, "copy buffer closed; the mapped guest buffer has no handle");
}

/// A flip the card refuses completes at once (said once); a card that cannot
/// show a framebuffer fails FB_ATTACH; connector 1 (no output) is paced.
#[test]
fn screen_refusals() {
    let mut t = T::with_screen(false);
    t.dbuf(1, 16, 16);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 16, height: 16, pixel_format: xrgb() });
    t.req(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 16, height: 16, bpp: 32 });
    let now = Instant::now();
    for _ in 0..3 {
        t.screen.as_mut().unwrap().fail_flip = Some(libc::EINVAL);
        assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 2 }, now).status, 0);
    }
    assert_eq!(t.logs.iter().filter(|l| l.contains("was not shown")).count(), 1);
    assert_eq!(t.d.connectors[0].due(now).map(|p| p.fb_cookie), Some(2));
    t.screen.as_mut().unwrap().max = (8, 8);
    t.dbuf(3, 16, 16);
    assert_eq!(t.req(0, Op::FbAttach { dbuf_cookie: 3, fb_cookie: 4, width: 16, height: 16, pixel_format: xrgb() }), status::EINVAL);
    // connector 1 has no output: paced as without a screen
    assert_eq!(t.req_at(1, Op::PgFlip { fb_cookie: 2 }, now).status, 0);
    assert!(t.d.connectors[1].due(now).is_some());
}

#[test]
fn per_device_and_per_domain_byte_caps() {
    let mut t = T::new(false);
    t.cfg.limits.max_device_bytes = 3 * 4096;
    assert_eq!(t.dbuf(1, 32, 32), 0);
    assert_eq!(t.dbuf(2, 32, 32), 0);
    assert_eq!(t.dbuf(3, 32, 32), 0);
    assert_eq!(t.dbuf(4, 32, 32), status::ENOMEM, "fourth 4 KiB buffer over the device cap");
    // another device of the same domain shares the domain's cap
    t.cfg.limits.max_device_bytes = 1 << 30;
    t.cfg.limits.max_domain_bytes = 4 * 4096;
    let mut other = Display::new(D, 1, false, &[(32, 32)]);
    std::mem::swap(&mut t.d, &mut other);
    assert_eq!(t.dbuf(5, 32, 32), 0);
    assert_eq!(t.dbuf(6, 32, 32), status::ENOMEM, "the domain holds 4 buffers over two devices");
    // destroying gives the bytes back
    std::mem::swap(&mut t.d, &mut other);
    assert_eq!(t.req(0, Op::DbufDestroy { dbuf_cookie: 1 }), 0);
    std::mem::swap(&mut t.d, &mut other);
    assert_eq!(t.dbuf(6, 32, 32), 0);
}

#[test]
fn set_config_counts_against_pending_flips() {
    let mut t = T::new(false);
    t.dbuf(1, 4, 4);
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
    let now = Instant::now();
    for _ in 0..MAX_PENDING_FLIPS {
        t.req_at(0, Op::PgFlip { fb_cookie: 2 }, now);
    }
    assert_eq!(t.req_at(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 4, height: 4, bpp: 32 }, now).status, status::EBUSY);
}

#[test]
fn cost_counts_work_not_requests() {
    let mut t = T::with_screen(false);
    t.d.take_cost();
    t.req(0, Op::Unknown(0x42));
    assert_eq!(t.d.take_cost(), COST_REQUEST);
    t.dbuf(1, 512, 512); // 256 pages, and a 1 MiB copy per shown frame
    t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 512, height: 512, pixel_format: xrgb() });
    t.d.take_cost();
    t.req(0, Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: 512, height: 512, bpp: 32 });
    assert!(t.d.take_cost() >= COST_REQUEST + COST_MODESET + 4);
}
