//! Which process is running: handles refuse to work in any process but the
//! one that opened them (a fork child shares the device file, and an unmap
//! sent from it would remove the parent's kernel records).
//!
//! `getpid()` is a real system call (glibc stopped caching it), too dear for
//! every map and unmap. The pid is cached in a page marked
//! `MADV_WIPEONFORK`: a fork child gets that page zero-filled, whoever forked
//! and however (libc, a raw syscall, a `clone`), and so asks again.

use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

/// The cache page; NULL until first use, or if it could not be set up.
static CACHE: AtomicPtr<AtomicI32> = AtomicPtr::new(std::ptr::null_mut());
/// Set when the kernel refused `MADV_WIPEONFORK` (Linux before 4.14): then
/// every call asks the kernel.
static UNCACHED: AtomicI32 = AtomicI32::new(0);

/// The calling process's id. Async-signal-safe (atomics and system calls only).
pub fn current() -> i32 {
    let cache = CACHE.load(Ordering::Acquire);
    // SAFETY: a non-NULL CACHE points to a page that is never unmapped.
    if let Some(slot) = unsafe { cache.as_ref() } {
        let pid = slot.load(Ordering::Relaxed);
        if pid != 0 {
            return pid;
        }
        // A fork child: the page came back zeroed.
        let pid = getpid();
        slot.store(pid, Ordering::Relaxed);
        return pid;
    }
    if UNCACHED.load(Ordering::Relaxed) != 0 {
        return getpid();
    }
    install();
    current()
}

fn getpid() -> i32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() }
}

/// Map the cache page. Racing callers each map one; the loser unmaps its own.
fn install() {
    let len = super::mem::page_size();
    // SAFETY: a fresh private anonymous page, placed by the kernel.
    let page = unsafe {
        libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if page == libc::MAP_FAILED {
        UNCACHED.store(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: `page` is ours; madvise only changes how fork treats it.
    if unsafe { libc::madvise(page, len, libc::MADV_WIPEONFORK) } != 0 {
        // SAFETY: unmapping the page we just mapped, which nobody else knows.
        unsafe { libc::munmap(page, len) };
        UNCACHED.store(1, Ordering::Relaxed);
        return;
    }
    // Zero-filled memory is a valid AtomicI32 (0 = "ask the kernel").
    if CACHE.compare_exchange(std::ptr::null_mut(), page.cast(), Ordering::AcqRel, Ordering::Acquire).is_err() {
        // SAFETY: we lost the race; this page was never published.
        unsafe { libc::munmap(page, len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_child_sees_its_own_pid() {
        let parent = current();
        assert_eq!(parent, getpid());
        // SAFETY: the child only calls async-signal-safe functions (atomics,
        // getpid, pipe writes) and leaves with _exit.
        unsafe {
            let mut fds = [0; 2];
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            let child = libc::fork();
            assert!(child >= 0);
            if child == 0 {
                let seen = current();
                let ok = u8::from(seen == getpid() && seen != parent);
                libc::write(fds[1], (&ok as *const u8).cast(), 1);
                libc::_exit(0);
            }
            let mut ok = 0u8;
            assert_eq!(libc::read(fds[0], (&mut ok as *mut u8).cast(), 1), 1);
            libc::waitpid(child, std::ptr::null_mut(), 0);
            libc::close(fds[0]);
            libc::close(fds[1]);
            assert_eq!(ok, 1, "the child saw its parent's pid");
        }
        assert_eq!(current(), parent);
    }
}
