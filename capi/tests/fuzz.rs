//! A fuzzer over the C ABI, on the kernel stand-in: random calls of all 20
//! functions with random handles (gnttab, gntshr, NULL), counts (0, 1, a
//! few, 2^24, 2^24 + 1, 2^31, UINT32_MAX), NULL and short arrays, stale,
//! interior and foreign addresses, domids above 65535, and failures injected
//! into the stand-in's "kernel" at random. Every input the README promises
//! to refuse must come back -1/NULL with EINVAL; everything else may succeed
//! or fail with a meaningful errno; nothing may crash or hang; and at the
//! end nothing is left mapped, shared or recorded.
//!
//! `XGT_FUZZ_CALLS` (default 100000) and `XGT_FUZZ_SEED` (default: the
//! clock) steer it; the seed is printed, so a failure replays with
//! `XGT_FUZZ_SEED=<seed> cargo test -p xengnttab-capi --test fuzz`.

use std::ffi::c_void;
use std::ptr::null_mut;

use xengnttab_capi::dmabuf::*;
use xengnttab_capi::gnttab::*;
use xengnttab_capi::gntshr::*;
use xengnttab_capi::handle::*;
use xengnttab_capi::types::xengnttab_grant_copy_segment_t;
use xengnttab_standin as standin;

const PAGE: usize = 4096;
const CAP: u32 = 1 << 24;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

/// splitmix64: small, fast, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
}

/// A count, and whether the library must refuse it whatever else is passed.
fn count(rng: &mut Rng) -> (u32, bool) {
    match rng.below(12) {
        0 => (0, false), // refused by map/share/dma-buf, fine for copy
        1 => (CAP + 1, true),
        2 => (1 << 31, true),
        3 => (u32::MAX, true),
        4 if rng.chance(200) => (CAP, false), // the largest count not refused
        _ => (1 + rng.below(4) as u32, false),
    }
}

fn domid(rng: &mut Rng) -> (u32, bool) {
    match rng.below(8) {
        0 => (0x1_0000, true),
        1 => (0x1_0001, true),
        2 => (u32::MAX, true),
        3 => (1, false), // no such domain
        _ => (0, false),
    }
}

/// Memory for arrays: `big` holds zeros for any count up to 2^24 pairs;
/// `short` is 4 elements that end at a guard page.
struct Arrays {
    big: *mut u32,
    short: *mut u32,
}

impl Arrays {
    fn new() -> Arrays {
        // SAFETY: fresh anonymous mappings owned by this test.
        unsafe {
            let big = libc::mmap(null_mut(), (CAP as usize) * 24 + PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0);
            let guard = libc::mmap(null_mut(), 2 * PAGE, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            assert!(big != libc::MAP_FAILED && guard != libc::MAP_FAILED);
            assert_eq!(libc::mprotect(guard.cast::<u8>().add(PAGE).cast(), PAGE, libc::PROT_NONE), 0);
            Arrays { big: big.cast(), short: guard.cast::<u8>().add(PAGE - 16).cast() }
        }
    }

    /// An array for `n` elements that is valid for them (`big` holds 2^24
    /// copy segments), or NULL or short
    /// when the call must be refused before it is read.
    fn pick(&self, rng: &mut Rng, n: u32, refused: bool) -> (*mut u32, bool) {
        match rng.below(10) {
            0 if n > 0 => (null_mut(), true),
            1 | 2 if refused => (self.short, true),
            _ if n as usize <= 4 => (self.short, false),
            _ => (self.big, false),
        }
    }
}

/// What the fuzzer holds.
struct World {
    gt: *mut xengnttab_handle,
    gt2: *mut xengnttab_handle,
    gs: *mut xengntshr_handle,
    maps: Vec<(*mut c_void, u32, *mut xengnttab_handle)>,
    shares: Vec<(*mut c_void, u32)>,
    refs: Vec<u32>,
    gone: Vec<*mut c_void>,
    imports: Vec<(i32, *mut xengnttab_handle)>,
    arrays: Arrays,
    anon: *mut c_void,
    /// Calls that made or removed a mapping or share.
    succeeded: u64,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn set_errno(e: i32) {
    // SAFETY: errno is this thread's.
    unsafe { *libc::__errno_location() = e };
}

static REFUSED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

const MEANINGFUL: &[i32] = &[
    libc::EINVAL,
    libc::ENOSPC,
    libc::ENOMEM,
    libc::ENOENT,
    libc::EFAULT,
    libc::EBADF,
    libc::ENOTTY,
    libc::ETIMEDOUT,
    libc::EAGAIN,
    libc::EIO,
];

/// Check one call's outcome: `failed` and errno, against whether the input
/// had to be refused.
fn judge(what: &str, call: u64, failed: bool, must_refuse: bool) {
    let e = errno();
    if must_refuse {
        assert!(failed && e == libc::EINVAL, "call {call} {what}: refusable input gave failed={failed} errno={e}");
        REFUSED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    } else if failed {
        assert!(MEANINGFUL.contains(&e), "call {call} {what}: failed with errno {e}");
    }
}

impl World {
    fn handle(&self, rng: &mut Rng) -> (*mut xengnttab_handle, bool) {
        match rng.below(10) {
            0 => (null_mut(), true),
            1 => (self.gs, true), // the other kind
            2 => (self.gt2, false),
            _ => (self.gt, false),
        }
    }

