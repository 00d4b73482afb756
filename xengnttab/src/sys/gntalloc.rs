//! `/dev/xen/gntalloc`: allocate pages and grant them to another domain.
//! Mirrors Linux `include/uapi/xen/gntalloc.h`.

use std::mem::{offset_of, size_of};

use libc::c_ulong;

use super::{gntdev::UnmapNotify, ioc};

/// `struct ioctl_gntalloc_alloc_gref` (24 bytes on LP64; `gref_ids` holds `count`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AllocGref {
    /// IN: domain allowed to map the pages.
    pub domid: u16,
    /// IN: `GNTALLOC_FLAG_*`.
    pub flags: u16,
    /// IN: number of pages.
    pub count: u32,
    /// OUT: byte offset to pass to mmap.
    pub index: u64,
    /// OUT: first of `count` grant refs.
    pub gref_ids: [u32; 1],
}

/// The peer may map the pages writable.
pub const GNTALLOC_FLAG_WRITABLE: u16 = 1;

/// `struct ioctl_gntalloc_dealloc_gref` (16 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DeallocGref {
    /// Offset returned by ALLOC_GREF.
    pub index: u64,
    /// Number of pages.
    pub count: u32,
}

/// `IOCTL_GNTALLOC_ALLOC_GREF`.
pub const IOCTL_GNTALLOC_ALLOC_GREF: c_ulong = ioc::none(b'G', 5, size_of::<AllocGref>());
/// `IOCTL_GNTALLOC_DEALLOC_GREF`.
pub const IOCTL_GNTALLOC_DEALLOC_GREF: c_ulong = ioc::none(b'G', 6, size_of::<DeallocGref>());
/// `IOCTL_GNTALLOC_SET_UNMAP_NOTIFY` (same struct as gntdev's).
pub const IOCTL_GNTALLOC_SET_UNMAP_NOTIFY: c_ulong = ioc::none(b'G', 7, size_of::<UnmapNotify>());

#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<AllocGref>() == 24 && offset_of!(AllocGref, gref_ids) == 16);
    assert!(size_of::<DeallocGref>() == 16);
    assert!(IOCTL_GNTALLOC_ALLOC_GREF == 0x0018_4705);
};
