//! The whole backend (xenbus state machine, rings, buffers, capture, pacing)
//! against an in-memory xenstored, in-memory grants and fake event channels:
//! a well-behaved frontend and a hostile one on the same backend.

mod support;

use std::cell::Cell;
use std::time::{Duration, Instant};

use support::fake_grants::FakeGrants;
use support::fake_screen::{FakeScreen, SharedScreen};
use support::fake_xenstored::FakeXenstored;
use vdispl::backend::*;
use vdispl::capture::{Capture, CaptureConfig};
use vdispl::buffer::Grants;
use vdispl::display::Config;
use vdispl::evtchn::FakeEvtchn;
use vdispl::frontend::{malformed_requests, write_directory, FrontPages, Frontend};
use vdispl::mem::SharedMem;
use vdispl::protocol::*;

const ROOT: &str = "/local/domain/0/backend/vdispl";

struct Pages<'a> {
    g: &'a FakeGrants,
    domid: u32,
    port: Cell<u32>,
}

impl FrontPages for Pages<'_> {
    fn grant_page(&mut self) -> Result<(u32, Box<dyn SharedMem>), String> {
        let (r, p) = self.g.grant(self.domid);
        Ok((r, Box::new(p)))
    }
    fn grant_pages(&mut self, n: usize) -> Result<(Vec<u32>, Box<dyn SharedMem>), String> {
        let refs: Vec<u32> = (0..n).map(|_| self.g.grant(self.domid).0).collect();
        let m = self.g.map(self.domid, &refs, true).map_err(|e| e.to_string())?;
        Ok((refs, m))
    }
    fn alloc_port(&mut self) -> Result<u32, String> {
        self.port.set(self.port.get() + 1);
        Ok(self.port.get())
    }
    fn notify(&mut self, _port: u32) {}
}

/// What xl writes for a vdispl device.
fn toolstack_add(xs: &FakeXenstored, domid: u32, be_alloc: bool) -> String {
    let be = format!("{ROOT}/{domid}/0");
    let fe = format!("/local/domain/{domid}/device/vdispl/0");
    xs.set(&format!("{fe}/backend"), &be);
    xs.set(&format!("{fe}/backend-id"), "0");
    xs.set(&format!("{fe}/be-alloc"), if be_alloc { "1" } else { "0" });
    xs.set(&format!("{fe}/state"), "1");
    xs.set(&format!("{be}/frontend"), &fe);
    xs.set(&format!("{be}/frontend-id"), &domid.to_string());
    xs.set(&format!("{be}/online"), "1");
    xs.set(&format!("{be}/state"), "1");
    fe
}

fn be_state(xs: &FakeXenstored, domid: u32) -> Option<String> {
    xs.get(&format!("{ROOT}/{domid}/0/state"))
}

