//! The C ABI: upstream libxengnttab's 20 functions, exported under
//! upstream's symbol versions, over the safe [`xengnttab`] crate.
//!
//! Each function is a thin translation: check the C pointers, catch panics,
//! turn C conventions (`-1` for "none", `prot` bits, 32-bit domids) into the
//! safe API's typed requests, run it, log the failure in upstream's words,
//! and return upstream's `-1`/`NULL` plus errno.
//!
//! One module per C type or area: [`handle`] (open/close/fd), [`gnttab`]
//! (map/unmap/copy), [`dmabuf`], [`gntshr`] (share/unshare), [`types`] (the
//! structs and constants of the header); `log` holds upstream's messages.
#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]

mod boundary;
pub mod dmabuf;
pub mod gnttab;
pub mod gntshr;
pub mod handle;
mod log;
mod registry;
pub mod types;
mod xentools;

#[cfg(test)]
mod header_tests {
    /// The committed header must be what the build generates (`make header`
    /// refreshes it).
    #[test]
    fn committed_header_is_current() {
        let generated = include_str!(concat!(env!("OUT_DIR"), "/xengnttab.h"));
        let committed = include_str!("../../include/xengnttab.h");
        assert!(generated == committed, "include/xengnttab.h is stale: run `make header`");
    }
}
