//! Mapping, unmapping and copying grants.

use std::ffi::{c_int, c_void};
use std::ptr;

use super::boundary::{guard, int_result, ptr_result, slice};
use super::handle::{tab, Tab, xengnttab_handle};
use super::types::{evtchn_port_t, xengnttab_grant_copy_segment_t};
use crate::error::{Error, Result};
use crate::gnttab::{CopySegment, GrantMapping};
use crate::notify::UnmapNotify;
use crate::sys::gntdev::GrantRef;

impl Tab {
    /// Hand a mapping out to C, remembering it for unmap.
    fn hand_out(&self, m: GrantMapping) -> *mut c_void {
        let addr = m.addr();
        self.maps.insert(addr as usize, m);
        addr.cast()
    }
}

/// # Safety
/// `h` NULL or live; `map` may index arrays the caller made valid.
unsafe fn map(
    h: *mut xengnttab_handle,
    count: u32,
    grant: impl Fn(usize) -> GrantRef,
    prot: c_int,
    notify: UnmapNotify,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let r: Result<*mut c_void> = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(h) }?;
            Ok(t.hand_out(t.dev.map_raw(count, grant, prot, notify)?))
        })();
        ptr_result(r)
    })
}

/// Maps a grant reference from domain `domid` into this process. Unmap it
/// with xengnttab_unmap(). Logs errors. Returns NULL with errno on failure.
/// `prot` is as for mmap().
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_map_grant_ref(xgt: *mut xengnttab_handle, domid: u32, r#ref: u32, prot: c_int) -> *mut c_void {
    // SAFETY: forwarded caller's promise.
    unsafe { map(xgt, 1, |_| GrantRef { domid, r#ref }, prot, UnmapNotify::default()) }
}

/// Maps `count` grant references, `refs[i]` granted by `domids[i]`, to one
/// contiguous range. Unmap it with xengnttab_unmap(). Logs errors.
/// On failure, including partial failure, returns NULL with errno set and
/// no mapping remains.
///
/// # Safety
/// `xgt` is NULL or a live handle; `domids` and `refs` are NULL or valid for
/// `count` elements (NULL with a non-zero count fails with EINVAL).
#[no_mangle]
pub unsafe extern "C" fn xengnttab_map_grant_refs(
    xgt: *mut xengnttab_handle,
    count: u32,
    domids: *mut u32,
    refs: *mut u32,
    prot: c_int,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: caller's promise about the arrays.
        let arrays = unsafe { (slice(domids, count as usize, "NULL domids"), slice(refs, count as usize, "NULL refs")) };
        match arrays {
            (Ok(d), Ok(r)) => {
                // SAFETY: forwarded caller's promise.
                unsafe { map(xgt, count, |i| GrantRef { domid: d[i], r#ref: r[i] }, prot, UnmapNotify::default()) }
            }
            (Err(e), _) | (_, Err(e)) => ptr_result(Err(e)),
        }
    })
}

/// Like xengnttab_map_grant_refs() with every domid equal to `domid`.
///
/// # Safety
/// `xgt` is NULL or a live handle; `refs` is NULL or valid for `count` elements.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_map_domain_grant_refs(
    xgt: *mut xengnttab_handle,
    count: u32,
    domid: u32,
    refs: *mut u32,
    prot: c_int,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: caller's promise about the array.
        match unsafe { slice(refs, count as usize, "NULL refs") } {
            // SAFETY: forwarded caller's promise.
            Ok(r) => unsafe { map(xgt, count, |i| GrantRef { domid, r#ref: r[i] }, prot, UnmapNotify::default()) },
            Err(e) => ptr_result(Err(e)),
        }
    })
}

/// Maps one grant reference and arms an unmap notification: when the page
/// is unmapped (or this process dies) the byte at `notify_offset` is zeroed
/// and `notify_port` is signalled; -1 disables either. If a requested
/// notification cannot be set up, the call fails and nothing stays mapped.
/// Logs errors.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_map_grant_ref_notify(
    xgt: *mut xengnttab_handle,
    domid: u32,
    r#ref: u32,
    prot: c_int,
    notify_offset: u32,
    notify_port: evtchn_port_t,
) -> *mut c_void {
    let notify = UnmapNotify::from_c(notify_offset, notify_port);
    // SAFETY: forwarded caller's promise.
    unsafe { map(xgt, 1, |_| GrantRef { domid, r#ref }, prot, notify) }
}

/// Unmaps the `count` pages at `start_address`, which must be exactly a
/// mapping returned by this handle's map functions (anything else fails
/// with EINVAL). Fires the peer's notification if one was armed. Never logs.
///
/// # Safety
/// `xgt` is NULL or a live handle; nothing may use the pages afterwards.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_unmap(xgt: *mut xengnttab_handle, start_address: *mut c_void, count: u32) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(xgt) }?;
            let m = t
                .maps
                .take_if(start_address as usize, |m| m.count() == count)
                .ok_or(Error::InvalidArgument("not a mapping of this handle with this count"))?;
            t.dev.unmap_raw(m).map_err(|(m, e)| {
                t.maps.insert(m.addr() as usize, m); // still mapped: keep tracking it
                e
            })
        })();
        int_result(r)
    })
}

/// Sets the maximum number of grants this handle may map. Current Linux
/// kernels do not implement the limit; their "not supported" counts as
/// success. Logs any other failure. Call it right after opening.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_set_max_grants(xgt: *mut xengnttab_handle, nr_grants: u32) -> c_int {
    // SAFETY: forwarded caller's promise.
    guard(-1, || int_result(unsafe { tab(xgt) }.and_then(|t| t.dev.set_max_grants(nr_grants))))
}

/// Copies memory to or from grant references; `flags` of each segment say
/// which side is a grant (GNTCOPY_source_gref, GNTCOPY_dest_gref). A local
/// `virt` may cross a page boundary, but a grant's `offset + len` must not
/// exceed XEN_PAGE_SIZE. Returns 0 when every segment was processed (each
/// `status` then holds a GNTST_* value), -1 with errno otherwise. With
/// `count` 0 the kernel is still asked, so it probes for support.
///
/// # Safety
/// `xgt` is NULL or a live handle; `segs` is valid for `count` segments
/// (NULL only with `count` 0) whose local addresses are valid for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_grant_copy(xgt: *mut xengnttab_handle, count: u32, segs: *mut xengnttab_grant_copy_segment_t) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(xgt) }?;
            if segs.is_null() && count > 0 {
                return Err(Error::InvalidArgument("NULL segments"));
            }
            // SAFETY: layouts are identical (checked in types.rs) and the
            // caller promises the segments and their buffers are valid.
            let segs = unsafe { CopySegment::from_raw_parts(segs.cast(), count as usize) };
            t.dev.grant_copy(segs)
        })();
        int_result(r)
    })
}
