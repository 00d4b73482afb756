//! One connected `vdispl` device: its display buffers and framebuffers
//! (shared by its connectors) and, per connector, the configured mode, the
//! flips waiting for their flip-done event, frame capture and statistics.
//!
//! `Display::handle` turns one request into one response; it never panics on
//! guest input and touches guest memory only through bounds-checked
//! mappings. Requests that need connector 0's ring (buffer management)
//! are refused on other rings, as displif.h requires.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::buffer::{capture, BufError, DbufParams, DisplayBuffer, ExportOutcome, Framebuffer, Grants, Image, Limits};
use crate::protocol::{status, Op, PixelFormat, Request, Response, DBUF_FLG_REQ_ALLOC};

/// Zero-copy (dma-buf export) policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZeroCopy {
    /// Export when the kernel allows it; after the first refusal, map only.
    Auto,
    /// Never export.
    Off,
}

/// Backend-wide settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Flip-done events are paced to this rate (0: send at once).
    pub refresh_hz: u32,
    /// At most this many PNGs per second per connector (0: every frame).
    pub max_png_per_sec: u32,
    pub zero_copy: ZeroCopy,
    pub limits: Limits,
    /// How long DBUF_DESTROY waits for a dma-buf's users (must stay well
    /// under the frontend's 3000 ms request timeout).
    pub release_timeout_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { refresh_hz: 60, max_png_per_sec: 0, zero_copy: ZeroCopy::Auto, limits: Limits::default(), release_timeout_ms: 1000 }
    }
}

/// State shared by every device of the backend.
pub struct Shared {
    pub export_refused: Option<String>,
    pub exports: u64,
}

impl Shared {
    pub fn new(cfg: &Config) -> Shared {
        Shared { export_refused: (cfg.zero_copy == ZeroCopy::Off).then(|| "off by configuration".into()), exports: 0 }
    }
}

/// Where captured frames go.
pub trait FrameSink {
    fn frame(&mut self, connector: usize, frame_no: u64, img: &Image);
    /// False when frames would be thrown away (no `--out`): then nothing is
    /// captured, so the pixels are not read and converted for nothing.
    fn wants_frames(&self) -> bool {
        true
    }
}

/// Log lines (the backend prefixes device names).
pub trait Log {
    fn log(&mut self, msg: &str);
}

impl<F: FnMut(&str)> Log for F {
    fn log(&mut self, msg: &str) {
        self(msg)
    }
}

/// What a request handler may use.
pub struct Ctx<'a> {
    pub grants: &'a dyn Grants,
    pub sink: &'a mut dyn FrameSink,
    pub log: &'a mut dyn Log,
    pub cfg: &'a Config,
    pub shared: &'a mut Shared,
}

/// A flip answered but whose flip-done event is not sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingFlip {
    pub fb_cookie: u64,
    pub requested: Instant,
    pub due: Instant,
}

/// Rolling statistics of one connector.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub pngs: u64,
    pub window_start: Option<Instant>,
    pub window_frames: u32,
    pub window_latency_sum: Duration,
    pub window_latency_max: Duration,
    pub window_flips: u32,
}

/// One connector's state.
pub struct Connector {
    pub index: usize,
    pub width: u32,
    pub height: u32,
    /// fb shown, with the SET_CONFIG width/height.
    pub current: Option<(u64, u32, u32)>,
    pub pending: VecDeque<PendingFlip>,
    last_due: Option<Instant>,
    last_png: Option<Instant>,
    pub stats: Stats,
}

/// Most flips that may wait for their event (a well-behaved frontend has one).
pub const MAX_PENDING_FLIPS: usize = 32;

impl Connector {
    pub fn new(index: usize, width: u32, height: u32) -> Connector {
        Connector { index, width, height, current: None, pending: VecDeque::new(), last_due: None, last_png: None, stats: Stats::default() }
    }

