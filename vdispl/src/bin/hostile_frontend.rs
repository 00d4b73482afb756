//! `vdispl-hostile-frontend`: runs in a guest whose `vdispl` devices have no
//! kernel frontend (do not load `drm_xen_front`), and speaks the protocol
//! itself: shares its own rings with gntshr, binds event channels, writes
//! the frontend's xenstore keys. On the first device it sends malformed
//! requests, page directories and ring indexes; on the second it behaves
//! and checks that the backend still serves it (responses, flip-done events
//! with ids 0, 1, 2, ...). Prints PASS/FAIL lines; exit status 0 if all pass.
//!
//! Guest config: two devices, e.g.
//!   vdispl = [ 'backend=0,be-alloc=0,connectors=0:64x32',
//!              'backend=0,be-alloc=0,connectors=0:64x32' ]
//!
//! `--flood SECONDS` instead floods device `--bad-devid` for that long, as a
//! guest starving others would: the request ring kept full of costly
//! requests (buffers created and destroyed, mode sets, flips) and the event
//! page never consumed. It sleeps while its ring is full, so it costs its
//! own (emulated) CPU little: what it costs the others goes through the
//! backend. Prints what it sent and how the device ended.

use std::time::{Duration, Instant};

use vdispl::evtchn::{EventChannels, Evtchn};
use vdispl::frontend::{malformed_requests, write_directory, FrontPages, Frontend};
use vdispl::mem::SharedMem;
use vdispl::protocol::*;
use vdispl::xenstore::XenStore;
use xengnttab::gntshr::GntShr;

struct RealPages {
    shr: &'static GntShr,
    ev: Evtchn,
    backend: u16,
}

impl FrontPages for RealPages {
    fn grant_page(&mut self) -> Result<(u32, Box<dyn SharedMem>), String> {
        let p = self.shr.share_pages(self.backend.into(), 1, true).map_err(|e| e.to_string())?;
        Ok((p.refs()[0], Box::new(p)))
    }
    fn grant_pages(&mut self, n: usize) -> Result<(Vec<u32>, Box<dyn SharedMem>), String> {
        let p = self.shr.share_pages(self.backend.into(), n, true).map_err(|e| e.to_string())?;
        Ok((p.refs().to_vec(), Box::new(p)))
    }
    fn alloc_port(&mut self) -> Result<u32, String> {
        self.ev.bind_unbound(self.backend as u32).map_err(|e| e.to_string())
    }
    fn notify(&mut self, port: u32) {
        let _ = self.ev.notify(port);
    }
}

struct Report {
    failed: u32,
}

impl Report {
    fn check(&mut self, ok: bool, what: &str) {
        println!("{} {what}", if ok { "PASS" } else { "FAIL" });
        if !ok {
            self.failed += 1;
        }
    }
}

