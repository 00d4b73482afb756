//! Xen grant tables from Rust: map other domains' memory, copy through
//! grants, share pages with other domains and turn grants into dma-bufs,
//! through Linux's `/dev/xen/gntdev` and `/dev/xen/gntalloc`.
//!
//! This is the safe API under `libxengnttab.so.1`, the drop-in replacement
//! for Xen's C library that the `xengnttab-capi` crate builds; a Rust
//! program uses it directly:
//!
//! ```no_run
//! use xengnttab::{gntshr::GntShr, gnttab::{GntDev, ReadWrite}, DomId};
//! let shr = GntShr::open()?;
//! let pages = shr.share_pages(DomId::SELF_GRANT, 1, true)?; // unshared on drop
//! let dev = GntDev::open()?;
//! let map = dev.map_grant_ref(DomId::SELF_GRANT, pages.refs()[0], ReadWrite)?; // unmapped on drop
//! map.write(0, b"hello")?;
//! let mut buf = [0; 5];
//! pages.read(0, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), xengnttab::Error>(())
//! ```
//!
//! Layers, from the kernel up: a private `sys` module holds the kernel ABI
//! (structs, ioctl numbers) and every `unsafe` system call; [`gnttab`] and
//! [`gntshr`] are the safe API on top, with RAII mappings and shares and one
//! [`Error`] type.
//!
//! A handle belongs to the process that opened it: after `fork`, every call
//! on an inherited handle fails with [`Error::ForeignProcess`] and leaves the
//! parent's mappings and kernel records alone; the child opens its own.
#![deny(unsafe_op_in_unsafe_fn)]

mod device;
mod domid;
mod error;
pub mod gntshr;
pub mod gnttab;
mod notify;
mod sys;

pub use domid::DomId;
pub use error::{Error, Op, Result};
pub use notify::UnmapNotify;

/// Requests of more grants, pages or segments than this are refused with
/// EINVAL before anything is allocated or copied. Far above what the
/// kernel accepts per request (gntdev's `limit`, 65536 by default; gntalloc's
/// system-wide 1024 pages), far below where sizes overflow.
pub const MAX_COUNT: usize = 1 << 24;

/// The `_IOC` request encoding of this architecture, for the ioctls of Xen's
/// other devices (`/dev/xen/evtchn`, `privcmd`), which use the same
/// convention as gntdev: direction "none" with a size.
pub mod ioctl {
    /// `_IOC(_IOC_NONE, ty, nr, size)`.
    ///
    /// ```
    /// // IOCTL_GNTDEV_MAP_GRANT_REF on x86-64 and arm64
    /// assert_eq!(xengnttab::ioctl::request_code_none(b'G', 0, 24), 0x0018_4700);
    /// ```
    pub const fn request_code_none(ty: u8, nr: u8, size: usize) -> libc::c_ulong {
        crate::sys::ioc::none(ty, nr, size)
    }
}