    fn shr_handle(&self, rng: &mut Rng) -> (*mut xengntshr_handle, bool) {
        match rng.below(10) {
            0 => (null_mut(), true),
            1 => (self.gt, true),
            _ => (self.gs, false),
        }
    }

    fn some_ref(&self, rng: &mut Rng) -> u32 {
        if self.refs.is_empty() || rng.chance(5) {
            rng.pick(&[0, 1, 7, 0xfff_fff0, u32::MAX])
        } else {
            rng.pick(&self.refs)
        }
    }

    /// One random call. Unsafe calls are sound here: every pointer is NULL,
    /// valid for the count passed, or paired with a count that is refused
    /// before anything is read.
    unsafe fn step(&mut self, rng: &mut Rng, call: u64) {
        set_errno(0);
        // SAFETY: see above.
        unsafe {
            match rng.below(14) {
                0 | 1 => {
                    let (h, bad_h) = self.handle(rng);
                    let (d, bad_d) = domid(rng);
                    let r = self.some_ref(rng);
                    let p = if rng.chance(3) {
                        xengnttab_map_grant_ref_notify(h, d, r, RW, rng.pick(&[0, 5, 4095, 4096, u32::MAX]), rng.pick(&[3, 5000, u32::MAX]))
                    } else {
                        xengnttab_map_grant_ref(h, d, r, rng.pick(&[RW, libc::PROT_READ]))
                    };
                    judge("map_grant_ref", call, p.is_null(), bad_h || bad_d);
                    if !p.is_null() {
                        self.maps.push((p, 1, h));
                    }
                }
                2 => {
                    let (h, bad_h) = self.handle(rng);
                    let (n, bad_n) = count(rng);
                    let (d, bad_d) = domid(rng);
                    let (refs, bad_a) = self.arrays.pick(rng, n, bad_n);
                    self.fill_refs(refs, n, rng);
                    let p = xengnttab_map_domain_grant_refs(h, n, d, refs, RW);
                    judge("map_domain_grant_refs", call, p.is_null(), bad_h || bad_n || bad_a || bad_d || n == 0);
                    if !p.is_null() {
                        self.maps.push((p, n, h));
                    }
                }
                3 => {
                    let (h, bad_h) = self.handle(rng);
                    let (n, bad_n) = count(rng);
                    let (refs, bad_r) = self.arrays.pick(rng, n, bad_n);
                    let (domids, bad_d) = self.arrays.pick(rng, n, bad_n);
                    self.fill_refs(refs, n, rng);
                    let over = n <= 4 && n > 0 && !domids.is_null() && rng.chance(4);
                    if over {
                        *domids = 0x1_0000;
                    }
                    let p = xengnttab_map_grant_refs(h, n, domids, refs, RW);
                    if over {
                        *domids = 0;
                    }
                    judge("map_grant_refs", call, p.is_null(), bad_h || bad_n || bad_r || bad_d || n == 0 || over);
                    if !p.is_null() {
                        self.maps.push((p, n, h));
                    }
                }
                4 | 5 => self.unmap(rng, call),
                6 => {
                    let (h, bad_h) = self.shr_handle(rng);
                    let n = rng.pick(&[0, 1, 2, 3, -1, i32::MAX, 1 << 28, CAP as i32 + 1]);
                    let bad_n = !(1..=CAP as i32).contains(&n);
                    let (d, bad_d) = domid(rng);
                    let (refs, bad_a) = self.arrays.pick(rng, n.max(0) as u32, bad_n);
                    let p = if n == 1 && rng.chance(2) {
                        xengntshr_share_page_notify(h, d, refs, 1, rng.pick(&[0, 4096, u32::MAX]), rng.pick(&[3, 5000, u32::MAX]))
                    } else {
                        xengntshr_share_pages(h, d, n, refs, rng.below(2) as i32)
                    };
                    judge("share_pages", call, p.is_null(), bad_h || bad_n || bad_a || bad_d);
                    if !p.is_null() {
                        self.shares.push((p, n as u32));
                        let got = std::slice::from_raw_parts(refs, n as usize);
                        if d == 0 {
                            self.refs.extend_from_slice(got);
                        }
                    }
                }
                7 => self.unshare(rng, call),
                8 => {
                    let (h, bad_h) = self.handle(rng);
                    let (n, bad_n) = count(rng);
                    let segs: *mut xengnttab_grant_copy_segment_t = if rng.chance(5) {
                        null_mut()
                    } else if bad_n {
                        self.arrays.short.cast()
                    } else {
                        self.arrays.big.cast()
                    };
                    if !segs.is_null() && !bad_n && n <= 4 {
                        for i in 0..n as usize {
                            let s = &mut *segs.add(i);
                            s.flags = rng.below(4) as u16;
                            s.len = rng.pick(&[0, 1, 100, 4096, 5000]);
                            s.source.foreign.r#ref = self.some_ref(rng);
                            s.source.foreign.offset = rng.pick(&[0, 10, 4000]);
                            s.source.foreign.domid = rng.pick(&[0, 1]);
                            s.dest = s.source;
                        }
                    }
                    let rc = xengnttab_grant_copy(h, n, segs);
                    let null_refused = segs.is_null() && n > 0;
                    judge("grant_copy", call, rc == -1, bad_h || bad_n || null_refused);
                    if !segs.is_null() && !bad_n && n <= 4 {
                        std::ptr::write_bytes(segs, 0, n as usize);
                    }
                }
                9 => {
                    let (h, bad_h) = self.handle(rng);
                    let (n, bad_n) = count(rng);
                    let (d, bad_d) = domid(rng);
                    let (refs, bad_a) = self.arrays.pick(rng, n, bad_n);
                    self.fill_refs(refs, n, rng);
                    let mut fd = 0u32;
                    let out = if rng.chance(8) { null_mut() } else { &mut fd as *mut u32 };
                    let rc = xengnttab_dmabuf_exp_from_refs(h, d, rng.below(4) as u32, n, refs, out);
                    judge("exp_from_refs", call, rc == -1, bad_h || bad_n || bad_a || bad_d || n == 0 || out.is_null());
                    assert_eq!(rc, -1, "a PV domain never exports");
                }
                10 => {
                    let (h, bad_h) = self.handle(rng);
                    let rc = xengnttab_dmabuf_exp_wait_released(h, rng.pick(&[0, 3, 999, u32::MAX]), rng.pick(&[0, 1]));
                    judge("exp_wait_released", call, rc == -1, bad_h);
                }
                11 => {
                    let (h, bad_h) = self.handle(rng);
                    let (n, bad_n) = count(rng);
                    let (d, bad_d) = domid(rng);
                    let (refs, bad_a) = self.arrays.pick(rng, n, bad_n);
                    let fd = libc::memfd_create(c"fuzz-dmabuf".as_ptr(), libc::MFD_CLOEXEC);
                    assert!(fd >= 0);
                    libc::ftruncate(fd, (rng.below(4) as usize * PAGE) as libc::off_t);
                    let rc = xengnttab_dmabuf_imp_to_refs(h, d, fd as u32, n, refs);
                    judge("imp_to_refs", call, rc == -1, bad_h || bad_n || bad_a || bad_d || n == 0);
                    if rc == 0 {
                        if rng.chance(2) {
                            let r = xengnttab_dmabuf_imp_release(h, fd as u32);
                            judge("imp_release", call, r == -1, false);
                            libc::close(fd);
                        } else {
                            self.imports.push((fd, h));
                        }
                    } else {
                        libc::close(fd);
                    }
                }
                12 => {
                    let (h, bad_h) = self.handle(rng);
                    let rc = xengnttab_dmabuf_imp_release(h, rng.pick(&[0, 7, 999, u32::MAX]));
                    judge("imp_release", call, rc == -1, bad_h);
                }
                _ => {
                    let (h, bad_h) = self.handle(rng);
                    match rng.below(3) {
                        0 => judge("set_max_grants", call, xengnttab_set_max_grants(h, rng.next() as u32) == -1, bad_h),
                        1 => judge("gnttab_fd", call, xengnttab_fd(h) == -1, bad_h),
                        _ => {
                            let (s, bad_s) = self.shr_handle(rng);
                            judge("gntshr_fd", call, xengntshr_fd(s) == -1, bad_s);
                        }
                    }
                }
            }
        }
    }

