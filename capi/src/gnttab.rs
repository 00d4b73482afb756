//! Mapping, unmapping and copying grants.

use std::ffi::{c_int, c_void};
use std::ptr;

use xengnttab::gnttab::{CopySegment, Grants, Prot};
use xengnttab::{DomId, Error, Result, UnmapNotify};

use super::boundary::{count, guard, int_result, ptr_result, slice};
use super::handle::{tab, xengnttab_handle};
use super::log::{map_lines, single_line};
use super::types::{evtchn_port_t, xengnttab_grant_copy_segment_t};

/// C's "no notification" for an offset or a port.
const NONE: u32 = u32::MAX;

/// The notification upstream arms for `offset`/`port`: `-1` disables
/// either, and (upstream's quirk) so does an offset outside the mapping.
fn notify_from_c(offset: u32, port: u32, len: usize) -> UnmapNotify {
    let mut n = UnmapNotify::default();
    if offset != NONE && (offset as usize) < len {
        n = n.clear_byte(offset);
    }
    if port != NONE {
        n = n.event(port);
    }
    n
}

/// Map `grants` and hand the mapping out to C, remembering it for unmap.
///
/// # Safety
/// `h` is NULL or a live handle.
unsafe fn map(h: *mut xengnttab_handle, grants: impl FnOnce() -> Result<Grants<'static>>, prot: c_int, notify: (u32, u32)) -> *mut c_void {
    let r: Result<*mut c_void> = (|| {
        // SAFETY: forwarded caller's promise.
        let t = unsafe { tab(h) }?;
        let grants = grants()?;
        let notify = notify_from_c(notify.0, notify.1, grants.len() * page_size());
        let m = t.dev.map_detached(grants, Prot::from_raw(prot), notify).inspect_err(|e| t.log.kernel_refused(e, map_lines))?;
        let addr = m.addr();
        if let Some(stale) = t.maps.insert(addr as usize, m) {
            // Its address was unmapped behind our back and given to this
            // mapping: only the kernel's record of it is left to drop.
            t.dev.forget_detached(stale);
        }
        Ok(addr.cast())
    })();
    ptr_result(r)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
}

/// A 32-bit C domid as the safe API's [`DomId`] (EINVAL above 65535: the
/// kernel would truncate it to another domain).
fn domid(d: u32) -> Result<DomId> {
    DomId::try_from(d)
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
    guard(ptr::null_mut(), || unsafe { map(xgt, || Ok(Grants::One(self::domid(domid)?, r#ref)), prot, (NONE, NONE)) })
}

/// Maps `count` grant references, `refs[i]` granted by `domids[i]`, to one
/// contiguous range. Unmap it with xengnttab_unmap(). Logs errors.
/// On failure, including partial failure, returns NULL with errno set and
/// no mapping remains. Counts above 2^24 fail with EINVAL.
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
        let grants = || {
            let n = self::count(count)?;
            // SAFETY: caller's promise about the arrays; `n` is capped.
            let (domids, refs) = unsafe { (slice(domids, n, "NULL domids")?, slice(refs, n, "NULL refs")?) };
            if domids.iter().any(|&d| d > u32::from(u16::MAX)) {
                return Err(Error::InvalidArgument("domid above 65535"));
            }
            // SAFETY: DomId is a repr(transparent) u32 of at most 65535, and
            // every element was just checked; same length and lifetime.
            let domids = unsafe { std::slice::from_raw_parts(domids.as_ptr().cast::<DomId>(), n) };
            Ok(Grants::PerRef { domids, refs })
        };
        // SAFETY: forwarded caller's promise.
        unsafe { map(xgt, grants, prot, (NONE, NONE)) }
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
        let grants = || {
            let n = self::count(count)?;
            // SAFETY: caller's promise about the array; `n` is capped.
            let refs = unsafe { slice(refs, n, "NULL refs") }?;
            Ok(Grants::OfDomain(self::domid(domid)?, refs))
        };
        // SAFETY: forwarded caller's promise.
        unsafe { map(xgt, grants, prot, (NONE, NONE)) }
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
    guard(ptr::null_mut(), || {
        let grants = || Ok(Grants::One(self::domid(domid)?, r#ref));
        // SAFETY: forwarded caller's promise.
        unsafe { map(xgt, grants, prot, (notify_offset, notify_port)) }
    })
}

/// Unmaps the `count` pages at `start_address`, which must be exactly a
/// mapping returned by this handle's map functions, still in place (the
/// kernel is asked first): anything else fails with EINVAL and touches no
/// memory. Fires the peer's notification if one was armed. Never logs.
/// Async-signal-safe: it may be called from a signal handler, even one that
/// interrupted a map on the same thread.
///
/// # Safety
/// `xgt` is NULL or a live handle; nothing may use the pages afterwards.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_unmap(xgt: *mut xengnttab_handle, start_address: *mut c_void, count: u32) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(xgt) }?;
            t.maps
                .remove_with(start_address as usize, |m| {
                    if m.count() != count {
                        return Err((m, Error::InvalidArgument("count differs from the mapping's")));
                    }
                    t.dev.unmap_detached(m)
                })
                .unwrap_or(Err(Error::InvalidArgument("not a mapping of this handle")))
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
    guard(-1, || {
        // SAFETY: forwarded caller's promise.
        let r = unsafe { tab(xgt) }
            .and_then(|t| t.dev.set_max_grants(nr_grants).inspect_err(|e| t.log.kernel_refused(e, single_line)));
        int_result(r)
    })
}

/// Copies memory to or from grant references; `flags` of each segment say
/// which side is a grant (GNTCOPY_source_gref, GNTCOPY_dest_gref). A local
/// `virt` may cross a page boundary, but a grant's `offset + len` must not
/// exceed XEN_PAGE_SIZE. Returns 0 when every segment was processed (each
/// `status` then holds a GNTST_* value), -1 with errno otherwise. With
/// `count` 0 the kernel is still asked, so it probes for support. Counts
/// above 2^24 fail with EINVAL.
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
            let n = self::count(count)?;
            if segs.is_null() && n > 0 {
                return Err(Error::InvalidArgument("NULL segments"));
            }
            // SAFETY: the C segment is CopySegment's layout (types.rs) and
            // the caller promises the segments and their buffers are valid.
            let segs = unsafe { CopySegment::from_raw_parts(segs.cast(), n) };
            t.dev.grant_copy(segs).inspect_err(|e| {
                if let Error::Os { errno, .. } = *e {
                    // Upstream's exact text: errno printed twice, trailing space.
                    t.log.error(errno, &format!("ioctl GRANT COPY failed {errno} "));
                }
            })
        })();
        int_result(r)
    })
}
