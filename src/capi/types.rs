//! The types and constants of `xengnttab.h`.

use std::ffi::c_void;
use std::mem::{offset_of, size_of};

use crate::sys::gntdev::GrantCopySegment;

/// Callers' `struct xentoollog_logger` (from `<xentoollog.h>`); opaque here.
pub struct xentoollog_logger {
    _opaque: [u8; 0],
}

/// `evtchn_port_t` from `<xen/event_channel.h>` (not re-declared in the header).
pub type evtchn_port_t = u32;

/// The grant side of a copy segment.
#[repr(C)]
#[derive(Clone, Copy)]
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

/// Upstream's name for struct xengnttab_grant_copy_segment.
pub type xengnttab_grant_copy_segment_t = xengnttab_grant_copy_segment;

// The C segment must be the kernel's segment, byte for byte.
const _: () = {
    type C = xengnttab_grant_copy_segment;
    type K = GrantCopySegment;
    assert!(size_of::<C>() == size_of::<K>());
    assert!(std::mem::align_of::<C>() == std::mem::align_of::<K>());
    assert!(offset_of!(C, source) == offset_of!(K, source));
    assert!(offset_of!(C, dest) == offset_of!(K, dest));
    assert!(offset_of!(C, len) == offset_of!(K, len));
    assert!(offset_of!(C, flags) == offset_of!(K, flags));
    assert!(offset_of!(C, status) == offset_of!(K, status));
    assert!(offset_of!(xengnttab_copy_ptr_foreign, offset) == 4);
    assert!(offset_of!(xengnttab_copy_ptr_foreign, domid) == 6);
};

/// The buffer is backed with memory allocated with dma_alloc_wc.
pub const GNTDEV_DMA_FLAG_WC: u32 = 1 << 0;

/// The buffer is backed with memory allocated with dma_alloc_coherent.
pub const GNTDEV_DMA_FLAG_COHERENT: u32 = 1 << 1;
