//! One connected `vdispl` device: its display buffers and framebuffers
//! (shared by its connectors), its connectors (`connector.rs`), and what
//! each request does to them, on the screen too when a connector is shown
//! on one (`scanout.rs`).
//!
//! `Display::handle` turns one request into one response; it never panics on
//! guest input and touches guest memory only through bounds-checked
//! mappings. Requests that need connector 0's ring (buffer management)
//! are refused on other rings, as displif.h requires. Each request adds its
//! cost (`take_cost`) so the event loop can share its time by work done,
//! not by requests counted.

use std::collections::HashMap;
use std::time::Instant;

use crate::buffer::{read_pixels, BufError, DbufParams, DisplayBuffer, ExportOutcome, Framebuffer, Grants, Limits, Placement};
use crate::capture::{Capture, RawFrame};
use crate::connector::{Connector, MAX_PENDING_FLIPS};
use crate::protocol::{status, Op, PixelFormat, Request, Response, DBUF_FLG_REQ_ALLOC};
use crate::scanout::{self, ScreenFb};
use crate::screen::{OutputId, Screen};

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
    /// Flip-done events of connectors without a screen are paced to this
    /// rate (0: send at once).
    pub refresh_hz: u32,
    pub zero_copy: ZeroCopy,
    pub limits: Limits,
    /// How long DBUF_DESTROY waits for a dma-buf's users (must stay well
    /// under the frontend's 3000 ms request timeout).
    pub release_timeout_ms: u32,
    /// Share of one CPU (percent) the backend spends on one domain's
    /// requests, at most (0: no limit); beyond it, its rings wait.
    pub max_domain_cpu: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config { refresh_hz: 60, zero_copy: ZeroCopy::Auto, limits: Limits::default(), release_timeout_ms: 1000, max_domain_cpu: 50 }
    }
}

/// State shared by every device of the backend.
#[derive(Debug)]
pub struct Shared {
    pub export_refused: Option<String>,
    /// The screen refused a guest's exported dma-buf: not offered again.
    pub screen_import_refused: bool,
    pub exports: u64,
    /// PNG capture, if asked for.
    pub capture: Option<Capture>,
    /// Bytes of display buffers held for each domain, over all its devices.
    pub domain_bytes: HashMap<u32, u64>,
}

impl Shared {
    pub fn new(cfg: &Config, capture: Option<Capture>) -> Shared {
        Shared {
            export_refused: (cfg.zero_copy == ZeroCopy::Off).then(|| "off by configuration".into()),
            screen_import_refused: false,
            exports: 0,
            capture,
            domain_bytes: HashMap::new(),
        }
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
    pub log: &'a mut dyn Log,
    pub cfg: &'a Config,
    pub shared: &'a mut Shared,
    /// The screen, when the backend drives one.
    pub screen: Option<&'a mut (dyn Screen + 'static)>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("cfg", &self.cfg).field("screen", &self.screen.is_some()).finish()
    }
}

/// Cost units: one for any request, more for what copies or maps a lot.
pub const COST_REQUEST: u32 = 1;
/// A mode set on the screen.
pub const COST_MODESET: u32 = 8;
/// Per 256 KiB copied (one 1024x768 frame at 32 bpp is 12).
pub const COST_COPY_UNIT: usize = 256 << 10;
/// Per 64 pages mapped, shared or granted.
pub const COST_PAGES_UNIT: usize = 64;

/// One connected device.
#[derive(Debug)]
pub struct Display {
    pub domid: u32,
    pub devid: u32,
    /// The toolstack allowed backend allocation (`be-alloc` = 1).
    pub be_alloc: bool,
    pub dbufs: HashMap<u64, DisplayBuffer>,
    pub fbs: HashMap<u64, Framebuffer>,
    /// The screen's framebuffers, when a connector is on a screen.
    pub sfbs: HashMap<u64, ScreenFb>,
    pub connectors: Vec<Connector>,
    /// Bytes of the display buffers held.
    pub bytes: u64,
    cost: u32,
}

/// Why a frame could not be put on the screen.
#[derive(Debug)]
enum ScreenError {
    /// The guest's framebuffer is not usable (not attached, outside its buffer).
    Guest(String),
    /// The card refused the mode set or flip.
    Refused(String),
}

