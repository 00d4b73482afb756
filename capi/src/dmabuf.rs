//! dma-buf export and import.

use std::ffi::c_int;
use std::os::fd::IntoRawFd;

use nix::errno::Errno;
use xengnttab::gnttab::{DmaFlags, Released};
use xengnttab::{DomId, Error};

use super::boundary::{count, guard, int_result, slice, slice_mut};
use super::handle::{tab, xengnttab_handle};
use super::log::single_line;

/// Creates a dma-buf from the `count` grant references `refs` of domain
/// `domid`, and stores its new file descriptor in `*fd`. `flags` may ask for
/// a DMA write-combine (GNTDEV_DMA_FLAG_WC) or coherent
/// (GNTDEV_DMA_FLAG_COHERENT) backing store. Returns 0, or -1 with errno:
/// EINVAL for a count of 0 or above 2^24, or a domid above 65535, before
/// anything is read or allocated; the kernel refuses export in PV domains
/// (and, on x86, in PVH and HVM ones: see the README).
///
/// # Safety
/// `xgt` is NULL or a live handle; `refs` valid for `count` elements; `fd`
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_dmabuf_exp_from_refs(
    xgt: *mut xengnttab_handle,
    domid: u32,
    flags: u32,
    count: u32,
    refs: *const u32,
    fd: *mut u32,
) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(xgt) }?;
            let n = self::count(count)?;
            let domid = DomId::try_from(domid)?;
            // SAFETY: caller's promise about `refs`; `n` is capped. A count
            // of 0 gives an empty slice, which the safe API refuses (EINVAL),
            // as upstream does.
            let refs = unsafe { slice(refs, n, "NULL refs") }?;
            if fd.is_null() {
                return Err(Error::InvalidArgument("NULL fd"));
            }
            let buf = t.dev.dmabuf_export_fd(domid, DmaFlags::from_raw(flags), refs).inspect_err(|e| t.log.kernel_refused(e, single_line))?;
            // SAFETY: checked non-NULL; writable by the caller's promise.
            unsafe { fd.write(buf.into_raw_fd() as u32) };
            Ok(())
        })();
        int_result(r)
    })
}

/// Blocks until the dma-buf `fd` made by xengnttab_dmabuf_exp_from_refs()
/// is released by all its users, for at most `wait_to_ms` milliseconds.
/// Returns 0 once released; also 0, with errno 0, when the kernel knows no
/// such buffer (released already); -1 with errno ETIMEDOUT if still in use.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_dmabuf_exp_wait_released(xgt: *mut xengnttab_handle, fd: u32, wait_to_ms: u32) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded caller's promise.
        let r = unsafe { tab(xgt) }.and_then(|t| {
            t.dev.dmabuf_wait_released(fd, wait_to_ms).inspect_err(|e| t.log.kernel_refused(e, single_line))
        });
        match r {
            Ok(Released::AlreadyGone) => {
                // Upstream reports the kernel's "no such buffer" as success
                // with errno 0.
                Errno::clear();
                0
            }
            Ok(_) => 0,
            Err(e) => int_result(Err(e)),
        }
    })
}

/// Grants the pages of dma-buf `fd` to domain `domid`, writing the `count`
/// grant references to `refs` (the buffer must be exactly `count` pages).
/// Returns 0, or -1 with errno (EINVAL for a count of 0 or above 2^24, or a
/// domid above 65535); `refs` is written only on success.
///
/// # Safety
/// `xgt` is NULL or a live handle; `refs` valid for `count` writes.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_dmabuf_imp_to_refs(
    xgt: *mut xengnttab_handle,
    domid: u32,
    fd: u32,
    count: u32,
    refs: *mut u32,
) -> c_int {
    guard(-1, || {
        let r = (|| {
            // SAFETY: forwarded caller's promise.
            let t = unsafe { tab(xgt) }?;
            let n = self::count(count)?;
            let domid = DomId::try_from(domid)?;
            // SAFETY: caller's promise about `refs` (count 0: see above).
            let refs = unsafe { slice_mut(refs, n, "NULL refs") }?;
            t.dev.dmabuf_import_into(domid, fd, refs).inspect_err(|e| t.log.kernel_refused(e, single_line))
        })();
        int_result(r)
    })
}

/// Ends the grants made by xengnttab_dmabuf_imp_to_refs() for dma-buf `fd`,
/// so its owner can free it. Returns 0, or -1 with errno.
///
/// # Safety
/// `xgt` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn xengnttab_dmabuf_imp_release(xgt: *mut xengnttab_handle, fd: u32) -> c_int {
    guard(-1, || {
        // SAFETY: forwarded caller's promise.
        let r = unsafe { tab(xgt) }.and_then(|t| t.dev.dmabuf_release(fd).inspect_err(|e| t.log.kernel_refused(e, single_line)));
        int_result(r)
    })
}
