//! `/dev/xen/gntdev`: map other domains' grants, copy through grants, dma-buf.
//! Mirrors Linux `include/uapi/xen/gntdev.h` (LP64 layouts noted per struct).

use std::mem::{offset_of, size_of};

use libc::c_ulong;

use super::ioc;

/// One `{domid, ref}` pair of [`MapGrantRef::refs`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantRef {
    /// Granting domain.
    pub domid: u32,
    /// Grant reference in that domain's table.
    pub r#ref: u32,
}

/// `struct ioctl_gntdev_map_grant_ref` (24 bytes; `refs` really holds `count`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MapGrantRef {
    /// IN: number of refs.
    pub count: u32,
    /// Padding, zero.
    pub pad: u32,
    /// OUT: byte offset to pass to mmap.
    pub index: u64,
    /// IN: first of `count` refs.
    pub refs: [GrantRef; 1],
}

/// `struct ioctl_gntdev_unmap_grant_ref` (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UnmapGrantRef {
    /// Offset returned by MAP_GRANT_REF.
    pub index: u64,
    /// Number of pages.
    pub count: u32,
    /// Padding, zero.
    pub pad: u32,
}

/// `struct ioctl_gntdev_get_offset_for_vaddr` (24 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct GetOffsetForVaddr {
    /// IN: an address inside a gntdev mapping.
    pub vaddr: u64,
    /// OUT: the mapping's offset.
    pub offset: u64,
    /// OUT: the mapping's page count.
    pub count: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct ioctl_gntdev_set_max_grants` (4 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SetMaxGrants {
    /// Maximum number of grants.
    pub count: u32,
}

/// `struct ioctl_gntdev_unmap_notify` (16 bytes); gntalloc uses the same layout.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UnmapNotify {
    /// Offset of the byte to clear: mapping offset plus byte offset.
    pub index: u64,
    /// `UNMAP_NOTIFY_*` bits.
    pub action: u32,
    /// Event channel to signal with `UNMAP_NOTIFY_SEND_EVENT`.
    pub event_channel_port: u32,
}

/// Clear the byte at `index` when the page is unmapped.
pub const UNMAP_NOTIFY_CLEAR_BYTE: u32 = 0x1;
/// Signal `event_channel_port` when the mapping is freed.
pub const UNMAP_NOTIFY_SEND_EVENT: u32 = 0x2;

/// One side of a grant copy: a local address or a foreign grant.
#[repr(C)]
#[derive(Clone, Copy)]
pub union CopyPtr {
    /// Local virtual address.
    pub virt: *mut libc::c_void,
    /// Foreign grant.
    pub foreign: ForeignPtr,
}

/// The grant side of [`CopyPtr`]. Note `offset` comes before `domid`, the
/// reverse of the hypervisor's `struct gnttab_copy_ptr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForeignPtr {
    /// Grant reference.
    pub r#ref: u32,
    /// Byte offset in the granted page.
    pub offset: u16,
    /// Granting domain.
    pub domid: u16,
}

/// `struct gntdev_grant_copy_segment` (24 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GrantCopySegment {
    /// Source.
    pub source: CopyPtr,
    /// Destination.
    pub dest: CopyPtr,
    /// Bytes to copy.
    pub len: u16,
    /// `GNTCOPY_*` bits saying which sides are grants.
    pub flags: u16,
    /// OUT: `GNTST_*` status.
    pub status: i16,
}

/// `flags` bit: the source is a grant.
pub const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
/// `flags` bit: the destination is a grant.
pub const GNTCOPY_DEST_GREF: u16 = 1 << 1;

/// `struct ioctl_gntdev_grant_copy` (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GrantCopy {
    /// Number of segments.
    pub count: libc::c_uint,
    /// The segments.
    pub segments: *mut GrantCopySegment,
}

/// Backing store allocated with `dma_alloc_wc`.
pub const GNTDEV_DMA_FLAG_WC: u32 = 1 << 0;
/// Backing store allocated with `dma_alloc_coherent`.
pub const GNTDEV_DMA_FLAG_COHERENT: u32 = 1 << 1;

/// `struct ioctl_gntdev_dmabuf_exp_from_refs` (20 bytes; `refs` holds `count`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DmabufExpFromRefs {
    /// IN: `GNTDEV_DMA_FLAG_*`.
    pub flags: u32,
    /// IN: number of refs.
    pub count: u32,
    /// OUT: the new dma-buf fd.
    pub fd: u32,
    /// IN: granting domain.
    pub domid: u32,
    /// IN: first of `count` refs.
    pub refs: [u32; 1],
}