    unsafe fn fill_refs(&self, refs: *mut u32, n: u32, rng: &mut Rng) {
        if !refs.is_null() && (n <= 4 || refs == self.arrays.big) {
            for i in 0..(n as usize).min(4) {
                // SAFETY: the array holds at least min(n, 4) elements.
                unsafe { *refs.add(i) = self.some_ref(rng) };
            }
        }
    }

    unsafe fn unmap(&mut self, rng: &mut Rng, call: u64) {
        let (h, bad_h) = self.handle(rng);
        // SAFETY: only calls the C ABI with handles this test owns.
        unsafe {
            if !self.maps.is_empty() && rng.chance(2) {
                let i = rng.below(self.maps.len() as u64) as usize;
                let (addr, n, owner) = self.maps[i];
                let wrong_count = rng.chance(6);
                let rc = xengnttab_unmap(h, addr, if wrong_count { n + 1 } else { n });
                let must_refuse = bad_h || h != owner || wrong_count;
                judge("unmap", call, rc == -1, must_refuse);
                if rc == 0 {
                    self.maps.swap_remove(i);
                    self.gone.push(addr);
                }
            } else {
                let addr = match rng.below(5) {
                    0 => null_mut(),
                    1 => self.anon,
                    2 if !self.gone.is_empty() => rng.pick(&self.gone),
                    3 if !self.maps.is_empty() => rng.pick(&self.maps).0.cast::<u8>().add(PAGE).cast(),
                    _ if !self.shares.is_empty() => rng.pick(&self.shares).0,
                    _ => self.anon,
                };
                let n = rng.pick(&[0, 1, 2, u32::MAX]);
                let rc = xengnttab_unmap(h, addr, n);
                // A stale address may hold a live mapping again; else refused.
                let live = self.maps.iter().position(|m| m.0 == addr && m.1 == n && m.2 == h);
                judge("unmap", call, rc == -1, live.is_none());
                if let (0, Some(i)) = (rc, live) {
                    self.maps.swap_remove(i);
                    self.gone.push(addr);
                }
            }
        }
    }

