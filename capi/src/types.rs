//! The types and constants of `xengnttab.h`.

use std::ffi::c_void;
use std::mem::{offset_of, size_of};

use xengnttab::gnttab::CopySegment;

/// Callers' `struct xentoollog_logger` (from `<xentoollog.h>`); opaque here.
#[derive(Debug)]
pub struct xentoollog_logger {
    _opaque: [u8; 0],
}

/// `evtchn_port_t` from `<xen/event_channel.h>` (not re-declared in the header).
pub type evtchn_port_t = u32;

/// The grant side of a copy segment.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct xengnttab_copy_ptr_foreign {
    /// Grant reference.
    pub r#ref: u32,
    /// Byte offset within the granted page.
    pub offset: u16,
    /// Granting domain.
    pub domid: u16,
}

/// One side of a copy segment: a local address or a grant.
#[repr(C)]
#[derive(Clone, Copy)]
pub union xengnttab_copy_ptr {
    /// Local address (may cross a page boundary).
    pub virt: *mut c_void,
    /// A grant (`offset + len` must not exceed XEN_PAGE_SIZE).
    pub foreign: xengnttab_copy_ptr_foreign,
}

/// One grant-copy operation; identical in layout to the kernel's
/// `struct gntdev_grant_copy_segment`, so an array is passed straight through.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct xengnttab_grant_copy_segment {
    /// Where to copy from.
    pub source: xengnttab_copy_ptr,
    /// Where to copy to.
    pub dest: xengnttab_copy_ptr,
    /// Bytes to copy.
    pub len: u16,
    /// `GNTCOPY_source_gref` and/or `GNTCOPY_dest_gref`.
    pub flags: u16,
    /// Output: a `GNTST_*` value.
    pub status: i16,
}

impl std::fmt::Debug for xengnttab_copy_ptr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Which arm is live depends on the segment's flags.
        f.write_str("xengnttab_copy_ptr { .. }")
    }
}

impl std::fmt::Debug for xengnttab_grant_copy_segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("xengnttab_grant_copy_segment")
            .field("len", &self.len)
            .field("flags", &self.flags)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Upstream's name for struct xengnttab_grant_copy_segment.
pub type xengnttab_grant_copy_segment_t = xengnttab_grant_copy_segment;

// The C segment is the safe API's CopySegment (the kernel's segment), byte
// for byte, so an array is handed over as is: upstream's BUILD_BUG_ONs.
const _: () = {
    type C = xengnttab_grant_copy_segment;
    assert!(size_of::<C>() == size_of::<CopySegment<'static>>());
    assert!(std::mem::align_of::<C>() == std::mem::align_of::<CopySegment<'static>>());
    assert!(offset_of!(C, source) == 0);
    assert!(offset_of!(C, dest) == size_of::<xengnttab_copy_ptr>());
    assert!(offset_of!(C, len) == 2 * size_of::<xengnttab_copy_ptr>());
    assert!(offset_of!(C, flags) == offset_of!(C, len) + 2);
    assert!(offset_of!(C, status) == offset_of!(C, len) + 4);
    assert!(offset_of!(xengnttab_copy_ptr_foreign, offset) == 4);
    assert!(offset_of!(xengnttab_copy_ptr_foreign, domid) == 6);
};

/// The buffer is backed with memory allocated with dma_alloc_wc.
pub const GNTDEV_DMA_FLAG_WC: u32 = 1 << 0;

/// The buffer is backed with memory allocated with dma_alloc_coherent.
pub const GNTDEV_DMA_FLAG_COHERENT: u32 = 1 << 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields the safe API reads back sit where C writes them.
    #[test]
    fn a_c_segment_reads_back_through_the_safe_type() {
        let mut seg = xengnttab_grant_copy_segment {
            source: xengnttab_copy_ptr { foreign: xengnttab_copy_ptr_foreign { r#ref: 1, offset: 2, domid: 3 } },
            dest: xengnttab_copy_ptr { virt: std::ptr::null_mut() },
            len: 77,
            flags: 1,
            status: -3,
        };
        // SAFETY: one initialised C segment, whose local side is never used.
        let segs = unsafe { CopySegment::from_raw_parts((&mut seg as *mut xengnttab_grant_copy_segment).cast(), 1) };
        assert_eq!((segs[0].len(), segs[0].status()), (77, -3));
    }
}
