//! Cooperation with Xen's own helper libraries, found at run time.
//!
//! Upstream links libxentoollog and libxentoolcore. We look them up with
//! dlopen instead, so the library loads on hosts without them, yet a
//! caller's logger still receives our messages and `xentoolcore_restrict_all`
//! still covers our descriptors whenever those libraries are installed.

mod dl;
pub mod toolcore;
pub mod toollog;