impl std::fmt::Display for ScreenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScreenError::Guest(why) | ScreenError::Refused(why) => f.write_str(why),
        }
    }
}

fn ok(req: &Request) -> Response {
    Response::to(req, status::OK)
}

type ReqResult = Result<(), (i32, String)>;

impl Display {
    pub fn new(domid: u32, devid: u32, be_alloc: bool, resolutions: &[(u32, u32)]) -> Display {
        Display {
            domid,
            devid,
            be_alloc,
            dbufs: HashMap::new(),
            fbs: HashMap::new(),
            sfbs: HashMap::new(),
            connectors: resolutions.iter().enumerate().map(|(i, &(w, h))| Connector::new(i, w, h)).collect(),
            bytes: 0,
            cost: 0,
        }
    }

    /// Show connector `conn` on screen output `out`.
    pub fn set_output(&mut self, conn: usize, out: OutputId) {
        if let Some(c) = self.connectors.get_mut(conn) {
            c.out = Some(out);
        }
    }

    /// Whether any connector is on a screen (buffers then go there too).
    pub fn uses_screen(&self) -> bool {
        self.connectors.iter().any(|c| c.out.is_some())
    }

    /// Cost of the requests handled since the last call.
    pub fn take_cost(&mut self) -> u32 {
        std::mem::take(&mut self.cost)
    }

