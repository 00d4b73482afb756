//! What every exported function does at the edge: panic guard, errno, and
//! turning C pointers into Rust references.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use nix::errno::Errno;

use crate::error::Error;

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
            e.errno().set();
            -1
        }
    }
}

/// The pointer, or `NULL` with errno set.
pub fn ptr_result<T>(r: Result<*mut T, Error>) -> *mut T {
    r.unwrap_or_else(|e| {
        e.errno().set();
        ptr::null_mut()
    })
}

/// `count` elements at `p`, or an error if `p` is NULL while `count > 0`.
///
/// # Safety
/// A non-NULL `p` must be valid for reads of `count` elements for `'a`.
pub unsafe fn slice<'a, T>(p: *const T, count: usize, what: &'static str) -> Result<&'a [T], Error> {
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
    if count == 0 {
        Ok(&mut [])
    } else if p.is_null() {
        Err(Error::InvalidArgument(what))
    } else {
        // SAFETY: non-NULL and valid for `count` writes (caller's promise).
        Ok(unsafe { std::slice::from_raw_parts_mut(p, count) })
    }
}
