//! `xengnttab_handle` / `xengntshr_handle`: open, close, fd.

use std::ffi::{c_int, c_uint, c_void};
use std::os::fd::{AsFd, AsRawFd};
use std::ptr::{self, NonNull};

use xengnttab::gnttab::{DetachedMapping, GntDev};
use xengnttab::gntshr::{DetachedShare, GntShr};
use xengnttab::{Error, Result};

use super::boundary::{guard, int_result, ptr_result};
use super::log::Logger;
use super::registry::Registry;
use super::types::xentoollog_logger;
use super::xentools::toolcore::Registration;
use super::xentools::toollog::XtlLogger;

/// The handle behind both `xengnttab_handle` and `xengntshr_handle` (one
/// struct for both, as upstream). Opaque to C.
#[derive(Debug)]
pub struct xengntdev_handle {
    kind: Kind,
    /// Dropped (deregistered) before the device is closed.
    toolcore: Option<Registration>,
}

#[derive(Debug)]
enum Kind {
    Tab(Tab),
    Shr(Shr),
}

/// A gntdev handle, the mappings it handed out, and its logger.
#[derive(Debug)]
pub struct Tab {
    /// The device.
    pub dev: GntDev,
    /// The mappings handed out, by address.
    pub maps: Registry<DetachedMapping>,
    /// Where failures are logged.
    pub log: Logger,
}

/// A gntalloc handle, the shares it handed out, and its logger.
#[derive(Debug)]
pub struct Shr {
    /// The device.
    pub shr: GntShr,
    /// The shares handed out, by address.
    pub shares: Registry<DetachedShare>,
    /// Where failures are logged.
    pub log: Logger,
}

/// Handle onto the grant table driver (gntdev).
pub type xengnttab_handle = xengntdev_handle;

/// Handle onto the grant sharing driver (gntalloc).
pub type xengntshr_handle = xengntdev_handle;

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

/// Open a device the way upstream does: register with libxentoolcore
/// first, so that a concurrent restrict cannot miss the descriptor.
fn open<D: AsFd>(open_device: impl FnOnce() -> Result<D>, kind: impl FnOnce(D) -> Kind) -> *mut xengntdev_handle {
    let toolcore = Registration::new();
    ptr_result(open_device().map(|dev| {
        if let Some(r) = &toolcore {
            r.set_fd(dev.as_fd().as_raw_fd());
        }
        Box::into_raw(Box::new(xengntdev_handle { kind: kind(dev), toolcore }))
    }))
}

/// Close a handle of the kind `is_kind` accepts.
///
/// # Safety
/// `h` is NULL or a live handle; if it is closed, it is not used again.
unsafe fn close(h: *mut xengntdev_handle, is_kind: fn(&Kind) -> bool) -> c_int {
    // SAFETY: NULL or live (caller's promise).
    match unsafe { h.as_ref() } {
        None => return 0,
        Some(live) if !is_kind(&live.kind) => {
            return int_result(Err(Error::InvalidArgument("handle of the other kind")));
        }
        Some(_) => {}
    }
    // SAFETY: a live handle from Box::into_raw, given up by the caller.
    let h = unsafe { Box::from_raw(h) };
    let xengntdev_handle { kind, toolcore } = *h;
    drop(toolcore);
    // Mappings not yet unmapped stay valid (as on upstream's Linux backend):
    // the kernel keeps each until it is munmapped. Their records go.
    int_result(match kind {
        Kind::Tab(t) => t.dev.close(),
        Kind::Shr(s) => s.shr.close(),
    })
}

/// # Safety
/// `h` is NULL or a live handle.
unsafe fn fd(h: *mut xengntdev_handle, is_kind: fn(&Kind) -> bool) -> c_int {
    // SAFETY: NULL or live (caller's promise).
    match unsafe { h.as_ref() } {
        Some(h) if is_kind(&h.kind) => match &h.kind {
            Kind::Tab(t) => t.dev.as_fd().as_raw_fd(),
            Kind::Shr(s) => s.shr.as_fd().as_raw_fd(),
        },
        Some(_) => int_result(Err(Error::InvalidArgument("handle of the other kind"))),
        None => int_result(Err(Error::InvalidArgument("NULL handle"))),
    }
}

