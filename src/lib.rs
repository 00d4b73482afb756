//! A drop-in reimplementation of Xen's `libxengnttab`, with a safe Rust API
//! underneath.
//!
//! Layers, from the kernel up:
//! - [`sys`]: the kernel ABI of gntdev and gntalloc (structs, ioctl numbers)
//!   and the few `unsafe` calls that use it;
//! - [`gnttab`], [`gntshr`]: the safe API, with RAII mappings and shares;
//! - [`log`] and `xentools`: upstream-shaped logging and cooperation with
//!   libxentoollog/libxentoolcore when present;
//! - `capi`: upstream's C ABI (`xengnttab_*`, `xengntshr_*`).
//!
//! ```no_run
//! use xengnttab::{gnttab::{Access, GntDev}, gntshr::GntShr};
//! let shr = GntShr::open()?;
//! let pages = shr.share_pages(0, 1, true)?;      // grant a page to dom0 (us)
//! let dev = GntDev::open()?;
//! let map = dev.map_grant_ref(0, pages.refs()[0], Access::ReadWrite)?;
//! map.write(0, b"hello")?;
//! let mut buf = [0; 5];
//! pages.read(0, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), xengnttab::Error>(())
//! ```
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]

// Only `capi` feeds the C header; cbindgen skips the other modules.
#[doc(hidden)]
pub mod capi;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
pub mod gnttab;
/// cbindgen:ignore
pub mod gntshr;
/// cbindgen:ignore
pub mod log;
/// cbindgen:ignore
pub mod notify;
/// cbindgen:ignore
pub mod sys;
/// cbindgen:ignore
mod xentools;

pub use error::{Error, Op, Result};
pub use notify::UnmapNotify;

#[cfg(test)]
mod header_tests {
    /// The committed header must be what the build generates (`make header`
    /// refreshes it).
    #[test]
    fn committed_header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/xengnttab.h"));
        let committed = include_str!("../include/xengnttab.h");
        assert!(generated == committed, "include/xengnttab.h is stale: run `make header`");
    }
}
