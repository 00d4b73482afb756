//! Stress on the kernel stand-in, with the library's own books checked:
//! 4 threads x 10,000 map/unmap/copy cycles through the C ABI on one
//! handle, SIGUSR1 arriving all the time (its handler unmaps the thread's
//! spare mapping, as backends tearing down from a signal handler do), a fork
//! half way; afterwards no mapping, no descriptor and no registry entry
//! beyond the baseline. (`testing/c-tests/stress.c` runs the same load on both
//! libraries, in dom0 and on the stand-in, without the registry's view.)

use std::cell::Cell;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

use xengnttab_capi::gnttab::{xengnttab_grant_copy, xengnttab_map_grant_ref, xengnttab_unmap};
use xengnttab_capi::gntshr::{xengntshr_share_pages, xengntshr_unshare};
use xengnttab_capi::handle::*;
use xengnttab_capi::types::xengnttab_grant_copy_segment_t;
use xengnttab_standin as standin;

const THREADS: usize = 4;
const CYCLES: usize = 10_000;
const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

static HANDLE: AtomicPtr<xengnttab_handle> = AtomicPtr::new(null_mut());
static HANDLED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SPARE: Cell<*mut libc::c_void> = const { Cell::new(null_mut()) };
}

extern "C" fn on_usr1(_: libc::c_int) {
    // Async-signal-safe: a thread-local read and the library's unmap.
    let spare = SPARE.with(Cell::get);
    // SAFETY: the handle is live while workers run; unmap is async-signal-safe.
    if !spare.is_null() && unsafe { xengnttab_unmap(HANDLE.load(Ordering::Relaxed), spare, 1) } == 0 {
        SPARE.with(|s| s.set(null_mut()));
        HANDLED.fetch_add(1, Ordering::Relaxed);
    }
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn threads_signals_and_a_fork_leave_nothing_behind() {
    if !standin::preloaded("threads_signals_and_a_fork_leave_nothing_behind") {
        return;
    }
    let (fds0, before) = (fds(), standin::stats());
    // SAFETY: C ABI calls with live handles and arrays of the counts passed;
    // sigaction installs a handler that only makes async-signal-safe calls.
    unsafe {
        let gs = xengntshr_open(null_mut(), 0);
        let gt = xengnttab_open(null_mut(), 0);
        HANDLE.store(gt, Ordering::Relaxed);
        let mut refs = [0u32; 2 * THREADS];
        let pages = xengntshr_share_pages(gs, 0, refs.len() as i32, refs.as_mut_ptr(), 1);
        assert!(!pages.is_null());
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, null_mut()), 0);

        let done = AtomicBool::new(false);
        let forked = AtomicBool::new(false);
        let tids: [std::sync::atomic::AtomicI32; THREADS] = Default::default();
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (refs, forked, tids) = (&refs, &forked, &tids);
                    s.spawn(move || {
                        let gt = HANDLE.load(Ordering::Relaxed);
                        tids[t].store(libc::gettid(), Ordering::Relaxed);
                        let (page, scratch) = (refs[2 * t], refs[2 * t + 1]);
                        let buf = [t as u8; 64];
                        let mut back = [0u8; 64];
                        for i in 0..CYCLES {
                            if SPARE.with(Cell::get).is_null() {
                                SPARE.with(|s| s.set(xengnttab_map_grant_ref(gt, 0, page, RW)));
                            }
                            let m = xengnttab_map_grant_ref(gt, 0, page, RW).cast::<u8>();
                            assert!(!m.is_null(), "thread {t} cycle {i}: map");
                            m.add(100).write(i as u8);
                            let mut seg: xengnttab_grant_copy_segment_t = std::mem::zeroed();
                            seg.source.virt = buf.as_ptr().cast_mut().cast();
                            seg.dest.foreign.r#ref = scratch;
                            (seg.len, seg.flags) = (64, 2);
                            assert_eq!(xengnttab_grant_copy(gt, 1, &mut seg), 0);
                            let mut seg: xengnttab_grant_copy_segment_t = std::mem::zeroed();
                            seg.source.foreign.r#ref = scratch;
                            seg.dest.virt = back.as_mut_ptr().cast();
                            (seg.len, seg.flags) = (64, 1);
                            assert_eq!(xengnttab_grant_copy(gt, 1, &mut seg), 0);
                            assert_eq!((seg.status, back), (0, buf));
                            assert_eq!(xengnttab_unmap(gt, m.cast(), 1), 0, "thread {t} cycle {i}: unmap");
                            if t == 0 && i == CYCLES / 2 {
                                let child = libc::fork();
                                if child == 0 {
                                    let spare = SPARE.with(Cell::get);
                                    let refused = spare.is_null() || xengnttab_unmap(gt, spare, 1) == -1;
                                    libc::_exit(if refused && xengnttab_close(gt) == 0 { 0 } else { 1 });
                                }
                                let mut status = 0;
                                libc::waitpid(child, &mut status, 0);
                                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "the fork child");
                                forked.store(true, Ordering::Relaxed);
                            }
                        }
                        // No signal may race the last unmap.
                        let mut usr1: libc::sigset_t = std::mem::zeroed();
                        libc::sigaddset(&mut usr1, libc::SIGUSR1);
                        libc::pthread_sigmask(libc::SIG_BLOCK, &usr1, null_mut());
                        let spare = SPARE.with(Cell::get);
                        if !spare.is_null() {
                            assert_eq!(xengnttab_unmap(gt, spare, 1), 0);
                        }
                    })
                })
                .collect();
            s.spawn(|| {
                let tids = &tids;
                // By thread id: a thread that has finished is simply not found.
                while !done.load(Ordering::Relaxed) {
                    for t in tids {
                        let tid = t.load(Ordering::Relaxed);
                        if tid != 0 {
                            libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR1);
                        }
                    }
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            });
            for w in workers {
                w.join().unwrap();
            }
            done.store(true, Ordering::Relaxed);
        });
        assert!(forked.load(Ordering::Relaxed));
        assert!(HANDLED.load(Ordering::Relaxed) > 0, "no signal handler unmapped anything");
        assert_eq!(recorded(gt), 0, "registry entries left");
        assert_eq!(xengntshr_unshare(gs, pages, refs.len() as u32), 0);
        assert_eq!(recorded(gs), 0);
        let s = standin::stats();
        assert_eq!((s.maps, s.vmas, s.gntalloc_pages), (before.maps, before.vmas, before.gntalloc_pages), "kernel state left");
        assert_eq!(xengnttab_close(gt) + xengntshr_close(gs), 0);
        assert_eq!(fds(), fds0, "descriptors left");
        println!("stress: {} cycles, {} unmaps from the signal handler", THREADS * CYCLES, HANDLED.load(Ordering::Relaxed));
    }
}