fn wait_state(xs: &mut XenStore, path: &str, want: &[&str], timeout: Duration) -> Option<String> {
    let end = Instant::now() + timeout;
    loop {
        let v = xs.read(path).ok().flatten();
        if v.as_deref().is_some_and(|s| want.contains(&s)) {
            return v;
        }
        if Instant::now() > end {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pause() {
    std::thread::sleep(Duration::from_millis(1));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut bad_dev = 0u32;
    let mut good_dev = 1u32;
    let mut backend = 0u16;
    let mut flips = 30u32;
    let mut flood = 0u32;
    while let Some(a) = args.next() {
        let v: u32 = args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            eprintln!("usage: vdispl-hostile-frontend [--bad-devid N] [--good-devid N] [--backend-domid N] [--flips N]");
            std::process::exit(2)
        });
        match a.as_str() {
            "--bad-devid" => bad_dev = v,
            "--good-devid" => good_dev = v,
            "--backend-domid" => backend = v as u16,
            "--flips" => flips = v,
            "--flood" => flood = v,
            _ => std::process::exit(2),
        }
    }
    let mut xs = XenStore::open().expect("xenstore");
    let domid: u32 = xs.read("domid").ok().flatten().and_then(|v| v.parse().ok()).expect("own domid");
    let shr: &'static GntShr = Box::leak(Box::new(GntShr::open().expect("gntalloc")));
    let mut pages = RealPages { shr, ev: Evtchn::open().expect("evtchn"), backend };
    let mut rep = Report { failed: 0 };
    let dev = |n: u32| format!("/local/domain/{domid}/device/vdispl/{n}");
    let be_state = |xs: &mut XenStore, n: u32| {
        let be = xs.read(&format!("{}/backend", dev(n))).ok().flatten().unwrap_or_default();
        format!("{be}/state")
    };
    if flood > 0 {
        let bs = be_state(&mut xs, bad_dev);
        std::process::exit(flood_device(&mut xs, &dev(bad_dev), &bs, &mut pages, Duration::from_secs(flood as u64)));
    }

    // ---------------- hostile device
    let bs = be_state(&mut xs, bad_dev);
    rep.check(wait_state(&mut xs, &bs, &["2"], Duration::from_secs(30)).as_deref() == Some("2"), "hostile device: backend in InitWait");
    let mut h = Frontend::setup(&mut xs, &dev(bad_dev), &[(64, 32)], &mut pages).expect("setup");
    h.set_state(&mut xs, 3).unwrap();
    rep.check(wait_state(&mut xs, &bs, &["4"], Duration::from_secs(10)).as_deref() == Some("4"), "hostile device: connected");
    let ops = malformed_requests(0x7fff_fff0);
    for op in ops {
        let id = h.send(0, op, &mut pages);
        let r = h.wait_response(0, id, Duration::from_secs(3), pause);
        rep.check(r.is_some_and(|r| r.status < 0 && r.id == id), &format!("hostile request answered with an error: {op:?} -> {r:?}"));
    }
    // a page directory pointing at itself, claiming 1024 pages of zero refs
    let (dref, dpage) = pages.grant_page().unwrap();
    dpage.store_u32(0, dref).unwrap();
    let id = h.send(0, Op::DbufCreate { dbuf_cookie: 2, width: 1024, height: 1024, bpp: 32, buffer_sz: 4 << 20, flags: 0, gref_directory: dref, data_ofs: 0 }, &mut pages);
    let r = h.wait_response(0, id, Duration::from_secs(3), pause);
    rep.check(r.is_some_and(|r| r.status < 0), &format!("looping directory refused: {r:?}"));
    // a producer index far beyond the ring
    h.conns[0].ring.mem.store_u32(0, 100_000).unwrap();
    let port = h.conns[0].req_port;
    pages.notify(port);
    rep.check(wait_state(&mut xs, &bs, &["5"], Duration::from_secs(5)).as_deref() == Some("5"), "ring overflow closes the hostile device");

    // ---------------- well-behaved second device
    let gs = be_state(&mut xs, good_dev);
    rep.check(wait_state(&mut xs, &gs, &["2"], Duration::from_secs(10)).as_deref() == Some("2"), "good device: backend in InitWait");
    let mut f = Frontend::setup(&mut xs, &dev(good_dev), &[(64, 32)], &mut pages).expect("setup");
    f.set_state(&mut xs, 3).unwrap();
    rep.check(wait_state(&mut xs, &gs, &["4"], Duration::from_secs(10)).as_deref() == Some("4"), "good device: connected");
    f.set_state(&mut xs, 4).unwrap();
    let (w, hh) = (64u32, 32u32);
    let (refs, data) = pages.grant_pages((w * hh * 4).div_ceil(4096) as usize).unwrap();
    for y in 0..hh {
        for x in 0..w {
            data.write_at(((y * w + x) * 4) as usize, &[(x * 4) as u8, (y * 8) as u8, 0x80, 0]).unwrap();
        }
    }
    let (dir, _dirs) = write_directory(&refs, &mut pages).unwrap();
    let (dbuf, fbc) = (0xffff_8880_0000_1000u64, 0xffff_8880_0000_2000u64);
    let reqs = [
        Op::DbufCreate { dbuf_cookie: dbuf, width: w, height: hh, bpp: 32, buffer_sz: w * hh * 4, flags: 0, gref_directory: dir, data_ofs: 0 },
        Op::FbAttach { dbuf_cookie: dbuf, fb_cookie: fbc, width: w, height: hh, pixel_format: PixelFormat::Xrgb8888.fourcc() },
        Op::SetConfig { fb_cookie: fbc, x: 0, y: 0, width: w, height: hh, bpp: 32 },
    ];
    for op in reqs {
        let id = f.send(0, op, &mut pages);
        let r = f.wait_response(0, id, Duration::from_secs(3), pause);
        rep.check(r.is_some_and(|r| r.status == 0 && r.id == id), &format!("good request {op:?} -> {r:?}"));
    }
    let t0 = Instant::now();
    let mut next_evt = 0u16;
    let mut ok = true;
    for _ in 0..flips {
        let id = f.send(0, Op::PgFlip { fb_cookie: fbc }, &mut pages);
        let r = f.wait_response(0, id, Duration::from_secs(3), pause);
        ok &= r.is_some_and(|r| r.status == 0 && r.operation == OP_PG_FLIP);
        let end = Instant::now() + Duration::from_secs(3);
        loop {
            let evs = f.events(0);
            if let Some(e) = evs.first() {
                ok &= evs.len() == 1 && e.id == next_evt && e.fb_cookie == fbc && e.kind == EVT_PG_FLIP;
                next_evt = next_evt.wrapping_add(1);
                break;
            }
            if Instant::now() > end {
                ok = false;
                break;
            }
            pause();
        }
    }
    let el = t0.elapsed().as_secs_f64();
    rep.check(ok, &format!("good device: {flips} flips, flip-done events ids 0..{} without gaps, {:.1} flips/s", flips.saturating_sub(1), flips as f64 / el));
    for op in [Op::FbDetach { fb_cookie: fbc }, Op::DbufDestroy { dbuf_cookie: dbuf }] {
        let id = f.send(0, op, &mut pages);
        let r = f.wait_response(0, id, Duration::from_secs(3), pause);
        rep.check(r.is_some_and(|r| r.status == 0), &format!("good request {op:?} -> {r:?}"));
    }
    f.set_state(&mut xs, 5).unwrap();
    rep.check(wait_state(&mut xs, &gs, &["2"], Duration::from_secs(5)).as_deref() == Some("2"), "good device: closing brings the backend back to InitWait");
    f.set_state(&mut xs, 6).unwrap();
    println!("hostile-frontend: {} failure(s)", rep.failed);
    std::process::exit(if rep.failed == 0 { 0 } else { 1 });
}

/// The flood (`--flood`); returns the exit status.
fn flood_device(xs: &mut XenStore, path: &str, bs: &str, pages: &mut RealPages, dur: Duration) -> i32 {
    if wait_state(xs, bs, &["2"], Duration::from_secs(30)).as_deref() != Some("2") {
        println!("flood: backend not in InitWait");
        return 1;
    }
    let mut f = Frontend::setup(xs, path, &[(256, 256)], pages).expect("setup");
    f.set_state(xs, 3).unwrap();
    if wait_state(xs, bs, &["4"], Duration::from_secs(10)).as_deref() != Some("4") {
        println!("flood: not connected");
        return 1;
    }
    f.set_state(xs, 4).unwrap();
    // one 256 KiB buffer (64 pages) whose directory every DBUF_CREATE reuses
    let (w, h) = (256u32, 256u32);
    let (refs, _data) = pages.grant_pages((w * h * 4).div_ceil(4096) as usize).unwrap();
    let (dir, _dirs) = write_directory(&refs, pages).unwrap();
    let fbc = 0xf100_0000u64;
    for op in [
        Op::DbufCreate { dbuf_cookie: 1, width: w, height: h, bpp: 32, buffer_sz: w * h * 4, flags: 0, gref_directory: dir, data_ofs: 0 },
        Op::FbAttach { dbuf_cookie: 1, fb_cookie: fbc, width: w, height: h, pixel_format: PixelFormat::Xrgb8888.fourcc() },
    ] {
        let id = f.send(0, op, pages);
        let _ = f.wait_response(0, id, Duration::from_secs(3), pause);
    }
    let t0 = Instant::now();
    let (mut sent, mut answered, mut busy) = (0u64, 0u64, 0u64);
    let mut cookie = 2u64;
    let mut state = String::new();
    let mut checked = Instant::now();
    while t0.elapsed() < dur {
        let ring = &f.conns[0].ring;
        if ring.req_prod.wrapping_sub(ring.rsp_cons) >= REQ_RING_SIZE {
            for r in f.responses(0) {
                answered += 1;
                busy += (r.status == status::EBUSY) as u64;
            }
            if f.conns[0].ring.req_prod.wrapping_sub(f.conns[0].ring.rsp_cons) >= REQ_RING_SIZE {
                std::thread::sleep(Duration::from_millis(1));
                if checked.elapsed() > Duration::from_millis(200) {
                    checked = Instant::now();
                    state = xs.read(bs).ok().flatten().unwrap_or_default();
                    if state != "4" {
                        break;
                    }
                }
                continue;
            }
        }
        let op = match sent % 8 {
            0 | 1 => Op::DbufCreate { dbuf_cookie: cookie, width: w, height: h, bpp: 32, buffer_sz: w * h * 4, flags: 0, gref_directory: dir, data_ofs: 0 },
            2 | 3 => Op::DbufDestroy { dbuf_cookie: cookie - 1 },
            4 => Op::SetConfig { fb_cookie: fbc, x: 0, y: 0, width: w, height: h, bpp: 32 },
            _ => Op::PgFlip { fb_cookie: fbc },
        };
        if sent % 8 == 1 {
            cookie += 1;
        }
        f.send(0, op, pages);
        sent += 1;
    }
    let state = if state.is_empty() { xs.read(bs).ok().flatten().unwrap_or_default() } else { state };
    println!("flood.seconds: {:.0}", t0.elapsed().as_secs_f64());
    println!("# flood: {sent} requests sent, {answered} answered ({busy} EBUSY), events never consumed");
    println!("flood.device_state: {state}");
    f.set_state(xs, 6).unwrap();
    0
}
