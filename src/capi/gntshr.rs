//! Sharing pages with other domains.

use std::ffi::{c_int, c_void};
use std::ptr;

use super::boundary::{guard, int_result, ptr_result, slice_mut};
use super::handle::{shr, xengntshr_handle, Shr};
use super::types::evtchn_port_t;
use crate::error::{Error, Result};
use crate::gntshr::Share;
use crate::notify::UnmapNotify;
use crate::sys::mem::page_size;

impl Shr {
    fn hand_out(&self, s: Share) -> *mut c_void {
        let addr = s.addr();
        self.shares.insert(addr as usize, s);
        addr.cast()
    }
}

/// # Safety
/// `h` NULL or live; `refs` NULL or valid for `count` writes.
unsafe fn share(h: *mut xengntshr_handle, domid: u32, count: c_int, refs: *mut u32, writable: c_int, notify: UnmapNotify) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let r: Result<*mut c_void> = (|| {
            // SAFETY: forwarded caller's promise.
            let s = unsafe { shr(h) }?;
            let count = usize::try_from(count).ok().filter(|&c| c > 0).ok_or(Error::InvalidArgument("page count"))?;
            // SAFETY: forwarded caller's promise.
            let refs = unsafe { slice_mut(refs, count, "NULL refs") }?;
            Ok(s.hand_out(s.shr.share_raw(domid, refs, writable != 0, notify)?))
        })();
        ptr_result(r)
    })
}

/// Allocates `count` zeroed pages, grants them to `domid` (writable by it
/// if `writable`), stores the grant references in `refs` and returns the
/// local, read-write mapping. On failure returns NULL with errno set and
/// nothing stays allocated; `refs` is written only on success. Only memory
/// from this call can be shared. Logs errors.
///
/// # Safety
/// `xgs` is NULL or a live handle; `refs` valid for `count` writes.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_share_pages(
    xgs: *mut xengntshr_handle,
    domid: u32,
    count: c_int,
    refs: *mut u32,
    writable: c_int,
) -> *mut c_void {
    // SAFETY: forwarded caller's promise.
    unsafe { share(xgs, domid, count, refs, writable, UnmapNotify::default()) }
}

/// Shares one page like xengntshr_share_pages(), with an unmap
/// notification: when the page is unshared (or this process dies) the byte
/// at `notify_offset` is zeroed and `notify_port` signalled; -1 disables
/// either. Logs errors.
///
/// # Safety
/// `xgs` is NULL or a live handle; `ref` valid for one write.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_share_page_notify(
    xgs: *mut xengntshr_handle,
    domid: u32,
    r#ref: *mut u32,
    writable: c_int,
    notify_offset: u32,
    notify_port: evtchn_port_t,
) -> *mut c_void {
    let notify = UnmapNotify::from_c(notify_offset, notify_port);
    // SAFETY: forwarded caller's promise.
    unsafe { share(xgs, domid, 1, r#ref, writable, notify) }
}

/// Unmaps the `count` pages at `start_address`, which must be exactly a
/// share returned by this handle (anything else fails with EINVAL). Fires
/// the peer's notification if one was armed. Never logs.
///
/// # Safety
/// `xgs` is NULL or a live handle; nothing may use the pages afterwards.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_unshare(xgs: *mut xengntshr_handle, start_address: *mut c_void, count: u32) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let s = unsafe { shr(xgs) }?;
            let share = s
                .shares
                .take_if(start_address as usize, |sh| sh.len() == count as usize * page_size())
                .ok_or(Error::InvalidArgument("not a share of this handle with this count"))?;
            s.shr.unshare(share)
        })();
        int_result(r)
    })
}
