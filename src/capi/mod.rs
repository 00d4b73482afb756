//! The C ABI: upstream's 20 functions, exported under upstream's symbol
//! versions. Each function checks its pointers, catches panics, runs the
//! safe API and turns its `Result` into upstream's `-1`/`NULL` plus errno.
//!
//! One module per C type or area: [`handle`] (open/close/fd), [`gnttab`]
//! (map/unmap/copy), [`dmabuf`], [`gntshr`] (share/unshare), [`types`] (the
//! structs and constants of the header).

mod boundary;
pub mod dmabuf;
pub mod gnttab;
pub mod gntshr;
pub mod handle;
mod registry;
mod symver;
pub mod types;
