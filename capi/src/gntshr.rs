//! Sharing pages with other domains.

use std::ffi::{c_int, c_void};
use std::ptr;

use xengnttab::{DomId, Error, Result, UnmapNotify};

use super::boundary::{guard, int_result, ptr_result, slice_mut};
use super::handle::{shr, xengntshr_handle};
use super::log::{alloc_gref_message, share_lines};
use super::types::evtchn_port_t;

/// # Safety
/// `h` NULL or live; `refs` NULL or valid for `count` writes.
unsafe fn share(h: *mut xengntshr_handle, domid: u32, count: c_int, refs: *mut u32, writable: c_int, notify: (u32, u32)) -> *mut c_void {
    let r: Result<*mut c_void> = (|| {
        // SAFETY: forwarded caller's promise.
        let s = unsafe { shr(h) }?;
        // Upstream hands a negative count to the kernel as ~4 billion pages.
        let n = u32::try_from(count).map_err(|_| Error::InvalidArgument("negative page count"))?;
        let n = super::boundary::count(n)?;
        if n == 0 {
            return Err(Error::InvalidArgument("no pages"));
        }
        let domid = DomId::try_from(domid)?;
        // SAFETY: forwarded caller's promise; `n` is capped.
        let refs = unsafe { slice_mut(refs, n, "NULL refs") }?;
        let (offset, port) = notify;
        let mut armed = UnmapNotify::default();
        // -1 disables either; an offset outside the pages is ignored, as upstream.
        if offset != u32::MAX && (offset as usize) < n * page_size() {
            armed = armed.clear_byte(offset);
        }
        if port != u32::MAX {
            armed = armed.event(port);
        }
        let share = s.shr.share_detached(domid, refs, writable != 0, armed).inspect_err(|e| {
            if let Error::Os { op: xengnttab::Op::AllocGref, errno } = *e {
                s.log.error(errno, &alloc_gref_message(errno, n));
            }
            s.log.kernel_refused(e, share_lines);
        })?;
        let addr = share.addr();
        // A share recorded at the same address was unmapped behind our
        // back; its record is all that is left of it, and goes.
        let _stale = s.shares.insert(addr as usize, share);
        Ok(addr.cast())
    })();
    ptr_result(r)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// Allocates `count` zeroed pages, grants them to `domid` (writable by it
/// if `writable`), stores the grant references in `refs` and returns the
/// local, read-write mapping. On failure returns NULL with errno set and
/// nothing stays allocated; `refs` is written only on success. Counts
/// below 1 or above 2^24, and domids above 65535, fail with EINVAL before
/// anything is allocated. Only memory from this call can be shared. Logs
/// errors.
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
    guard(ptr::null_mut(), || unsafe { share(xgs, domid, count, refs, writable, (u32::MAX, u32::MAX)) })
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
    // SAFETY: forwarded caller's promise.
    guard(ptr::null_mut(), || unsafe { share(xgs, domid, 1, r#ref, writable, (notify_offset, notify_port)) })
}

/// Unmaps the `count` pages at `start_address`, which must be exactly a
/// share returned by this handle, still in place (checked through
/// /proc/self/map_files where procfs is mounted): anything else fails with
/// EINVAL and touches no memory. Fires the peer's notification if one was
/// armed. Never logs. Async-signal-safe.
///
/// # Safety
/// `xgs` is NULL or a live handle; nothing may use the pages afterwards.
#[no_mangle]
pub unsafe extern "C" fn xengntshr_unshare(xgs: *mut xengntshr_handle, start_address: *mut c_void, count: u32) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let s = unsafe { shr(xgs) }?;
            s.shares
                .remove_with(start_address as usize, |sh| {
                    if sh.pages() != count as usize {
                        return Err((sh, Error::InvalidArgument("count differs from the share's")));
                    }
                    s.shr.unshare_detached(sh)
                })
                .unwrap_or(Err(Error::InvalidArgument("not a share of this handle")))
        })();
        int_result(r)
    })
}
