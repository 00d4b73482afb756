//! `xengnttab_handle` / `xengntshr_handle`: open, close, fd.

use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::{self, NonNull};

use super::boundary::{guard, int_result, ptr_result};
use super::registry::Registry;
use super::types::xentoollog_logger;
use crate::error::{Error, Result};
use crate::gnttab::{GntDev, GrantMapping};
use crate::gntshr::{GntShr, Share};
use crate::log::Logger;
use crate::xentools::toollog::XtlLogger;

/// The handle behind both `xengnttab_handle` and `xengntshr_handle` (one
/// struct for both, as upstream). Opaque to C.
pub struct xengntdev_handle {
    kind: Kind,
}

enum Kind {
    Tab(Tab),
    Shr(Shr),
}

/// A gntdev handle and the mappings it handed out.
pub struct Tab {
    pub dev: GntDev,
    pub maps: Registry<GrantMapping>,
}

/// A gntalloc handle and the shares it handed out.
pub struct Shr {
    pub shr: GntShr,
    pub shares: Registry<Share>,
}

/// Handle onto the grant table driver (gntdev).
pub type xengnttab_handle = xengntdev_handle;

/// Handle onto the grant sharing driver (gntalloc).
pub type xengntshr_handle = xengntdev_handle;

impl xengntdev_handle {
    fn fd(&self) -> BorrowedFd<'_> {
        match &self.kind {
            Kind::Tab(t) => t.dev.fd(),
            Kind::Shr(s) => s.shr.fd(),
        }
    }
}

/// The gntdev side of a handle pointer; EINVAL for NULL or a gntshr handle.
///
/// # Safety
/// `h` is NULL or a live handle from `xengnttab_open`/`xengntshr_open`.
pub unsafe fn tab<'a>(h: *mut xengnttab_handle) -> Result<&'a Tab> {
    // SAFETY: NULL or live (caller's promise); shared access only.
    match unsafe { h.as_ref() }.map(|h| &h.kind) {
        Some(Kind::Tab(t)) => Ok(t),
        Some(Kind::Shr(_)) => Err(Error::InvalidArgument("gntshr handle passed to a gnttab function")),
        None => Err(Error::InvalidArgument("NULL handle")),
    }
}

/// The gntalloc side of a handle pointer; EINVAL for NULL or a gnttab handle.
///
/// # Safety
/// As for [`tab`].
pub unsafe fn shr<'a>(h: *mut xengntshr_handle) -> Result<&'a Shr> {
    // SAFETY: NULL or live (caller's promise); shared access only.
    match unsafe { h.as_ref() }.map(|h| &h.kind) {
        Some(Kind::Shr(s)) => Ok(s),
        Some(Kind::Tab(_)) => Err(Error::InvalidArgument("gnttab handle passed to a gntshr function")),
        None => Err(Error::InvalidArgument("NULL handle")),
    }
}

/// NULL: upstream's default stderr logger; otherwise the caller's.
fn logger(l: *mut xentoollog_logger, context: &'static str) -> Logger {
    match NonNull::new(l.cast::<c_void>()) {
        // SAFETY: the caller keeps its logger alive while the handle lives
        // (upstream's contract: the logger is never destroyed by us).
        Some(p) => Logger::xtl(unsafe { XtlLogger::new(p) }, context),
        None => Logger::stderr(context),
    }
}

fn into_c(kind: Kind) -> *mut xengntdev_handle {
    Box::into_raw(Box::new(xengntdev_handle { kind }))
}

/// # Safety
/// `h` is NULL or a live handle, not used again.
unsafe fn close(h: *mut xengntdev_handle) -> c_int {
    if h.is_null() {
        return 0;
    }
    // SAFETY: a live handle from Box::into_raw, given up by the caller.
    let h = unsafe { Box::from_raw(h) };
    // Mappings not yet unmapped stay valid (as on upstream's Linux backend):
    // the kernel keeps each until it is munmapped.
    let rc = match h.kind {
        Kind::Tab(t) => t.dev.close(),
        Kind::Shr(s) => s.shr.close(),
    };
    int_result(rc)
}

/// # Safety
/// `h` is NULL or a live handle.
unsafe fn fd(h: *mut xengntdev_handle) -> c_int {
    // SAFETY: NULL or live (caller's promise).
    match unsafe { h.as_ref() } {
        Some(h) => h.fd().as_raw_fd(),
        None => int_result(Err(Error::InvalidArgument("NULL handle"))),
    }
}

/// Returns a handle onto the grant table driver, or NULL with errno set
/// (ENOENT when there is no Xen). Failure to open is not logged; failures
/// of later calls on the handle are logged to `logger`, or to stderr if it
/// is NULL. `open_flags` is reserved and ignored.
///
/// After fork(2) a child must not use a handle inherited from its parent,
/// nor the grant mappings made through it; it must open its own. exec(2)
/// reclaims everything. The only safe call on an inherited handle is
/// xengnttab_close(); xengnttab_unmap() must not be called in the child.
///
/// # Safety
/// `logger` is NULL or a live xentoollog logger that outlives the handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_open(logger: *mut xentoollog_logger, open_flags: c_uint) -> *mut xengnttab_handle {
    let _ = open_flags;
    guard(ptr::null_mut(), || {
        let dev = GntDev::open_with_logger(self::logger(logger, "gnttab"));
        ptr_result(dev.map(|dev| into_c(Kind::Tab(Tab { dev, maps: Registry::new() }))))
    })
}

/// Closes a handle from xengnttab_open(). Returns close(2)'s result; NULL
/// is accepted and returns 0. Never logs.
///
/// Mappings still in place stay valid until they are munmapped: unmap them
/// with xengnttab_unmap() before closing to free their resources. This is
/// the only function that may be called on a handle in a child after fork.
///
/// # Safety
/// `xgt` is NULL or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_close(xgt: *mut xengnttab_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { close(xgt) })
}

/// Returns the file descriptor used internally (-1 with EINVAL for a NULL
/// handle). Selecting on it is not useful; it may serve to pass to other
/// programs, for fcntl, or for ioctls this library does not wrap.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_fd(xgt: *mut xengnttab_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { fd(xgt) })
}

/// Returns a handle onto the grant sharing driver, or NULL with errno set.
/// Failure to open is not logged; failures of later calls are logged to
/// `logger`, or to stderr if it is NULL. `open_flags` is ignored.
///
/// After fork(2) a child must not use a handle inherited from its parent,
/// nor the pages shared through it; xengntshr_close() is the only safe call.
///
/// # Safety
/// `logger` is NULL or a live xentoollog logger that outlives the handle.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_open(logger: *mut xentoollog_logger, open_flags: c_uint) -> *mut xengntshr_handle {
    let _ = open_flags;
    guard(ptr::null_mut(), || {
        let shr = GntShr::open_with_logger(self::logger(logger, "gntshr"));
        ptr_result(shr.map(|shr| into_c(Kind::Shr(Shr { shr, shares: Registry::new() }))))
    })
}

/// Closes a handle from xengntshr_open(). Returns close(2)'s result; NULL
/// returns 0. Never logs. Pages still shared stay shared until unmapped:
/// call xengntshr_unshare() on them first. The only function that may be
/// called on a handle in a child after fork.
///
/// # Safety
/// `xgs` is NULL or a live handle, not used again.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_close(xgs: *mut xengntshr_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { close(xgs) })
}

/// Returns the file descriptor used internally (-1 with EINVAL for NULL).
///
/// # Safety
/// `xgs` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_fd(xgs: *mut xengntshr_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { fd(xgs) })
}