    /// Answer one request that arrived on connector `conn`'s ring.
    pub fn handle(&mut self, conn: usize, req: &Request, now: Instant, ctx: &mut Ctx<'_>) -> Response {
        self.cost += COST_REQUEST;
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
            Op::FbDetach { fb_cookie } => self.fb_detach(fb_cookie, ctx),
            Op::SetConfig { fb_cookie, x, y, width, height, bpp } => self.set_config(conn, fb_cookie, (x, y, width, height), bpp, now, ctx),
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

    fn dbuf_create(&mut self, p: DbufParams, flags: u32, ctx: &mut Ctx<'_>) -> ReqResult {
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
        let lim = &ctx.cfg.limits;
        if self.dbufs.len() >= lim.max_dbufs {
            return Err(e(BufError::Limit("display buffers")));
        }
        let sz = p.buffer_sz as u64;
        if self.bytes + sz > lim.max_device_bytes {
            return Err(e(BufError::Limit("bytes of display buffers of this device")));
        }
        let dom = ctx.shared.domain_bytes.get(&self.domid).copied().unwrap_or(0);
        if dom + sz > lim.max_domain_bytes {
            return Err(e(BufError::Limit("bytes of display buffers of this domain")));
        }
        let screen = if self.uses_screen() { ctx.screen.as_deref_mut() } else { None };
        let on_screen = screen.is_some();
        // (an export the screen cannot use is not made again)
        let try_export = ctx.shared.export_refused.is_none() && !p.backend_alloc && !(on_screen && ctx.shared.screen_import_refused);
        let t0 = Instant::now();
        let screen_alloc = ctx.cfg.zero_copy == ZeroCopy::Auto;
        let (db, outcome) = DisplayBuffer::create(ctx.grants, self.domid, p, lim, Placement { try_export, screen_alloc, screen }).map_err(e)?;
        self.cost += (db.refs.len() / COST_PAGES_UNIT) as u32;
        let mode = match outcome {
            ExportOutcome::Exported => {
                ctx.shared.exports += 1;
                "mapped + dma-buf exported".to_string()
            }
            ExportOutcome::Refused(err) => {
                ctx.log.log(&format!(
                    "zero-copy: dma-buf export refused ({err}); this kernel cannot export grants here (a PV domain answers EINVAL), falling back to mapping for every buffer"
                ));
                ctx.shared.export_refused = Some(err.to_string());
                if on_screen { "mapped; map-and-copy (the kernel refused the dma-buf export)".to_string() } else { "mapped".to_string() }
            }
            ExportOutcome::OnScreen => "zero-copy: the card's dumb buffer, granted to the guest".to_string(),
            ExportOutcome::ExportedToScreen => {
                ctx.shared.exports += 1;
                "zero-copy: mapped + dma-buf exported, imported by the card".to_string()
            }
            ExportOutcome::ScreenRefused(why) if p.backend_alloc => format!("backend-allocated, shared; map-and-copy ({why})"),
            ExportOutcome::ScreenRefused(why) => {
                ctx.shared.screen_import_refused = true;
                format!("mapped; map-and-copy ({why})")
            }
            ExportOutcome::NotTried if p.backend_alloc => "backend-allocated, shared".to_string(),
            ExportOutcome::NotTried if on_screen => {
                let why = if ctx.cfg.zero_copy == ZeroCopy::Off {
                    "zero-copy off"
                } else if ctx.shared.screen_import_refused {
                    "the card refused an exported dma-buf before"
                } else {
                    "the kernel refused the dma-buf export before"
                };
                format!("mapped; map-and-copy ({why})")
            }
            ExportOutcome::NotTried => "mapped".to_string(),
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
        self.bytes += sz;
        *ctx.shared.domain_bytes.entry(self.domid).or_insert(0) += sz;
        self.dbufs.insert(p.cookie, db);
        Ok(())
    }

    fn dbuf_destroy(&mut self, cookie: u64, ctx: &mut Ctx<'_>) -> ReqResult {
        if !self.dbufs.contains_key(&cookie) {
            return Err((status::ENOENT, format!("DBUF_DESTROY: no dbuf {cookie:#x}")));
        }
        // framebuffers on it go with it, before the buffer
        let gone: Vec<u64> = self.fbs.values().filter(|f| f.dbuf_cookie == cookie).map(|f| f.cookie).collect();
        for fb in gone {
            self.fb_detach(fb, ctx).ok();
        }
        let Some(db) = self.dbufs.remove(&cookie) else { return Ok(()) };
        Self::release_bytes(&mut self.bytes, self.domid, db.params.buffer_sz as u64, ctx.shared);
        let exported = db.exported.is_some();
        let t0 = Instant::now();
        if let Err(err) = db.destroy(ctx.cfg.release_timeout_ms, ctx.screen.as_deref_mut()) {
            ctx.log.log(&format!("dbuf {cookie:#x}: release: {err}"));
        } else if exported {
            ctx.log.log(&format!("dbuf {cookie:#x}: dma-buf released in {:.1} ms", t0.elapsed().as_secs_f64() * 1000.0));
        }
        Ok(())
    }

    fn release_bytes(bytes: &mut u64, domid: u32, sz: u64, shared: &mut Shared) {
        *bytes = bytes.saturating_sub(sz);
        if let Some(d) = shared.domain_bytes.get_mut(&domid) {
            *d = d.saturating_sub(sz);
            if *d == 0 {
                shared.domain_bytes.remove(&domid);
            }
        }
    }

    fn fb_attach(&mut self, dbuf_cookie: u64, fb_cookie: u64, width: u32, height: u32, pixel_format: u32, ctx: &mut Ctx<'_>) -> ReqResult {
        let e = |b: BufError| (b.status(), format!("FB_ATTACH: {b}"));
        if self.fbs.contains_key(&fb_cookie) {
            return Err(e(BufError::Exists("fb cookie")));
        }
        if self.fbs.len() >= ctx.cfg.limits.max_fbs {
            return Err(e(BufError::Limit("framebuffers")));
        }
        let format = PixelFormat::from_fourcc(pixel_format).ok_or((status::EINVAL, format!("FB_ATTACH: unsupported pixel format {pixel_format:#010x}")))?;
        let uses_screen = self.uses_screen();
        let db = self.dbufs.get(&dbuf_cookie).ok_or(e(BufError::NotFound("dbuf")))?;
        let fb = Framebuffer { cookie: fb_cookie, dbuf_cookie, width, height, format };
        fb.validate(&db.params, &ctx.cfg.limits).map_err(e)?;
        if uses_screen {
            if let Some(s) = ctx.screen.as_deref_mut() {
                let sfb = scanout::attach(s, db, &fb).map_err(|err| (status::EINVAL, format!("FB_ATTACH: the screen cannot show {width}x{height} {format:?}: {err}")))?;
                self.sfbs.insert(fb_cookie, sfb);
            }
        }
        self.fbs.insert(fb_cookie, fb);
        Ok(())
    }

    fn fb_detach(&mut self, fb_cookie: u64, ctx: &mut Ctx<'_>) -> ReqResult {
        self.fbs.remove(&fb_cookie).ok_or((status::ENOENT, format!("FB_DETACH: no fb {fb_cookie:#x}")))?;
        if let Some(sfb) = self.sfbs.remove(&fb_cookie) {
            if let Some(s) = ctx.screen.as_deref_mut() {
                scanout::detach(s, sfb);
            }
        }
        for c in &mut self.connectors {
            if c.current.is_some_and(|(f, _, _)| f == fb_cookie) {
                c.current = None;
            }
        }
        Ok(())
    }

    fn set_config(&mut self, conn: usize, fb_cookie: u64, (x, y, width, height): (u32, u32, u32, u32), bpp: u32, now: Instant, ctx: &mut Ctx<'_>) -> ReqResult {
        let out = self.connectors[conn].out;
        if fb_cookie == 0 && x == 0 && y == 0 && width == 0 && height == 0 && bpp == 0 {
            self.connectors[conn].current = None;
            if let (Some(out), Some(s)) = (out, ctx.screen.as_deref_mut()) {
                if let Err(err) = s.set_mode(out, None, 0, 0) {
                    ctx.log.log(&format!("connector {conn}: turning the screen off: {err}"));
                }
            }
            ctx.log.log(&format!("connector {conn}: display off"));
            return Ok(());
        }
        let fb = *self.fbs.get(&fb_cookie).ok_or((status::EINVAL, format!("SET_CONFIG: no fb {fb_cookie:#x}")))?;
        let lim = ctx.cfg.limits.max_dimension;
        if width == 0 || height == 0 || width > lim || height > lim || x.checked_add(width).is_none() || y.checked_add(height).is_none() {
            return Err((status::EINVAL, "SET_CONFIG: bad geometry".into()));
        }
        if bpp != fb.format.bpp() {
            return Err((status::EINVAL, format!("SET_CONFIG: bpp {bpp} does not match the fb's format")));
        }
        // a mode set shows a frame: it counts against the flips waiting
        if self.connectors[conn].pending.len() >= MAX_PENDING_FLIPS {
            return Err((status::EBUSY, "SET_CONFIG: too many flips waiting".into()));
        }
        if let Some(out) = out.filter(|_| ctx.screen.is_some()) {
            self.cost += COST_MODESET;
            self.screen_show(&fb, |s, id| s.set_mode(out, Some(id), width, height), ctx).map_err(|err| match err {
                ScreenError::Guest(why) => (status::EINVAL, format!("SET_CONFIG: {why}")),
                ScreenError::Refused(why) => (status::EINVAL, format!("SET_CONFIG: the screen refused {width}x{height}: {why}")),
            })?;
        }
        let c = &mut self.connectors[conn];
        c.current = Some((fb_cookie, width, height));
        ctx.log.log(&format!(
            "connector {conn}: mode {width}x{height}+{x}+{y} {bpp} bpp, fb {fb_cookie:#x} ({:?}), connector {}x{}{}",
            fb.format,
            c.width,
            c.height,
            if out.is_some() { ", on the screen" } else { "" }
        ));
        c.count_frame(now);
        self.capture(conn, now, ctx);
        Ok(())
    }

    fn pg_flip(&mut self, conn: usize, fb_cookie: u64, now: Instant, ctx: &mut Ctx<'_>) -> ReqResult {
        if !self.fbs.contains_key(&fb_cookie) {
            return Err((status::EINVAL, format!("PG_FLIP: no fb {fb_cookie:#x}")));
        }
        let c = &mut self.connectors[conn];
        if c.pending.len() >= MAX_PENDING_FLIPS {
            return Err((status::EBUSY, "PG_FLIP: too many flips waiting".into()));
        }
        let (w, h) = c.current.map_or((c.width, c.height), |(_, w, h)| (w, h));
        c.current = Some((fb_cookie, w, h));
        if c.out.is_some() && ctx.screen.is_some() {
            c.push_screen(fb_cookie, now);
        } else {
            c.push_paced(fb_cookie, now, ctx.cfg.refresh_hz);
        }
        c.count_frame(now);
        self.start_flips(conn, now, ctx);
        self.capture(conn, now, ctx);
        Ok(())
    }

    /// Hand the next waiting flip of `conn` to the screen if none is in
    /// flight (copying it first in map-and-copy mode). A flip the screen
    /// refuses completes at once, unshown (said once per connector).
    pub fn start_flips(&mut self, conn: usize, now: Instant, ctx: &mut Ctx<'_>) {
        if ctx.screen.is_none() {
            return;
        }
        loop {
            let Some(c) = self.connectors.get(conn) else { return };
            let (Some(out), Some(i)) = (c.out, c.next_to_submit()) else { return };
            let fbc = c.pending[i].fb_cookie;
            let r = match self.fbs.get(&fbc).copied() {
                Some(fb) => self.screen_show(&fb, |s, id| s.flip(out, id), ctx).map_err(|e| e.to_string()),
                None => Err("its framebuffer is gone".to_string()),
            };
            let c = &mut self.connectors[conn];
            c.pending[i].submitted = true;
            match r {
                Ok(()) => return,
                Err(why) => {
                    if !c.flip_error_logged {
                        ctx.log.log(&format!("connector {conn}: a flip was not shown ({why}); its event is sent anyway"));
                        c.flip_error_logged = true;
                    }
                    c.pending[i].due = Some(now);
                }
            }
        }
    }

    /// Put `fb` on the screen with `op` (a mode set or a flip), copying the
    /// frame first in map-and-copy mode. If the card refuses a buffer it
    /// imported, that device's imported buffers are copied instead and `op`
    /// is tried once more.
    fn screen_show(&mut self, fb: &Framebuffer, op: impl Fn(&mut dyn Screen, u32) -> std::io::Result<()>, ctx: &mut Ctx<'_>) -> Result<(), ScreenError> {
        match self.screen_show_once(fb, &op, ctx) {
            Err(ScreenError::Refused(why)) if self.copy_instead_of_import(fb.dbuf_cookie, &why, ctx) => self.screen_show_once(fb, &op, ctx),
            r => r,
        }
    }

    fn screen_show_once(&mut self, fb: &Framebuffer, op: &impl Fn(&mut dyn Screen, u32) -> std::io::Result<()>, ctx: &mut Ctx<'_>) -> Result<(), ScreenError> {
        let Some(s) = ctx.screen.as_deref_mut() else { return Ok(()) };
        let sfb = self.sfbs.get(&fb.cookie).ok_or(ScreenError::Guest("fb not on the screen".into()))?;
        if let (Some(cb), Some(db)) = (&sfb.copy, self.dbufs.get(&fb.dbuf_cookie)) {
            let n = scanout::copy_frame(db, fb, cb).map_err(|e| ScreenError::Guest(e.to_string()))?;
            self.cost += (n / COST_COPY_UNIT) as u32;
        }
        op(s, sfb.fb).map_err(|e| ScreenError::Refused(e.to_string()))
    }

    /// The card imported the guest's dma-buf `dbuf_cookie` but refused to
    /// show it (Linux 6.12's cirrus accepts the import and answers the mode
    /// set with EINVAL): every buffer of this device that the card reads
    /// through an export is copied from now on, its framebuffers remade over
    /// dumb buffers of ours and its dma-buf released, and no later buffer is
    /// exported for the screen. False if `dbuf_cookie` was not such a buffer
    /// (nothing changed, no use trying again).
    fn copy_instead_of_import(&mut self, dbuf_cookie: u64, why: &str, ctx: &mut Ctx<'_>) -> bool {
        let Some(s) = ctx.screen.as_deref_mut() else { return false };
        if !self.dbufs.get(&dbuf_cookie).is_some_and(DisplayBuffer::exported_to_screen) {
            return false;
        }
        ctx.shared.screen_import_refused = true;
        for (&cookie, db) in self.dbufs.iter_mut().filter(|(_, db)| db.exported_to_screen()) {
            let fbs: Vec<Framebuffer> = self.fbs.values().filter(|f| f.dbuf_cookie == cookie).copied().collect();
            for fb in &fbs {
                if let Some(sfb) = self.sfbs.remove(&fb.cookie) {
                    scanout::detach(s, sfb);
                }
            }
            if let Err(err) = db.leave_screen(ctx.cfg.release_timeout_ms, s) {
                ctx.log.log(&format!("dbuf {cookie:#x}: releasing its dma-buf: {err}"));
            }
            for fb in &fbs {
                match scanout::attach(s, db, fb) {
                    Ok(sfb) => {
                        self.sfbs.insert(fb.cookie, sfb);
                    }
                    Err(err) => ctx.log.log(&format!("fb {:#x}: the screen cannot show it copied either: {err}", fb.cookie)),
                }
            }
            ctx.log.log(&format!("dbuf {cookie:#x}: now map-and-copy (the card refused the guest's dma-buf when showing it: {why})"));
        }
        true
    }

    /// The screen completed `conn`'s flip in flight: its event is due now,
    /// and the next waiting flip goes to the screen.
    pub fn screen_flip_done(&mut self, conn: usize, now: Instant, ctx: &mut Ctx<'_>) {
        if let Some(c) = self.connectors.get_mut(conn) {
            c.screen_done(now);
            self.start_flips(conn, now, ctx);
        }
    }

    /// Copy the frame now shown on `conn` (clipped to the connector's
    /// resolution, which the toolstack set) for the PNG encoder, if capture
    /// is on and its rate allows.
    fn capture(&mut self, conn: usize, now: Instant, ctx: &mut Ctx<'_>) {
        let Some(cap) = ctx.shared.capture.as_mut() else { return };
        let c = &self.connectors[conn];
        let Some((fb_cookie, w, h)) = c.current else { return };
        let Some(fb) = self.fbs.get(&fb_cookie) else { return };
        let Some(db) = self.dbufs.get(&fb.dbuf_cookie) else { return };
        if !cap.admit(now) {
            return;
        }
        match read_pixels(db, fb, w.min(c.width), h.min(c.height)) {
            Ok((width, height, pixels)) => {
                self.cost += (pixels.len() / COST_COPY_UNIT) as u32;
                let name = format!("d{}-v{}-c{conn}-{:06}", self.domid, self.devid, c.stats.frames);
                if cap.submit(RawFrame { name, width, height, format: fb.format, pixels }) {
                    self.connectors[conn].stats.pngs += 1;
                }
            }
            Err(err) => ctx.log.log(&format!("connector {conn}: capture failed: {err}")),
        }
    }

    /// Earliest flip-done event due on any connector.
    pub fn next_due(&self) -> Option<Instant> {
        self.connectors.iter().filter_map(|c| c.next_due()).min()
    }

    /// Tear down: turn our screen outputs off, remove the screen's
    /// framebuffers, release exports and imports, unmap every buffer.
    /// Returns what was released: (buffers, screen framebuffers, outputs).
    pub fn teardown(&mut self, ctx: &mut Ctx<'_>) -> (usize, usize, usize) {
        let mut outs = 0;
        for c in &mut self.connectors {
            if let Some(out) = c.out.take() {
                if let Some(s) = ctx.screen.as_deref_mut() {
                    s.release_output(out);
                }
                outs += 1;
            }
            c.current = None;
            c.pending.clear();
        }
        let nsfb = self.sfbs.len();
        for (_, sfb) in self.sfbs.drain() {
            if let Some(s) = ctx.screen.as_deref_mut() {
                scanout::detach(s, sfb);
            }
        }
        self.fbs.clear();
        let nbuf = self.dbufs.len();
        let dbufs: Vec<_> = self.dbufs.drain().collect();
        for (cookie, db) in dbufs {
            Self::release_bytes(&mut self.bytes, self.domid, db.params.buffer_sz as u64, ctx.shared);
            if let Err(e) = db.destroy(ctx.cfg.release_timeout_ms, ctx.screen.as_deref_mut()) {
                ctx.log.log(&format!("dbuf {cookie:#x}: release at teardown: {e}"));
            }
        }
        (nbuf, nsfb, outs)
    }
}

#[cfg(test)]
#[path = "display_tests.rs"]
mod tests;
