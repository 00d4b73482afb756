//! Fuzzing the request path as a hostile guest drives it: over a million
//! random and mutated requests (every field, boundary values, random bytes),
//! against page directories the guest keeps scribbling on, with and without a
//! screen; and the rings with random index states. Checks: no panic, no hang
//! (every case is bounded and the whole run is timed), no allocation in
//! proportion to a number the guest sent (the largest single allocation is
//! measured by a counting allocator), and everything released at each
//! teardown. Deterministic (fixed seeds), so a failure repeats.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::fake_grants::FakeGrants;
use support::fake_screen::FakeScreen;
use vdispl::buffer::Limits;
use vdispl::capture::Capture;
use vdispl::display::{Config, Ctx, Display, Shared};
use vdispl::mem::{MemBuf, SharedMem};
use vdispl::protocol::*;
use vdispl::ring::{BackRing, EventRing};
use vdispl::screen::{Owner, Screen};

/// Records the largest single allocation while `WATCH` is set.
struct Counting;
static WATCH: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if WATCH.load(Ordering::Relaxed) {
            LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        }
        // SAFETY: the caller's layout, passed through.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as allocated above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if WATCH.load(Ordering::Relaxed) {
            LARGEST.fetch_max(n, Ordering::Relaxed);
        }
        // SAFETY: as allocated above.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }
    /// A value a careless check would get wrong.
    fn edgy_u32(&mut self) -> u32 {
        const E: [u32; 27] = [
            0, 1, 2, 3, 4, 7, 8, 16, 24, 32, 63, 64, 1023, 1024, 4095, 4096, 4097, 8191, 8192, 8193, 65535, 65536, 1 << 24, 0x7fff_ffff, 0x8000_0000, u32::MAX - 1, u32::MAX,
        ];
        if self.chance(70) {
            self.pick(&E)
        } else {
            self.next() as u32
        }
    }
}

const D: u32 = 7;
/// Requests and mutations per run of the request fuzzer.
const REQUEST_CASES: u64 = 1_000_000;
/// Ring states per run of the ring fuzzer.
const RING_CASES: u64 = 200_000;

/// The guest's side: directories it granted (which it keeps changing) and
/// the cookies it used.
struct Guest {
    dirs: Vec<(u32, MemBuf)>,
    cookies: Vec<u64>,
}

fn xrgb() -> u32 {
    PixelFormat::Xrgb8888.fourcc()
}

/// A request from a template of every operation, with plausible values.
fn template(r: &mut Rng, g: &Guest) -> Op {
    let cookie = if r.chance(90) && !g.cookies.is_empty() { r.pick(&g.cookies) } else { r.next() };
    let (w, h) = (r.pick(&[1, 8, 16, 64, 100]), r.pick(&[1, 8, 16, 48, 100]));
    let bpp = r.pick(&[8, 16, 24, 32]);
    match r.below(8) {
        0 | 1 => Op::DbufCreate {
            dbuf_cookie: cookie,
            width: w,
            height: h,
            bpp,
            buffer_sz: (w * h * bpp / 8).max(1),
            flags: r.pick(&[0, 0, DBUF_FLG_REQ_ALLOC]),
            gref_directory: if g.dirs.is_empty() || r.chance(10) { r.edgy_u32() } else { g.dirs[r.index(g.dirs.len())].0 },
            data_ofs: r.pick(&[0, 0, 0, 4, 4096]),
        },
        2 => Op::DbufDestroy { dbuf_cookie: cookie },
        3 => Op::FbAttach { dbuf_cookie: cookie, fb_cookie: r.pick(&g.cookies), width: w, height: h, pixel_format: r.pick(&[xrgb(), PixelFormat::Rgb565.fourcc(), PixelFormat::Argb8888.fourcc(), 0]) },
        4 => Op::FbDetach { fb_cookie: cookie },
        5 => Op::SetConfig { fb_cookie: cookie, x: 0, y: 0, width: w, height: h, bpp: r.pick(&[32, 32, 32, 16]) },
        6 => Op::PgFlip { fb_cookie: cookie },
        _ => Op::GetEdid { buffer_sz: r.edgy_u32(), gref_directory: r.edgy_u32() },
    }
}

/// Mutate an encoded request: bit flips, boundary values over fields, random
/// bytes, or a wholly random packet.
fn mutate(r: &mut Rng, b: &mut [u8; PACKET_SIZE]) {
    match r.below(10) {
        0..=3 => {} // as is
        4 | 5 => {
            for _ in 0..=r.below(4) {
                let i = r.below(PACKET_SIZE as u64) as usize;
                b[i] ^= 1 << r.below(8);
            }
        }
        6 | 7 => {
            // a 4-byte field (requests' fields are 4-aligned from offset 8)
            let o = 8 + 4 * r.below(10) as usize;
            b[o..o + 4].copy_from_slice(&r.edgy_u32().to_le_bytes());
        }
        8 => b[2] = r.next() as u8, // the operation
        _ => {
            for x in b.iter_mut() {
                *x = r.next() as u8;
            }
        }
    }
}

