//! Registration with libxentoolcore, so that `xentoolcore_restrict_all()`
//! (used by deprivileged device models) neutralises our descriptors too.

use std::ffi::{c_int, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::LazyLock;

/// `Xentoolcore__Active_Handle` from Xen's (uninstalled)
/// `xentoolcore_internal.h`: a callback and a `LIST_ENTRY` the library links.
#[repr(C)]
struct ActiveHandle {
    restrict_callback: Option<unsafe extern "C" fn(*mut ActiveHandle, u16) -> c_int>,
    le_next: *mut ActiveHandle,
    le_prev: *mut *mut ActiveHandle,
}

/// What we register: the handle first, so the callback can find the fd.
#[repr(C)]
struct Entry {
    ah: ActiveHandle,
    fd: AtomicI32,
}

type RegisterFn = unsafe extern "C" fn(*mut ActiveHandle);

struct Functions {
    register: RegisterFn,
    deregister: RegisterFn,
}

static TOOLCORE: LazyLock<Option<Functions>> = LazyLock::new(|| {
    let lib = c"libxentoolcore.so.1";
    let reg = super::dl::symbol(lib, c"xentoolcore__register_active_handle", c"VERS_1.0")?;
    let dereg = super::dl::symbol(lib, c"xentoolcore__deregister_active_handle", c"VERS_1.0")?;
    // SAFETY: both functions take an Active_Handle pointer and return void.
    unsafe {
        Some(Functions {
            register: std::mem::transmute::<*mut c_void, RegisterFn>(reg.as_ptr()),
            deregister: std::mem::transmute::<*mut c_void, RegisterFn>(dereg.as_ptr()),
        })
    }
});

unsafe extern "C" fn restrict_callback(ah: *mut ActiveHandle, _domid: u16) -> c_int {
    // SAFETY: libxentoolcore passes back the pointer we registered, which
    // points at an Entry that lives until deregistration.
    let fd = unsafe { (*ah.cast::<Entry>()).fd.load(Ordering::Acquire) };
    if fd < 0 {
        return 0;
    }
    dup_null_over(fd)
}

/// Point `fd` at /dev/null so every later ioctl on it fails, keeping the
/// number (and close-on-exec) intact: upstream's
/// `xentoolcore__restrict_by_dup2_null`.
fn dup_null_over(fd: c_int) -> c_int {
    // SAFETY: constant NUL-terminated path; the fd stays open while
    // registered (closed only after deregistration, which takes
    // libxentoolcore's lock), and dup3 replaces it atomically.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null < 0 {
            return -1;
        }
        let rc = libc::dup3(null, fd, libc::O_CLOEXEC);
        libc::close(null);
        if rc < 0 {
            -1
        } else {
            0
        }
    }
}

/// A live registration; deregisters on drop (before the fd is closed).
#[derive(Debug)]
pub struct Registration {
    entry: NonNull<Entry>,
    deregister: RegisterFn,
}

// SAFETY: the entry is only touched through atomics and libxentoolcore's lock.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

impl Registration {
    /// Register (with no fd yet), before opening the device as upstream
    /// does, so that a concurrent restrict cannot miss it. `None` without
    /// libxentoolcore.
    pub fn new() -> Option<Registration> {
        let f = TOOLCORE.as_ref()?;
        let entry = Box::new(Entry {
            ah: ActiveHandle {
                restrict_callback: Some(restrict_callback),
                le_next: std::ptr::null_mut(),
                le_prev: std::ptr::null_mut(),
            },
            fd: AtomicI32::new(-1),
        });
        let entry = NonNull::from(Box::leak(entry));
        // SAFETY: the entry is heap-allocated and stays put until drop,
        // where it is deregistered before being freed.
        unsafe { (f.register)(entry.as_ptr().cast()) };
        Some(Registration { entry, deregister: f.deregister })
    }

    /// Record the descriptor to neutralise.
    pub fn set_fd(&self, fd: i32) {
        // SAFETY: the entry is live; `fd` is atomic.
        unsafe { self.entry.as_ref() }.fd.store(fd, Ordering::Release);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in new(); after deregistration libxentoolcore
        // holds no pointer to the entry, so it can be freed.
        unsafe {
            (self.deregister)(self.entry.as_ptr().cast());
            drop(Box::from_raw(self.entry.as_ptr()));
        }
    }
}
