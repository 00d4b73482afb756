//! Messages to a caller's `xentoollog_logger` through libxentoollog's `xtl_log`.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::NonNull;

use std::sync::LazyLock;

/// `xtl_log(logger, level, errnoval, context, format, ...)`.
type XtlLog = unsafe extern "C" fn(*mut c_void, c_int, c_int, *const c_char, *const c_char, ...);

/// `XTL_ERROR` in `enum xentoollog_level`.
const XTL_ERROR: c_int = 8;

static XTL_LOG: LazyLock<Option<XtlLog>> = LazyLock::new(|| {
    let f = super::dl::symbol(c"libxentoollog.so.1", c"xtl_log", c"VERS_1.0")?;
    // SAFETY: xtl_log@VERS_1.0 has exactly this C signature (xentoollog.h).
    Some(unsafe { std::mem::transmute::<*mut c_void, XtlLog>(f.as_ptr()) })
});

/// A caller-owned `struct xentoollog_logger *`.
pub struct XtlLogger(NonNull<c_void>);

// SAFETY: upstream hands the same logger to every thread using the handle;
// xentoollog loggers are used that way by all Xen libraries.
unsafe impl Send for XtlLogger {}
// SAFETY: as above.
unsafe impl Sync for XtlLogger {}

impl XtlLogger {
    /// Wrap a caller's logger.
    ///
    /// # Safety
    /// `logger` must be a live xentoollog logger for as long as this value
    /// (the handle it belongs to) is used.
    pub unsafe fn new(logger: NonNull<c_void>) -> Self {
        XtlLogger(logger)
    }

    /// Log at XTL_ERROR; false if libxentoollog cannot be found.
    pub fn log_error(&self, context: &str, errno: i32, message: &str) -> bool {
        let Some(xtl_log) = *XTL_LOG else { return false };
        let (Ok(ctx), Ok(msg)) = (CString::new(context), CString::new(message)) else {
            return false;
        };
        // SAFETY: the logger is live (new()'s contract); "%s" consumes exactly
        // the one NUL-terminated string passed. xtl_log preserves errno.
        unsafe { xtl_log(self.0.as_ptr(), XTL_ERROR, errno as c_int, ctx.as_ptr(), c"%s".as_ptr(), msg.as_ptr()) };
        true
    }
}