struct World {
    g: FakeGrants,
    cfg: Config,
    shared: Shared,
    screen: FakeScreen,
    d: Display,
    guest: Guest,
}

impl World {
    fn new(with_screen: bool) -> World {
        let mut cfg = Config { refresh_hz: 0, ..Config::default() };
        // small caps keep the fakes' memory small; the checks are the same
        cfg.limits = Limits { max_buffer_bytes: 1 << 20, max_dbufs: 16, max_fbs: 16, max_device_bytes: 4 << 20, max_domain_bytes: 6 << 20, ..Limits::default() };
        let shared = Shared::new(&cfg, Some(Capture::with_output(0, Box::new(Sink))));
        let mut w = World { g: FakeGrants::new(), cfg, shared, screen: FakeScreen::new(&["VGA-1"]), d: Display::new(D, 0, true, &[(64, 48), (16, 16)]), guest: Guest { dirs: vec![], cookies: vec![1, 2, 3] } };
        if with_screen {
            let out = w.screen.claim("VGA-1", Owner { dev: (D, 0), conn: 0 }).unwrap();
            w.d.set_output(0, out);
        }
        w
    }
}

/// Frames captured: thrown away (the fuzz checks the path, not the pixels).
#[derive(Debug)]
struct Sink;
impl vdispl::capture::FrameOut for Sink {
    fn send(&mut self, _f: vdispl::capture::RawFrame) -> bool {
        true
    }
}