#[test]
fn good_and_hostile_frontends() {
    let xsd = FakeXenstored::start();
    let g = FakeGrants::new();
    let out = std::env::temp_dir().join(format!("vdispl-sim-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let cfg = Config { refresh_hz: 100, ..Config::default() };
    let cap = Capture::start(CaptureConfig { dir: out.clone(), max_per_sec: 0, max_bytes: 1 << 30 }, 8).unwrap();
    let mut be = Backend::new(xsd.client(), &g, FakeEvtchn::default(), cfg, Some(cap), ROOT);
    be.start().unwrap();

    let (good, bad) = (5u32, 6u32);
    let fe_good = toolstack_add(&xsd, good, false);
    let fe_bad = toolstack_add(&xsd, bad, false);
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, good).as_deref(), Some("2"));
    assert_eq!(xsd.get(&format!("{ROOT}/{good}/0/versions")).as_deref(), Some("2"));

    let mut gp = Pages { g: &g, domid: good, port: Cell::new(10) };
    let mut bp = Pages { g: &g, domid: bad, port: Cell::new(10) };
    let mut fx = xsd.client();
    let mut f = Frontend::setup(&mut fx, &fe_good, &[(64, 32), (16, 16)], &mut gp).unwrap();
    let mut h = Frontend::setup(&mut fx, &fe_bad, &[(64, 32)], &mut bp).unwrap();
    f.set_state(&mut fx, 3).unwrap();
    h.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, good).as_deref(), Some("4"));
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("4"));

    let step = |be: &mut Backend<'_, FakeEvtchn>| {
        let ports = be.ports();
        be.on_ports(&ports, Instant::now()).unwrap();
        be.tick(Instant::now()).unwrap();
    };

    // --- the good frontend draws a 64x32 XRGB8888 pattern
    let (w, hgt) = (64u32, 32u32);
    let (refs, data) = gp.grant_pages((w * hgt * 4).div_ceil(4096) as usize).unwrap();
    for y in 0..hgt {
        for x in 0..w {
            data.write_at(((y * w + x) * 4) as usize, &[(x * 4) as u8, (y * 8) as u8, 0x80, 0]).unwrap();
        }
    }
    let (dir, _dirs) = write_directory(&refs, &mut gp).unwrap();
    let dbuf = 0xffff_8880_0badu64;
    let fbc = 0xffff_8880_0f00u64;
    let id = f.send(0, Op::DbufCreate { dbuf_cookie: dbuf, width: w, height: hgt, bpp: 32, buffer_sz: w * hgt * 4, flags: 0, gref_directory: dir, data_ofs: 0 }, &mut gp);
    let r = f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap();
    assert_eq!((r.status, r.operation), (0, OP_DBUF_CREATE));
    let id = f.send(0, Op::FbAttach { dbuf_cookie: dbuf, fb_cookie: fbc, width: w, height: hgt, pixel_format: PixelFormat::Xrgb8888.fourcc() }, &mut gp);
    assert_eq!(f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap().status, 0);
    let id = f.send(0, Op::SetConfig { fb_cookie: fbc, x: 0, y: 0, width: w, height: hgt, bpp: 32 }, &mut gp);
    assert_eq!(f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap().status, 0);
    let flip = |f: &mut Frontend, gp: &mut Pages, be: &mut Backend<'_, FakeEvtchn>| {
        let id = f.send(0, Op::PgFlip { fb_cookie: fbc }, gp);
        let r = f.wait_response(0, id, Duration::from_secs(2), || step(be)).unwrap();
        assert_eq!((r.id, r.operation, r.status), (id, OP_PG_FLIP, 0));
        let end = Instant::now() + Duration::from_secs(2);
        loop {
            let evs = f.events(0);
            if !evs.is_empty() {
                return evs;
            }
            assert!(Instant::now() < end, "no flip-done event");
            std::thread::sleep(Duration::from_millis(2));
            step(be);
        }
    };
    let evs = flip(&mut f, &mut gp, &mut be);
    assert_eq!((evs[0].id, evs[0].kind, evs[0].fb_cookie), (0, EVT_PG_FLIP, fbc));

    // --- the hostile frontend: malformed requests get error responses
    let mut hostile_ops = malformed_requests(99999);
    // a directory that is another domain's grant
    hostile_ops.push(Op::DbufCreate { dbuf_cookie: 1, width: 16, height: 16, bpp: 32, buffer_sz: 1024, flags: 0, gref_directory: refs[0], data_ofs: 0 });
    for op in hostile_ops {
        let id = h.send(0, op, &mut bp);
        let r = h.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap();
        assert!(r.status < 0, "{op:?} answered {}", r.status);
    }
    // a directory that claims more pages than it chains
    let (dir_ref, dir_page) = bp.grant_page().unwrap();
    dir_page.store_u32(0, dir_ref).unwrap(); // points at itself
    let id = h.send(0, Op::DbufCreate { dbuf_cookie: 2, width: 1024, height: 1024, bpp: 32, buffer_sz: 4 << 20, flags: 0, gref_directory: dir_ref, data_ofs: 0 }, &mut bp);
    let r = h.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap();
    assert!(r.status < 0);
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("4"), "errors answered, still connected");

    // then a producer index far beyond the ring: the device is closed
    h.conns[0].ring.mem.store_u32(0, 100_000).unwrap();
    step(&mut be);
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("5"));
    assert!(xsd.get(&format!("{ROOT}/{bad}/0/error")).unwrap().contains("producer"));

    // the good one still works, event ids continue without gaps
    let evs = flip(&mut f, &mut gp, &mut be);
    assert_eq!(evs[0].id, 1);

    // the hostile guest re-initialises: a fresh connection is possible
    h.set_state(&mut fx, 1).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("2"));
    let h2 = Frontend::setup(&mut fx, &fe_bad, &[(64, 32)], &mut bp).unwrap();
    h2.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("4"));
    // and a connection attempt with a ring ref that is not granted fails cleanly
    h2.set_state(&mut fx, 1).unwrap();
    be.reconcile_all().unwrap();
    fx.write(&format!("{fe_bad}/0/req-ring-ref"), "4000000").unwrap();
    h2.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("5"));
    // resolution garbage
    h2.set_state(&mut fx, 1).unwrap();
    be.reconcile_all().unwrap();
    fx.write(&format!("{fe_bad}/0/req-ring-ref"), &h2.conns[0].req_ref.to_string()).unwrap();
    fx.write(&format!("{fe_bad}/0/resolution"), "99999999x-1").unwrap();
    h2.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, bad).as_deref(), Some("5"));

    // PNGs of the good frontend (the encoder thread finishes them first):
    // decode and compare pixel by pixel
    be.finish_capture();
    let mut pngs: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    pngs.sort();
    assert_eq!(pngs.len(), 3, "SET_CONFIG + 2 flips: {pngs:?}");
    assert!(pngs[0].file_name().unwrap().to_str().unwrap().starts_with("d5-v0-c0-"));
    let (pw, ph, rgba) = vdispl::capture::decode(&std::fs::read(&pngs[2]).unwrap()).unwrap();
    assert_eq!((pw, ph), (w, hgt));
    for y in 0..hgt {
        for x in 0..w {
            let i = ((y * w + x) * 4) as usize;
            assert_eq!(&rgba[i..i + 4], &[0x80, (y * 8) as u8, (x * 4) as u8, 255], "pixel {x},{y}");
        }
    }

    // destroy answers after the buffer's dma-buf is released
    let id = f.send(0, Op::FbDetach { fb_cookie: fbc }, &mut gp);
    assert_eq!(f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap().status, 0);
    let released = g.released.get();
    let id = f.send(0, Op::DbufDestroy { dbuf_cookie: dbuf }, &mut gp);
    assert_eq!(f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap().status, 0);
    assert_eq!(g.released.get(), released + 1);

    // frontend driver removal (Closing): back to InitWait, as drm_xen_front waits for
    f.set_state(&mut fx, 5).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, good).as_deref(), Some("2"));
    assert!(be.devices().iter().all(|(k, _, connected)| k.0 != good || !connected));

    // reconnect without restarting the backend
    let mut f2 = Frontend::setup(&mut fx, &fe_good, &[(64, 32)], &mut gp).unwrap();
    f2.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, good).as_deref(), Some("4"));
    let id = f2.send(0, Op::PgFlip { fb_cookie: 1 }, &mut gp);
    assert_eq!(f2.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap().status, status::EINVAL);

    // guest shutdown: the toolstack sets online=0, state=5, waits for 6, removes
    xsd.set(&format!("{ROOT}/{good}/0/online"), "0");
    xsd.set(&format!("{ROOT}/{good}/0/state"), "5");
    be.reconcile_all().unwrap();
    assert_eq!(be_state(&xsd, good).as_deref(), Some("6"));
    xsd.rm(&format!("{ROOT}/{good}"));
    xsd.rm(&format!("/local/domain/{good}"));
    be.reconcile_all().unwrap();
    assert!(be.devices().iter().all(|(k, _, _)| k.0 != good));
    // every port of the good device was unbound
    assert!(be.evtchn.bound.iter().all(|(_, d, _)| *d != good), "{:?}", be.evtchn.bound);

    let _ = std::fs::remove_dir_all(out);
}

