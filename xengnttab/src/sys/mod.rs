//! Kernel ABI: the structs and ioctl numbers of Linux's `<xen/gntdev.h>` and
//! `<xen/gntalloc.h>`, and the few `unsafe` calls that hand them to the
//! kernel (ioctl, mmap, munmap, open, close). Private to the crate.
//!
//! Nothing here decides policy; the safe API in [`crate::gnttab`] and
//! [`crate::gntshr`] does. Layouts are pinned by `const` assertions next to
//! each struct and checked against the kernel's own headers by `abi_check`.

pub(crate) mod calls;
pub(crate) mod fam;
pub(crate) mod gntalloc;
pub(crate) mod gntdev;
pub(crate) mod ioc;
pub(crate) mod mem;
pub(crate) mod process;

#[cfg(test)]
mod abi_check;

pub(crate) use calls::*;