    /// When the next flip-done event is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.front().map(|p| p.due)
    }

    /// Take the flips whose event is due (the caller sends them in order
    /// and calls `flip_done` for each one it could send).
    pub fn due(&self, now: Instant) -> Option<PendingFlip> {
        self.pending.front().copied().filter(|p| p.due <= now)
    }

    /// The event for the first pending flip was sent at `now`.
    pub fn flip_done(&mut self, now: Instant) {
        if let Some(p) = self.pending.pop_front() {
            let lat = now.saturating_duration_since(p.requested);
            self.stats.window_latency_sum += lat;
            self.stats.window_latency_max = self.stats.window_latency_max.max(lat);
            self.stats.window_flips += 1;
        }
    }

    /// A line of statistics once a second of activity has passed.
    pub fn stats_line(&mut self, now: Instant) -> Option<String> {
        let start = self.stats.window_start?;
        let el = now.saturating_duration_since(start);
        if el < Duration::from_secs(1) {
            return None;
        }
        let s = &mut self.stats;
        let fps = s.window_frames as f64 / el.as_secs_f64();
        let line = if s.window_flips > 0 {
            format!(
                "connector {}: {:.1} fps, flip latency avg {:.1} ms max {:.1} ms ({} flips), {} frames, {} png total",
                self.index,
                fps,
                s.window_latency_sum.as_secs_f64() * 1000.0 / s.window_flips as f64,
                s.window_latency_max.as_secs_f64() * 1000.0,
                s.window_flips,
                s.frames,
                s.pngs
            )
        } else {
            format!("connector {}: {:.1} fps, {} frames, {} png total", self.index, fps, s.frames, s.pngs)
        };
        s.window_start = if s.window_frames > 0 || s.window_flips > 0 { Some(now) } else { None };
        s.window_frames = 0;
        s.window_flips = 0;
        s.window_latency_sum = Duration::ZERO;
        s.window_latency_max = Duration::ZERO;
        Some(line)
    }
}

/// One connected device.
pub struct Display {
    pub domid: u32,
    /// The frontend's `be-alloc` was "1".
    pub be_alloc: bool,
    pub dbufs: HashMap<u64, DisplayBuffer>,
    pub fbs: HashMap<u64, Framebuffer>,
    pub connectors: Vec<Connector>,
}

fn ok(req: &Request) -> Response {
    Response::to(req, status::OK)
}

impl Display {
    pub fn new(domid: u32, be_alloc: bool, resolutions: &[(u32, u32)]) -> Display {
        Display {
            domid,
            be_alloc,
            dbufs: HashMap::new(),
            fbs: HashMap::new(),
            connectors: resolutions.iter().enumerate().map(|(i, &(w, h))| Connector::new(i, w, h)).collect(),
        }
    }

    /// Answer one request that arrived on connector `conn`'s ring.
    pub fn handle(&mut self, conn: usize, req: &Request, now: Instant, ctx: &mut Ctx<'_>) -> Response {
        if conn >= self.connectors.len() {
            return Response::to(req, status::EINVAL);
        }
        let needs_ring0 = matches!(req.op, Op::DbufCreate { .. } | Op::DbufDestroy { .. } | Op::FbAttach { .. } | Op::FbDetach { .. });
        if needs_ring0 && conn != 0 {
            ctx.log.log(&format!("connector {conn}: buffer request {:#x} not on connector 0's ring: refused", req.operation));
            return Response::to(req, status::EINVAL);
        }
        let r = match req.op {
            Op::DbufCreate { dbuf_cookie, width, height, bpp, buffer_sz, flags, gref_directory, data_ofs } => {
                let p = DbufParams { cookie: dbuf_cookie, width, height, bpp, buffer_sz, gref_directory, data_ofs, backend_alloc: flags & DBUF_FLG_REQ_ALLOC != 0 };
                self.dbuf_create(p, flags, ctx)
            }
            Op::DbufDestroy { dbuf_cookie } => self.dbuf_destroy(dbuf_cookie, ctx),
            Op::FbAttach { dbuf_cookie, fb_cookie, width, height, pixel_format } => self.fb_attach(dbuf_cookie, fb_cookie, width, height, pixel_format, ctx),
            Op::FbDetach { fb_cookie } => self.fb_detach(fb_cookie),
            Op::SetConfig { fb_cookie, x, y, width, height, bpp } => self.set_config(conn, fb_cookie, x, y, width, height, bpp, now, ctx),
            Op::PgFlip { fb_cookie } => self.pg_flip(conn, fb_cookie, now, ctx),
            // Optional in version 2: the frontend then uses the resolution
            // from xenstore.
            Op::GetEdid { .. } => Err((status::EOPNOTSUPP, "GET_EDID not supported".to_string())),
            Op::Unknown(op) => Err((status::EINVAL, format!("unknown operation {op:#x}"))),
        };
        match r {
            Ok(()) => ok(req),
            Err((st, msg)) => {
                ctx.log.log(&format!("connector {conn}: request id {} op {:#x}: {msg} (status {st})", req.id, req.operation));
                Response::to(req, st)
            }
        }
    }