/// Several guests on one card: by unique-id, through the connector map, a
/// connector already taken (served without the screen), a unique-id the
/// guest could have written (ignored); flips on the card, events after the
/// card's completion; everything off the card when the guests go.
#[test]
fn guests_on_screen_connectors() {
    let xsd = FakeXenstored::start();
    let g = FakeGrants::new();
    let screen = SharedScreen(std::rc::Rc::new(std::cell::RefCell::new(FakeScreen::new(&["VGA-1", "HDMI-A-1"]))));
    let cfg = Config { refresh_hz: 100, ..Config::default() };
    let map = [("hdmi".to_string(), "HDMI-A-1".to_string())].into_iter().collect();
    let mut be = Backend::new(xsd.client(), &g, FakeEvtchn::default(), cfg, None, ROOT).with_screen(Box::new(screen.clone()), map);
    be.start().unwrap();
    // (domid, unique-id, whether the guest may write the node)
    let guests = [(5u32, "VGA-1", false), (6, "hdmi", false), (7, "VGA-1", false), (8, "HDMI-A-1", true)];
    let mut fes = Vec::new();
    for (d, uid, writable) in guests {
        let fe = toolstack_add(&xsd, d, false);
        xsd.set(&format!("{fe}/0/unique-id"), uid);
        if writable {
            xsd.set_perms(&format!("{fe}/0/unique-id"), &[&format!("n{d}")]);
        }
        fes.push(fe);
    }
    be.reconcile_all().unwrap();
    let mut fx = xsd.client();
    let mut pages: Vec<Pages> = guests.iter().map(|(d, _, _)| Pages { g: &g, domid: *d, port: Cell::new(10) }).collect();
    let mut fronts = Vec::new();
    for (i, fe) in fes.iter().enumerate() {
        let f = Frontend::setup(&mut fx, fe, &[(64, 32)], &mut pages[i]).unwrap();
        f.set_state(&mut fx, 3).unwrap();
        fronts.push(f);
    }
    be.reconcile_all().unwrap();
    {
        let s = screen.0.borrow();
        assert_eq!(s.outputs[0].owner.map(|o| o.dev), Some((5, 0)), "VGA-1 by unique-id");
        assert_eq!(s.outputs[1].owner.map(|o| o.dev), Some((6, 0)), "HDMI-A-1 through the map");
    }
    let step = |be: &mut Backend<'_, FakeEvtchn>| {
        let ports = be.ports();
        be.on_ports(&ports, Instant::now()).unwrap();
        be.on_screen(Instant::now()).unwrap();
        be.tick(Instant::now()).unwrap();
    };
    let (w, h) = (64u32, 32u32);
    for (i, f) in fronts.iter_mut().enumerate() {
        let p = &mut pages[i];
        let (refs, _data) = p.grant_pages((w * h * 4).div_ceil(4096) as usize).unwrap();
        let (dir, _dirs) = write_directory(&refs, p).unwrap();
        for op in [
            Op::DbufCreate { dbuf_cookie: 1, width: w, height: h, bpp: 32, buffer_sz: w * h * 4, flags: 0, gref_directory: dir, data_ofs: 0 },
            Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: w, height: h, pixel_format: PixelFormat::Xrgb8888.fourcc() },
            Op::SetConfig { fb_cookie: 2, x: 0, y: 0, width: w, height: h, bpp: 32 },
            Op::PgFlip { fb_cookie: 2 },
        ] {
            let id = f.send(0, op, p);
            let r = f.wait_response(0, id, Duration::from_secs(2), || step(&mut be)).unwrap();
            assert_eq!(r.status, 0, "guest {}: {op:?}", guests[i].0);
        }
        let end = Instant::now() + Duration::from_secs(2);
        while f.events(0).is_empty() {
            assert!(Instant::now() < end, "guest {}: no frame-done event", guests[i].0);
            step(&mut be);
        }
    }
    {
        let s = screen.0.borrow();
        assert_eq!((s.outputs[0].flips, s.outputs[1].flips), (1, 1), "one flip each on the card, from guests 5 and 6 only");
        assert_eq!(s.fbs.len(), 2, "only the two guests on the card have framebuffers there");
    }
    for (d, _, _) in guests {
        xsd.set(&format!("/local/domain/{d}/device/vdispl/0/state"), "6");
    }
    be.reconcile_all().unwrap();
    let s = screen.0.borrow();
    assert!(s.fbs.is_empty() && s.handles.is_empty() && s.outputs.iter().all(|o| o.owner.is_none()), "card objects left: {:?}", s.fbs);
}