fn run_requests(seed: u64, cases: u64, with_screen: bool) -> ([u64; 8], usize) {
    let mut r = Rng(seed);
    let mut w = World::new(with_screen);
    // accepted requests per operation (DBUF_CREATE .. GET_EDID, other)
    let mut ok = [0u64; 8];
    let mut logs = 0usize;
    let now = Instant::now();
    for case in 0..cases {
        // the guest grants directories and data pages, and scribbles on them
        if w.guest.dirs.len() < 8 || r.chance(1) {
            if r.chance(50) {
                let (dir, _) = w.g.guest_buffer(D, r.pick(&[4096, 16384, 64 * 48 * 4]));
                let page = w.g.pages.borrow()[&(D, dir)].clone();
                w.guest.dirs.push((dir, page));
            } else {
                let (dir, page) = w.g.grant(D);
                w.guest.dirs.push((dir, page));
            }
            if w.guest.dirs.len() > 64 {
                w.guest.dirs.remove(0);
            }
        }
        if r.chance(20) {
            let page = w.guest.dirs[r.index(w.guest.dirs.len())].1.clone();
            let off = 4 * r.below(1024) as usize;
            let v = if r.chance(50) { r.edgy_u32() } else { w.guest.dirs[r.index(w.guest.dirs.len())].0 };
            page.store_u32(off, v).unwrap();
        }
        let op = template(&mut r, &w.guest);
        let mut b = Request::new(case as u16, op).encode();
        mutate(&mut r, &mut b);
        let req = Request::decode(&b);
        if let Op::DbufCreate { dbuf_cookie, .. } | Op::FbAttach { fb_cookie: dbuf_cookie, .. } = req.op {
            if w.guest.cookies.len() < 32 {
                w.guest.cookies.push(dbuf_cookie);
            }
        }
        let conn = r.pick(&[0, 0, 0, 1, 2]);
        let mut log = |_: &str| logs += 1;
        let screen = if with_screen { Some(&mut w.screen as &mut (dyn Screen + 'static)) } else { None };
        let mut ctx = Ctx { grants: &w.g, log: &mut log, cfg: &w.cfg, shared: &mut w.shared, screen };
        let resp = w.d.handle(conn, &req, now, &mut ctx);
        assert_eq!((resp.id, resp.operation), (req.id, req.operation), "case {case}: the response echoes the request");
        if resp.status == 0 {
            ok[(req.operation.wrapping_sub(OP_DBUF_CREATE) as usize).min(7)] += 1;
        }
        // the card completes flips, events go out
        if r.chance(30) {
            for (_, owner) in ctx.screen.as_deref_mut().map(|s| s.completed().unwrap()).unwrap_or_default() {
                w.d.screen_flip_done(owner.conn, now, &mut ctx);
            }
            for c in w.d.connectors.iter_mut() {
                while c.due(now + Duration::from_secs(1)).is_some() {
                    c.flip_done(now);
                }
            }
        }
        for c in &w.d.connectors {
            assert!(c.pending.len() <= vdispl::connector::MAX_PENDING_FLIPS, "case {case}: pending flips bounded");
        }
        assert!(w.d.dbufs.len() <= w.cfg.limits.max_dbufs && w.d.fbs.len() <= w.cfg.limits.max_fbs, "case {case}: counts bounded");
        assert!(w.d.bytes <= w.cfg.limits.max_device_bytes, "case {case}: bytes bounded");
        // now and then the guest goes away: everything must be released
        if r.chance(1) && r.chance(5) {
            w.d.teardown(&mut ctx);
            assert!(w.screen.fbs.is_empty() && w.screen.handles.is_empty(), "case {case}: screen objects left: {:?} {:?}", w.screen.fbs, w.screen.handles);
            assert_eq!(w.g.imports.get(), w.g.imports_released.get(), "case {case}: grants of screen buffers left");
            assert!(w.shared.domain_bytes.is_empty(), "case {case}: domain bytes left");
            let keep = std::mem::take(&mut w.guest);
            w = World::new(with_screen);
            w.guest = keep;
            w.guest.dirs.clear();
        }
    }
    (ok, logs)
}

impl Default for Guest {
    fn default() -> Self {
        Guest { dirs: vec![], cookies: vec![1, 2, 3] }
    }
}

#[test]
fn fuzz_requests_and_page_directories() {
    let t0 = Instant::now();
    LARGEST.store(0, Ordering::Relaxed);
    WATCH.store(true, Ordering::Relaxed);
    let mut accepted = [0u64; 8];
    // half with a screen (zero-copy and copy paths), half without
    for (seed, screen) in [(0x5eed_0001, true), (0x5eed_0002, false)] {
        let (ok, _) = run_requests(seed, REQUEST_CASES / 2, screen);
        for (a, o) in accepted.iter_mut().zip(ok) {
            *a += o;
        }
    }
    WATCH.store(false, Ordering::Relaxed);
    let largest = LARGEST.load(Ordering::Relaxed);
    let el = t0.elapsed();
    println!(
        "fuzz: {REQUEST_CASES} requests in {:.1} s, accepted per operation (create, destroy, attach, detach, set-config, flip): {:?}, largest allocation {largest} bytes",
        el.as_secs_f64(),
        &accepted[..6]
    );
    // a guest's numbers reach 4 GiB; nothing we allocate may follow them
    // beyond the configured caps (1 MiB buffers here)
    assert!(largest <= 2 << 20, "an allocation of {largest} bytes");
    assert!(accepted[..6].iter().all(|&n| n > 100), "the fuzzer must reach every accepting path: {accepted:?}");
    assert!(el < Duration::from_secs(600), "no hang: {el:?}");
}

#[test]
fn fuzz_ring_states() {
    let mut r = Rng(0x41_6e67);
    let page = MemBuf::new(XEN_PAGE_SIZE);
    let evpage = MemBuf::new(XEN_PAGE_SIZE);
    let mut ring = BackRing::new(page.clone()).unwrap();
    let mut ev = EventRing::new(evpage.clone()).unwrap();
    let mut errors = 0u64;
    let t0 = Instant::now();
    for case in 0..RING_CASES {
        // the guest writes anything into its indexes and slots
        match r.below(6) {
            0 => page.store_u32(off::SRING_REQ_PROD, r.edgy_u32()).unwrap(),
            1 => page.store_u32(off::SRING_RSP_EVENT, r.edgy_u32()).unwrap(),
            2 => page.store_u32(off::SRING_RSP_PROD, r.edgy_u32()).unwrap(),
            3 => evpage.store_u32(off::EVPAGE_IN_CONS, r.edgy_u32()).unwrap(),
            4 => {
                let o = 4 * r.below(1024) as usize;
                page.store_u32(o, r.next() as u32).unwrap();
            }
            _ => {
                // a well-formed request, after our last one
                let prod = page.load_u32(off::SRING_REQ_PROD).unwrap().wrapping_add(1);
                page.store_u32(off::SRING_REQ_PROD, prod).unwrap();
            }
        }
        let mut taken = 0;
        loop {
            match ring.next_request() {
                Ok(Some(req)) => {
                    taken += 1;
                    assert!(taken <= REQ_RING_SIZE, "case {case}: more than a ring of requests at once");
                    if ring.push_response(&Response::to(&req, status::EINVAL)).is_err() {
                        errors += 1;
                        break;
                    }
                }
                Ok(None) => match ring.final_check() {
                    Ok(true) if taken < REQ_RING_SIZE => continue,
                    _ => break,
                },
                Err(_) => {
                    // a broken ring closes the device: start over on a fresh one
                    errors += 1;
                    page.write_at(0, &[0; 64]).unwrap();
                    ring = BackRing::new(page.clone()).unwrap();
                    break;
                }
            }
        }
        let mut pushed = 0;
        while ev.push_pg_flip(case).unwrap_or(false) {
            pushed += 1;
            assert!(pushed <= EVT_RING_LEN, "case {case}: more events than the page holds");
        }
        if r.chance(10) {
            ev = EventRing::new(evpage.clone()).unwrap();
            evpage.write_at(0, &[0; 64]).unwrap();
        }
    }
    println!("fuzz: {RING_CASES} ring states in {:.1} s, {errors} closed as broken", t0.elapsed().as_secs_f64());
    assert!(errors > 0, "the fuzzer must reach the broken-ring paths");
}