/// `struct ioctl_gntdev_dmabuf_exp_wait_released` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DmabufExpWaitReleased {
    /// The exported fd number.
    pub fd: u32,
    /// Timeout in milliseconds.
    pub wait_to_ms: u32,
}

/// `struct ioctl_gntdev_dmabuf_imp_to_refs` (20 bytes; `refs` holds `count`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DmabufImpToRefs {
    /// IN: dma-buf fd.
    pub fd: u32,
    /// IN: number of pages.
    pub count: u32,
    /// IN: domain the pages are granted to.
    pub domid: u32,
    /// Must be zero.
    pub reserved: u32,
    /// OUT: first of `count` refs.
    pub refs: [u32; 1],
}

/// `struct ioctl_gntdev_dmabuf_imp_release` (8 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DmabufImpRelease {
    /// The imported fd number.
    pub fd: u32,
    /// Must be zero.
    pub reserved: u32,
}

/// `IOCTL_GNTDEV_MAP_GRANT_REF`.
pub const IOCTL_GNTDEV_MAP_GRANT_REF: c_ulong = ioc::none(b'G', 0, size_of::<MapGrantRef>());
/// `IOCTL_GNTDEV_UNMAP_GRANT_REF`.
pub const IOCTL_GNTDEV_UNMAP_GRANT_REF: c_ulong = ioc::none(b'G', 1, size_of::<UnmapGrantRef>());
/// `IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR`.
pub const IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR: c_ulong =
    ioc::none(b'G', 2, size_of::<GetOffsetForVaddr>());
/// `IOCTL_GNTDEV_SET_MAX_GRANTS` (never implemented by pv-ops kernels: ENOTTY).
pub const IOCTL_GNTDEV_SET_MAX_GRANTS: c_ulong = ioc::none(b'G', 3, size_of::<SetMaxGrants>());
/// `IOCTL_GNTDEV_SET_UNMAP_NOTIFY`.
pub const IOCTL_GNTDEV_SET_UNMAP_NOTIFY: c_ulong = ioc::none(b'G', 7, size_of::<UnmapNotify>());
/// `IOCTL_GNTDEV_GRANT_COPY`.
pub const IOCTL_GNTDEV_GRANT_COPY: c_ulong = ioc::none(b'G', 8, size_of::<GrantCopy>());
/// `IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS`.
pub const IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS: c_ulong =
    ioc::none(b'G', 9, size_of::<DmabufExpFromRefs>());
/// `IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED`.
pub const IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED: c_ulong =
    ioc::none(b'G', 10, size_of::<DmabufExpWaitReleased>());
/// `IOCTL_GNTDEV_DMABUF_IMP_TO_REFS`.
pub const IOCTL_GNTDEV_DMABUF_IMP_TO_REFS: c_ulong = ioc::none(b'G', 11, size_of::<DmabufImpToRefs>());
/// `IOCTL_GNTDEV_DMABUF_IMP_RELEASE`.
pub const IOCTL_GNTDEV_DMABUF_IMP_RELEASE: c_ulong =
    ioc::none(b'G', 12, size_of::<DmabufImpRelease>());

// Layout pins, like upstream's BUILD_BUG_ONs (LP64 values).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<MapGrantRef>() == 24 && offset_of!(MapGrantRef, refs) == 16);
    assert!(size_of::<UnmapGrantRef>() == 16);
    assert!(size_of::<GetOffsetForVaddr>() == 24);
    assert!(size_of::<UnmapNotify>() == 16);
    assert!(size_of::<GrantCopySegment>() == 24);
    assert!(offset_of!(GrantCopySegment, dest) == 8);
    assert!(offset_of!(GrantCopySegment, len) == 16);
    assert!(offset_of!(GrantCopySegment, status) == 20);
    assert!(size_of::<GrantCopy>() == 16);
    assert!(size_of::<DmabufExpFromRefs>() == 20 && offset_of!(DmabufExpFromRefs, refs) == 16);
    assert!(size_of::<DmabufImpToRefs>() == 20 && offset_of!(DmabufImpToRefs, refs) == 16);
    assert!(IOCTL_GNTDEV_MAP_GRANT_REF == 0x0018_4700);
};