/// A frontend that never consumes its events: the backend looks at the full
/// page every 20 ms (no 1 ms spinning) and cuts the device off after 10 s,
/// saying why; the loop's timeout never drops to a busy wait.
#[test]
fn full_event_page_is_retried_slowly_then_cut_off() {
    let xsd = FakeXenstored::start();
    let g = FakeGrants::new();
    let cfg = Config { refresh_hz: 0, ..Config::default() };
    let mut be = Backend::new(xsd.client(), &g, FakeEvtchn::default(), cfg, None, ROOT);
    be.start().unwrap();
    let d = 9u32;
    let fe = toolstack_add(&xsd, d, false);
    be.reconcile_all().unwrap();
    let mut p = Pages { g: &g, domid: d, port: Cell::new(10) };
    let mut fx = xsd.client();
    let mut f = Frontend::setup(&mut fx, &fe, &[(16, 16)], &mut p).unwrap();
    f.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    let (refs, _data) = p.grant_pages(1).unwrap();
    let (dir, _dirs) = write_directory(&refs, &mut p).unwrap();
    let t0 = Instant::now();
    let step = |be: &mut Backend<'_, FakeEvtchn>, now: Instant| {
        be.on_xenstore().unwrap();
        let ports = be.ports();
        be.on_ports(&ports, now).unwrap();
        be.tick(now).unwrap();
    };
    for op in [
        Op::DbufCreate { dbuf_cookie: 1, width: 16, height: 16, bpp: 32, buffer_sz: 1024, flags: 0, gref_directory: dir, data_ofs: 0 },
        Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 16, height: 16, pixel_format: PixelFormat::Xrgb8888.fourcc() },
    ] {
        let id = f.send(0, op, &mut p);
        assert_eq!(f.wait_response(0, id, Duration::from_secs(2), || step(&mut be, t0)).unwrap().status, 0);
    }
    // 63 events fill the page; the guest never consumes them; 10 more wait
    for _ in 0..(EVT_RING_LEN + 10) {
        let id = f.send(0, Op::PgFlip { fb_cookie: 2 }, &mut p);
        f.wait_response(0, id, Duration::from_secs(2), || step(&mut be, t0)).unwrap();
    }
    step(&mut be, t0);
    assert_eq!(be.timeout(t0), vdispl::serve::STUCK_RETRY, "a full page is looked at again in 20 ms, not 1 ms");
    step(&mut be, t0 + Duration::from_secs(5));
    assert_eq!(xsd.get(&format!("{ROOT}/{d}/0/state")).as_deref(), Some("4"), "5 s: still connected");
    step(&mut be, t0 + Duration::from_secs(11));
    assert_eq!(xsd.get(&format!("{ROOT}/{d}/0/state")).as_deref(), Some("5"), "11 s: cut off");
    let err = xsd.get(&format!("{ROOT}/{d}/0/error")).unwrap_or_default();
    assert!(err.contains("full for 10 s"), "{err}");
}

