//! What every exported function does at the edge: panic guard, errno, and
//! turning C pointers into Rust slices.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use nix::errno::Errno;
use xengnttab::{Error, MAX_COUNT};

/// Run `f`; a panic (a bug in this library) becomes `on_panic` with errno
/// EIO instead of unwinding into C.
pub fn guard<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Errno::EIO.set();
        on_panic
    })
}

/// `0`, or `-1` with errno set.
pub fn int_result(r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => {
            Errno::from_raw(e.raw_os_error()).set();
            -1
        }
    }
}

/// The pointer, or `NULL` with errno set.
pub fn ptr_result<T>(r: Result<*mut T, Error>) -> *mut T {
    r.unwrap_or_else(|e| {
        Errno::from_raw(e.raw_os_error()).set();
        ptr::null_mut()
    })
}

/// A C count: refused (EINVAL) above [`MAX_COUNT`], before any array of
/// that length is looked at.
pub fn count(n: u32) -> Result<usize, Error> {
    match n as usize {
        n if n > MAX_COUNT => Err(Error::InvalidArgument("count above 2^24")),
        n => Ok(n),
    }
}

/// `count` elements at `p`, or EINVAL if `p` is NULL while `count > 0`.
///
/// # Safety
/// A non-NULL `p` must be valid for reads of `count` elements for `'a`
/// (`count` checked by [`count`], so the size cannot overflow).
pub unsafe fn slice<'a, T>(p: *const T, count: usize, what: &'static str) -> Result<&'a [T], Error> {
    debug_assert!(count <= MAX_COUNT);
    if count == 0 {
        Ok(&[])
    } else if p.is_null() {
        Err(Error::InvalidArgument(what))
    } else {
        // SAFETY: non-NULL and valid for `count` reads (caller's promise).
        Ok(unsafe { std::slice::from_raw_parts(p, count) })
    }
}

/// Like [`slice`], for an output array.
///
/// # Safety
/// A non-NULL `p` must be valid for writes of `count` elements for `'a`,
/// and not otherwise accessed meanwhile.
pub unsafe fn slice_mut<'a, T>(p: *mut T, count: usize, what: &'static str) -> Result<&'a mut [T], Error> {
    debug_assert!(count <= MAX_COUNT);
    if count == 0 {
        Ok(&mut [])
    } else if p.is_null() {
        Err(Error::InvalidArgument(what))
    } else {
        // SAFETY: non-NULL and valid for `count` writes (caller's promise).
        Ok(unsafe { std::slice::from_raw_parts_mut(p, count) })
    }
}