fn is_tab(k: &Kind) -> bool {
    matches!(k, Kind::Tab(_))
}

fn is_shr(k: &Kind) -> bool {
    matches!(k, Kind::Shr(_))
}

/// Returns a handle onto the grant table driver, or NULL with errno set
/// (ENOENT when there is no Xen). Failure to open is not logged; failures
/// of later calls on the handle are logged to `logger`, or to stderr if it
/// is NULL. `open_flags` is reserved and ignored.
///
/// A handle belongs to the process that opened it. After fork(2), every
/// call on an inherited handle fails with EINVAL and leaves the parent's
/// mappings alone, except xengnttab_close(), which closes the child's copy
/// of the descriptor; the child opens its own handle. exec(2) reclaims
/// everything.
///
/// # Safety
/// `logger` is NULL or a live xentoollog logger that outlives the handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_open(logger: *mut xentoollog_logger, open_flags: c_uint) -> *mut xengnttab_handle {
    let _ = open_flags;
    guard(ptr::null_mut(), || {
        let log = self::logger(logger, "gnttab");
        open(GntDev::open, |dev| Kind::Tab(Tab { dev, maps: Registry::new(), log }))
    })
}

/// Closes a handle from xengnttab_open(). Returns close(2)'s result; NULL
/// is accepted and returns 0; a gntshr handle is refused (-1, EINVAL) and
/// stays open. Never logs.
///
/// Mappings still in place stay valid until they are munmapped: unmap them
/// with xengnttab_unmap() before closing to free their resources. This is
/// the only function that may be called on a handle in a child after fork.
///
/// # Safety
/// `xgt` is NULL or a live handle, not used again once closed.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_close(xgt: *mut xengnttab_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { close(xgt, is_tab) })
}

/// Returns the file descriptor used internally (-1 with EINVAL for a NULL
/// or gntshr handle). Selecting on it is not useful; it may serve to pass
/// to other programs, for fcntl, or for ioctls this library does not wrap.
/// Async-signal-safe.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_fd(xgt: *mut xengnttab_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { fd(xgt, is_tab) })
}

/// Returns a handle onto the grant sharing driver, or NULL with errno set.
/// Failure to open is not logged; failures of later calls are logged to
/// `logger`, or to stderr if it is NULL. `open_flags` is ignored.
///
/// As for xengnttab_open(), a handle belongs to the process that opened
/// it: after fork(2) only xengntshr_close() works on an inherited one.
///
/// # Safety
/// `logger` is NULL or a live xentoollog logger that outlives the handle.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_open(logger: *mut xentoollog_logger, open_flags: c_uint) -> *mut xengntshr_handle {
    let _ = open_flags;
    guard(ptr::null_mut(), || {
        let log = self::logger(logger, "gntshr");
        open(GntShr::open, |shr| Kind::Shr(Shr { shr, shares: Registry::new(), log }))
    })
}

/// Closes a handle from xengntshr_open(). Returns close(2)'s result; NULL
/// returns 0; a gnttab handle is refused (-1, EINVAL). Never logs. Pages
/// still shared stay shared until unmapped: call xengntshr_unshare() on
/// them first. The only function that may be called on a handle in a child
/// after fork.
///
/// # Safety
/// `xgs` is NULL or a live handle, not used again once closed.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_close(xgs: *mut xengntshr_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { close(xgs, is_shr) })
}

/// Returns the file descriptor used internally (-1 with EINVAL for a NULL
/// or gnttab handle). Async-signal-safe.
///
/// # Safety
/// `xgs` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_fd(xgs: *mut xengntshr_handle) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || unsafe { fd(xgs, is_shr) })
}

/// How many mappings (or shares) of `h` are recorded: for the leak checks of
/// the tests, not part of the C ABI.
///
/// # Safety
/// `h` is a live handle.
#[doc(hidden)]
pub unsafe fn recorded(h: *mut xengntdev_handle) -> usize {
    // SAFETY: live (caller's promise).
    match unsafe { &(*h).kind } {
        Kind::Tab(t) => t.maps.len(),
        Kind::Shr(s) => s.shares.len(),
    }
}