/// The per-domain CPU share throttles, never stalls: with a share of 20 %,
/// a stream of buffer creations and destructions is held back (its ring
/// waits) and still every request gets its answer.
#[test]
fn cpu_share_throttles_but_answers_everything() {
    let xsd = FakeXenstored::start();
    let g = FakeGrants::new();
    let cfg = Config { refresh_hz: 0, max_domain_cpu: 20, ..Config::default() };
    let mut be = Backend::new(xsd.client(), &g, FakeEvtchn::default(), cfg, None, ROOT);
    be.start().unwrap();
    let d = 12u32;
    let fe = toolstack_add(&xsd, d, false);
    be.reconcile_all().unwrap();
    let mut p = Pages { g: &g, domid: d, port: Cell::new(10) };
    let mut fx = xsd.client();
    let mut f = Frontend::setup(&mut fx, &fe, &[(64, 64)], &mut p).unwrap();
    f.set_state(&mut fx, 3).unwrap();
    be.reconcile_all().unwrap();
    let (refs, _data) = p.grant_pages(4).unwrap();
    let (dir, _dirs) = write_directory(&refs, &mut p).unwrap();
    let step = |be: &mut Backend<'_, FakeEvtchn>| {
        let ports = be.ports();
        be.on_ports(&ports, Instant::now()).unwrap();
        std::thread::sleep(be.timeout(Instant::now()).min(Duration::from_millis(5)));
    };
    let t0 = Instant::now();
    let mut throttled = 0;
    let mut i = 0u64;
    // until the share has held the ring back a few times (or 20 s)
    while throttled < 3 && t0.elapsed() < Duration::from_secs(20) {
        i += 1;
        let op = if i % 2 == 1 {
            Op::DbufCreate { dbuf_cookie: 1, width: 64, height: 64, bpp: 32, buffer_sz: 16384, flags: 0, gref_directory: dir, data_ofs: 0 }
        } else {
            Op::DbufDestroy { dbuf_cookie: 1 }
        };
        let id = f.send(0, op, &mut p);
        let mut held = false;
        let r = f
            .wait_response(0, id, Duration::from_secs(10), || {
                held |= be.throttled_rings() > 0;
                step(&mut be)
            })
            .unwrap_or_else(|| panic!("request {i} never answered"));
        assert_eq!(r.status, 0);
        throttled += held as u32;
    }
    assert!(throttled >= 3, "the share never held the ring back ({i} requests in {:?})", t0.elapsed());
}
