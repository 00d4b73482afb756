//! Test support: the kernel stand-in, `libxgt-standin.so`, an `LD_PRELOAD`
//! library standing in for `/dev/xen/gntdev` and `/dev/xen/gntalloc`
//! (`standin.c` says what it models), the helpers tests use it with, and a
//! counting allocator.
//!
//! A test that needs it calls [`preloaded`]: the first time, in the test
//! process, it runs the same test again in a child process with the stand-in
//! preloaded and checks that it passed; in the child, it returns and the
//! test's body runs against the stand-in.
//!
//! ```no_run
//! #[test]
//! fn maps_a_page() {
//!     if !xengnttab_standin::preloaded("maps_a_page") {
//!         return; // ran (and was checked) in the child
//!     }
//!     // ... the test, with the stand-in loaded ...
//! }
//! ```

use std::ffi::{c_char, c_int, c_uint, CString};
use std::path::Path;
use std::process::Command;

/// The stand-in library.
pub fn library() -> &'static Path {
    Path::new(env!("XGT_STANDIN_SO"))
}

/// What the stand-in "kernel" holds now (`struct xgt_standin_stats`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// gntdev maps on a file's list.
    pub maps: c_int,
    /// Grant mappings (gntdev and gntalloc) in this process.
    pub vmas: c_int,
    /// Grant table entries in use.
    pub grants: c_int,
    /// gntalloc pages held by open files.
    pub gntalloc_pages: c_int,
    /// Unmap notifications sent as events, ever.
    pub events: c_int,
    /// Unmap notifications that cleared a byte, ever.
    pub cleared_bytes: c_int,
    /// dma-bufs exported, ever.
    pub exports: c_int,
    /// dma-bufs imported, ever.
    pub imports: c_int,
    /// Failures injected so far.
    pub injected: c_int,
}

const CHILD: &str = "XGT_STANDIN_CHILD";

/// Run test `name` (its path as the harness knows it, e.g. `"map_fails"`
/// or `"module::map_fails"`) with the stand-in: returns `true` in the child
/// that has it loaded, where the test should go on; in the parent, runs the
/// child, panics unless it passed, and returns `false`.
pub fn preloaded(name: &str) -> bool {
    preloaded_with(name, &[])
}

/// [`preloaded`], with environment variables for the stand-in, read when it
/// loads: `XGT_STANDIN_AUTOTRANSLATED=1` (an auto-translated domain, which
/// may export dma-bufs), `XGT_STANDIN_GNTALLOC_LIMIT`,
/// `XGT_STANDIN_GNTDEV_LIMIT`, `XGT_STANDIN_FAIL`.
pub fn preloaded_with(name: &str, env: &[(&str, &str)]) -> bool {
    if std::env::var(CHILD).is_ok_and(|v| v == name) {
        assert!(loaded(), "{CHILD} is set but the stand-in is not loaded");
        return true;
    }
    let exe = std::env::current_exe().expect("test executable");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .env("LD_PRELOAD", library())
        .envs(env.iter().copied())
        .output()
        .expect("run the test again with the stand-in");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} with the stand-in: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // What the child printed (the harness shows it with --nocapture).
    print!("{stdout}");
    false
}

fn symbol(name: &str) -> *mut libc::c_void {
    let c = CString::new(name).expect("no NUL");
    // SAFETY: dlsym takes a NUL-terminated name; RTLD_DEFAULT searches the
    // preloaded stand-in first.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }
}

/// Whether this process runs with the stand-in preloaded.
pub fn loaded() -> bool {
    !symbol("xgt_standin_stats").is_null()
}

/// After `skip` calls of `op` ("open", "mmap", or an ioctl name such as
/// "MAP_GRANT_REF" or "GNTALLOC_SET_UNMAP_NOTIFY"), make `times` of them
/// (0: every one) fail with `errno`.
pub fn fail(op: &str, errno: i32, skip: u32, times: u32) {
    type F = unsafe extern "C" fn(*const c_char, c_int, c_uint, c_uint) -> c_int;
    let f = symbol("xgt_standin_fail");
    assert!(!f.is_null(), "stand-in not loaded");
    let op = CString::new(op).expect("no NUL");
    // SAFETY: the stand-in's xgt_standin_fail has this signature (standin.h).
    let rc = unsafe { std::mem::transmute::<*mut libc::c_void, F>(f)(op.as_ptr(), errno, skip, times) };
    assert_eq!(rc, 0, "too many injected failures at once");
}

/// Forget every failure still to inject.
pub fn clear_faults() {
    type F = unsafe extern "C" fn();
    let f = symbol("xgt_standin_clear_faults");
    assert!(!f.is_null(), "stand-in not loaded");
    // SAFETY: the stand-in's xgt_standin_clear_faults has this signature.
    unsafe { std::mem::transmute::<*mut libc::c_void, F>(f)() }
}

/// What the stand-in holds now.
pub fn stats() -> Stats {
    type F = unsafe extern "C" fn(*mut Stats);
    let f = symbol("xgt_standin_stats");
    assert!(!f.is_null(), "stand-in not loaded");
    let mut s = Stats::default();
    // SAFETY: the stand-in fills a struct xgt_standin_stats, which Stats mirrors.
    unsafe { std::mem::transmute::<*mut libc::c_void, F>(f)(&mut s) };
    s
}

/// A global allocator that counts each thread's allocations, for tests that
/// show a path allocates nothing: `#[global_allocator] static A:
/// CountingAlloc = CountingAlloc;` in the test binary, then [`allocations`].
#[derive(Debug)]
pub struct CountingAlloc;

thread_local!(static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });

// SAFETY: forwards to the system allocator; the counter is a thread-local Cell.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// Heap allocations this thread made so far (with [`CountingAlloc`] installed).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(std::cell::Cell::get)
}