    unsafe fn unshare(&mut self, rng: &mut Rng, call: u64) {
        let (h, bad_h) = self.shr_handle(rng);
        // SAFETY: only calls the C ABI with handles this test owns.
        unsafe {
            if !self.shares.is_empty() && rng.chance(2) {
                let i = rng.below(self.shares.len() as u64) as usize;
                let (addr, n) = self.shares[i];
                let wrong_count = rng.chance(6);
                let rc = xengntshr_unshare(h, addr, if wrong_count { n + 1 } else { n });
                judge("unshare", call, rc == -1, bad_h || wrong_count);
                if rc == 0 {
                    self.shares.swap_remove(i);
                    self.gone.push(addr);
                }
            } else {
                let addr = match rng.below(4) {
                    0 => null_mut(),
                    1 => self.anon,
                    2 if !self.maps.is_empty() => rng.pick(&self.maps).0,
                    _ if !self.gone.is_empty() => rng.pick(&self.gone),
                    _ => self.anon,
                };
                let live = self.shares.iter().any(|s| s.0 == addr);
                let rc = xengntshr_unshare(h, addr, 1);
                judge("unshare", call, rc == -1, !live);
                if rc == 0 {
                    self.shares.retain(|s| s.0 != addr);
                }
            }
        }
    }
}

#[test]
fn random_calls_of_the_c_abi_never_crash_and_refuse_what_the_readme_says() {
    if !standin::preloaded("random_calls_of_the_c_abi_never_crash_and_refuse_what_the_readme_says") {
        return;
    }
    let seed = std::env::var("XGT_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let calls: u64 = std::env::var("XGT_FUZZ_CALLS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    println!("fuzz: seed {seed}, {calls} calls (replay: XGT_FUZZ_SEED={seed})");
    let mut rng = Rng(seed);
    let before = standin::stats();
    // SAFETY: NULL loggers are allowed; every call below follows the
    // contract of World::step.
    unsafe {
        let mut w = World {
            gt: xengnttab_open(null_mut(), 0),
            gt2: xengnttab_open(null_mut(), 0),
            gs: xengntshr_open(null_mut(), 0),
            maps: Vec::new(),
            shares: Vec::new(),
            refs: Vec::new(),
            gone: Vec::new(),
            imports: Vec::new(),
            succeeded: 0,
            arrays: Arrays::new(),
            anon: libc::mmap(null_mut(), PAGE, RW, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0),
        };
        assert!(!w.gt.is_null() && !w.gt2.is_null() && !w.gs.is_null());
        for call in 0..calls {
            if rng.chance(200) {
                let op = rng.pick(&["MAP_GRANT_REF", "mmap", "SET_UNMAP_NOTIFY", "UNMAP_GRANT_REF", "GET_OFFSET_FOR_VADDR", "ALLOC_GREF", "GNTALLOC_SET_UNMAP_NOTIFY", "GRANT_COPY", "DMABUF_IMP_TO_REFS"]);
                standin::fail(op, rng.pick(&[libc::ENOMEM, libc::EIO, libc::EAGAIN, libc::EFAULT]), rng.below(3) as u32, 1);
            }
            let (made, gone) = (w.maps.len() + w.shares.len(), w.gone.len());
            w.step(&mut rng, call);
            w.succeeded += u64::from(w.maps.len() + w.shares.len() > made || w.gone.len() > gone);
            // Keep the world small: gntalloc's limit is 1024 pages. (A
            // failure injected for the next call may hit these: once.)
            if w.shares.len() > 40 {
                let (a, n) = w.shares.swap_remove(0);
                let ok = (0..2).any(|_| xengntshr_unshare(w.gs, a, n) == 0);
                assert!(ok, "call {call}: unsharing a live share: errno {}", errno());
            }
            if w.maps.len() > 40 {
                let (a, n, h) = w.maps.swap_remove(0);
                let ok = (0..3).any(|_| xengnttab_unmap(h, a, n) == 0);
                assert!(ok, "call {call}: unmapping a live mapping: errno {}", errno());
            }
            if w.gone.len() > 100 {
                w.gone.drain(..50);
            }
        }
        standin::clear_faults();
        for (a, n, h) in std::mem::take(&mut w.maps) {
            assert_eq!(xengnttab_unmap(h, a, n), 0);
        }
        for (a, n) in std::mem::take(&mut w.shares) {
            assert_eq!(xengntshr_unshare(w.gs, a, n), 0);
        }
        for (fd, h) in std::mem::take(&mut w.imports) {
            assert_eq!(xengnttab_dmabuf_imp_release(h, fd as u32), 0);
            libc::close(fd);
        }
        assert_eq!((recorded(w.gt), recorded(w.gt2), recorded(w.gs)), (0, 0, 0), "registry entries left");
        let after = standin::stats();
        assert_eq!(after.vmas, before.vmas, "mappings left");
        assert_eq!(after.gntalloc_pages, before.gntalloc_pages, "shared pages left");
        // Kernel map records outlive a failed map only when the kernel also
        // refused its undo (two injected failures in a row); closing the
        // handles releases them, as the kernel does.
        assert_eq!(xengnttab_close(w.gt) + xengnttab_close(w.gt2) + xengntshr_close(w.gs), 0);
        assert_eq!(standin::stats().maps, before.maps, "kernel map records left after close");
        println!(
            "fuzz: {calls} calls: {} maps, shares, unmaps and unshares done, {} refused inputs, {} failures injected; none left behind",
            w.succeeded, REFUSED.load(std::sync::atomic::Ordering::Relaxed), after.injected
        );
    }
}
