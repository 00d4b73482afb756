//! Registration with libxentoolcore, so that `xentoolcore_restrict_all()`
//! (used by deprivileged device models) neutralises our descriptors too.

use std::ffi::{c_int, c_void};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI32, Ordering};

use once_cell::sync::Lazy;

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

static TOOLCORE: Lazy<Option<Functions>> = Lazy::new(|| {
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
    // SAFETY: the fd stays open while registered (closed only after
    // deregistration, which takes libxentoolcore's lock).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    match crate::sys::dup_null_over(fd) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// Open a Xen device the way both handle types do: register with
/// libxentoolcore first (as upstream does, so a concurrent restrict cannot
/// miss the fd), then open it close-on-exec. Drop the registration before
/// closing the fd.
pub fn open_registered(path: &CStr) -> Result<(Option<Registration>, OwnedFd), nix::errno::Errno> {
    let registration = Registration::new();
    let fd = crate::sys::open_device(path)?;
    if let Some(r) = &registration {
        r.set_fd(fd.as_raw_fd());
    }
    Ok((registration, fd))
}

/// A live registration; deregisters on drop.
pub struct Registration {
    entry: NonNull<Entry>,
    deregister: RegisterFn,
}

// SAFETY: the entry is only touched through atomics and libxentoolcore's lock.
unsafe impl Send for Registration {}
// SAFETY: as above.
unsafe impl Sync for Registration {}

impl Registration {
    /// Register (with no fd yet). `None` without libxentoolcore.
    fn new() -> Option<Registration> {
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
    fn set_fd(&self, fd: i32) {
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