    fn dbuf_create(&mut self, p: DbufParams, flags: u32, ctx: &mut Ctx<'_>) -> Result<(), (i32, String)> {
        let e = |b: BufError| (b.status(), format!("DBUF_CREATE: {b}"));
        if flags & !DBUF_FLG_REQ_ALLOC != 0 {
            return Err(e(BufError::Invalid("unknown flags")));
        }
        if p.backend_alloc && !self.be_alloc {
            return Err(e(BufError::Invalid("backend allocation asked without be-alloc")));
        }
        if self.dbufs.contains_key(&p.cookie) {
            return Err(e(BufError::Exists("dbuf cookie")));
        }
        if self.dbufs.len() >= ctx.cfg.limits.max_dbufs {
            return Err(e(BufError::Limit("display buffers")));
        }
        let try_export = ctx.shared.export_refused.is_none() && !p.backend_alloc;
        let t0 = Instant::now();
        let (db, outcome) = DisplayBuffer::create(ctx.grants, self.domid, p, &ctx.cfg.limits, try_export).map_err(e)?;
        let mode = match outcome {
            ExportOutcome::Exported => {
                ctx.shared.exports += 1;
                "mapped + dma-buf exported"
            }
            ExportOutcome::Refused(err) => {
                ctx.log.log(&format!(
                    "zero-copy: dma-buf export refused ({err}); this kernel cannot export grants here (a PV domain answers EINVAL), falling back to mapping for every buffer"
                ));
                ctx.shared.export_refused = Some(err.to_string());
                "mapped"
            }
            ExportOutcome::NotTried if p.backend_alloc => "backend-allocated, shared",
            ExportOutcome::NotTried => "mapped",
        };
        ctx.log.log(&format!(
            "dbuf {:#x}: {}x{} {} bpp, {} bytes, {} pages, {mode} in {:.1} ms",
            p.cookie,
            p.width,
            p.height,
            p.bpp,
            p.buffer_sz,
            db.refs.len(),
            t0.elapsed().as_secs_f64() * 1000.0
        ));
        self.dbufs.insert(p.cookie, db);
        Ok(())
    }

    fn dbuf_destroy(&mut self, cookie: u64, ctx: &mut Ctx<'_>) -> Result<(), (i32, String)> {
        let db = self.dbufs.remove(&cookie).ok_or((status::ENOENT, format!("DBUF_DESTROY: no dbuf {cookie:#x}")))?;
        // framebuffers on it go with it
        let gone: Vec<u64> = self.fbs.values().filter(|f| f.dbuf_cookie == cookie).map(|f| f.cookie).collect();
        for fb in gone {
            self.fb_detach(fb).ok();
        }
        let exported = db.exported.is_some();
        let t0 = Instant::now();
        if let Err(err) = db.destroy(ctx.cfg.release_timeout_ms) {
            ctx.log.log(&format!("dbuf {cookie:#x}: dma-buf release: {err}"));
        } else if exported {
            ctx.log.log(&format!("dbuf {cookie:#x}: dma-buf released in {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0));
        }
        Ok(())
    }

    fn fb_attach(&mut self, dbuf_cookie: u64, fb_cookie: u64, width: u32, height: u32, pixel_format: u32, ctx: &mut Ctx<'_>) -> Result<(), (i32, String)> {
        let e = |b: BufError| (b.status(), format!("FB_ATTACH: {b}"));
        if self.fbs.contains_key(&fb_cookie) {
            return Err(e(BufError::Exists("fb cookie")));
        }
        if self.fbs.len() >= ctx.cfg.limits.max_fbs {
            return Err(e(BufError::Limit("framebuffers")));
        }
        let format = PixelFormat::from_fourcc(pixel_format).ok_or((status::EINVAL, format!("FB_ATTACH: unsupported pixel format {pixel_format:#010x}")))?;
        let db = self.dbufs.get(&dbuf_cookie).ok_or(e(BufError::NotFound("dbuf")))?;
        let fb = Framebuffer { cookie: fb_cookie, dbuf_cookie, width, height, format };
        fb.validate(&db.params).map_err(e)?;
        self.fbs.insert(fb_cookie, fb);
        Ok(())
    }

    fn fb_detach(&mut self, fb_cookie: u64) -> Result<(), (i32, String)> {
        self.fbs.remove(&fb_cookie).ok_or((status::ENOENT, format!("FB_DETACH: no fb {fb_cookie:#x}")))?;
        for c in &mut self.connectors {
            if c.current.is_some_and(|(f, _, _)| f == fb_cookie) {
                c.current = None;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn set_config(&mut self, conn: usize, fb_cookie: u64, x: u32, y: u32, width: u32, height: u32, bpp: u32, now: Instant, ctx: &mut Ctx<'_>) -> Result<(), (i32, String)> {
        if fb_cookie == 0 && x == 0 && y == 0 && width == 0 && height == 0 && bpp == 0 {
            self.connectors[conn].current = None;
            ctx.log.log(&format!("connector {conn}: display off"));
            return Ok(());
        }
        let fb = *self.fbs.get(&fb_cookie).ok_or((status::EINVAL, format!("SET_CONFIG: no fb {fb_cookie:#x}")))?;
        if width == 0 || height == 0 || x.checked_add(width).is_none() || y.checked_add(height).is_none() {
            return Err((status::EINVAL, "SET_CONFIG: bad geometry".into()));
        }
        if bpp != fb.format.bpp() {
            return Err((status::EINVAL, format!("SET_CONFIG: bpp {bpp} does not match the fb's format")));
        }
        let c = &mut self.connectors[conn];
        c.current = Some((fb_cookie, width, height));
        ctx.log.log(&format!(
            "connector {conn}: mode {width}x{height}+{x}+{y} {bpp} bpp, fb {fb_cookie:#x} ({:?}), connector {}x{}",
            fb.format, c.width, c.height
        ));
        self.show_frame(conn, now, ctx);
        Ok(())
    }

    fn pg_flip(&mut self, conn: usize, fb_cookie: u64, now: Instant, ctx: &mut Ctx<'_>) -> Result<(), (i32, String)> {
        if !self.fbs.contains_key(&fb_cookie) {
            return Err((status::EINVAL, format!("PG_FLIP: no fb {fb_cookie:#x}")));
        }
        let c = &mut self.connectors[conn];
        if c.pending.len() >= MAX_PENDING_FLIPS {
            return Err((status::EBUSY, "PG_FLIP: too many flips waiting".into()));
        }
        let (w, h) = c.current.map_or((c.width, c.height), |(_, w, h)| (w, h));
        c.current = Some((fb_cookie, w, h));
        let period = if ctx.cfg.refresh_hz == 0 { Duration::ZERO } else { Duration::from_secs(1) / ctx.cfg.refresh_hz };
        let due = match c.last_due {
            Some(last) if last + period > now => last + period,
            _ => now,
        };
        c.last_due = Some(due);
        c.pending.push_back(PendingFlip { fb_cookie, requested: now, due });
        self.show_frame(conn, now, ctx);
        Ok(())
    }

    /// A new frame is on screen: count it and capture it if the rate allows.
    fn show_frame(&mut self, conn: usize, now: Instant, ctx: &mut Ctx<'_>) {
        let c = &mut self.connectors[conn];
        c.stats.frames += 1;
        c.stats.window_frames += 1;
        c.stats.window_start.get_or_insert(now);
        let Some((fb_cookie, w, h)) = c.current else { return };
        if !ctx.sink.wants_frames() {
            return;
        }
        if ctx.cfg.max_png_per_sec > 0 {
            let gap = Duration::from_secs(1) / ctx.cfg.max_png_per_sec;
            if c.last_png.is_some_and(|t| now.saturating_duration_since(t) < gap) {
                return;
            }
        }
        let Some(fb) = self.fbs.get(&fb_cookie) else { return };
        let Some(db) = self.dbufs.get(&fb.dbuf_cookie) else { return };
        match capture(db, fb, w, h) {
            Ok(img) => {
                c.last_png = Some(now);
                c.stats.pngs += 1;
                ctx.sink.frame(conn, c.stats.frames, &img);
            }
            Err(err) => ctx.log.log(&format!("connector {conn}: capture failed: {err}")),
        }
    }

    /// Earliest flip-done event due on any connector.
    pub fn next_due(&self) -> Option<Instant> {
        self.connectors.iter().filter_map(|c| c.next_due()).min()
    }

    /// Tear down: release exports and unmap every buffer.
    pub fn teardown(&mut self, cfg: &Config, log: &mut dyn Log) {
        self.fbs.clear();
        for (cookie, db) in self.dbufs.drain() {
            if let Err(e) = db.destroy(cfg.release_timeout_ms) {
                log.log(&format!("dbuf {cookie:#x}: release at teardown: {e}"));
            }
        }
        for c in &mut self.connectors {
            c.current = None;
            c.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::fake::FakeGrants;
    use crate::protocol::*;

    const D: u32 = 3;

    #[derive(Default)]
    /// Captured frames; `.1` = true: a sink that wants none (no `--out`).
    struct Sink(Vec<(usize, u64, Image)>, bool);
    impl FrameSink for Sink {
        fn frame(&mut self, c: usize, n: u64, img: &Image) {
            self.0.push((c, n, img.clone()));
        }
        fn wants_frames(&self) -> bool {
            !self.1
        }
    }

    struct T {
        g: FakeGrants,
        cfg: Config,
        shared: Shared,
        sink: Sink,
        logs: Vec<String>,
        d: Display,
        id: u16,
    }

    impl T {
        fn new(be_alloc: bool) -> T {
            let cfg = Config { refresh_hz: 50, ..Config::default() };
            let shared = Shared::new(&cfg);
            T { g: FakeGrants::new(), cfg, shared, sink: Sink::default(), logs: vec![], d: Display::new(D, be_alloc, &[(64, 48), (32, 32)]), id: 0 }
        }
        fn req_at(&mut self, conn: usize, op: Op, now: Instant) -> Response {
            self.id = self.id.wrapping_add(1);
            let req = Request::new(self.id, op);
            let logs = &mut self.logs;
            let mut log = |s: &str| logs.push(s.to_string());
            let mut ctx = Ctx { grants: &self.g, sink: &mut self.sink, log: &mut log, cfg: &self.cfg, shared: &mut self.shared };
            let r = self.d.handle(conn, &req, now, &mut ctx);
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
        assert_eq!(t.sink.0.len(), 1, "first frame comes with SET_CONFIG");
        let img = &t.sink.0[0].2;
        assert_eq!(&img.rgba[(5 * 64 + 7) * 4..(5 * 64 + 7) * 4 + 4], &[7, 5, 9, 255]);
        let t0 = Instant::now();
        assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 0xf000 }, t0).status, 0);
        assert_eq!(t.req_at(0, Op::PgFlip { fb_cookie: 0xf000 }, t0).status, 0);
        let c = &t.d.connectors[0];
        assert_eq!(c.pending.len(), 2);
        // paced: the second flip's event is one period (20 ms at 50 Hz) later
        assert_eq!(c.pending[1].due - c.pending[0].due, Duration::from_millis(20));
        assert_eq!(t.sink.0.len(), 3);
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
        assert_eq!((t.sink.0.last().unwrap().2.width, t.sink.0.last().unwrap().2.height), (16, 16));
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
        t.cfg.max_png_per_sec = 2;
        t.dbuf(1, 4, 4);
        t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
        let t0 = Instant::now();
        for i in 0..10 {
            t.req_at(0, Op::PgFlip { fb_cookie: 2 }, t0 + Duration::from_millis(100 * i));
        }
        // 0, 500 ms: two PNGs in one second of flips
        assert_eq!(t.sink.0.len(), 2);
        assert_eq!(t.d.connectors[0].stats.frames, 10);
    }

    #[test]
    fn no_capture_without_output() {
        let mut t = T::new(false);
        t.sink.1 = true;
        t.dbuf(1, 4, 4);
        t.req(0, Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 4, height: 4, pixel_format: xrgb() });
        for _ in 0..3 {
            t.req(0, Op::PgFlip { fb_cookie: 2 });
        }
        assert_eq!(t.sink.0.len(), 0);
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
        let img = &t.sink.0[0].2;
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
}
