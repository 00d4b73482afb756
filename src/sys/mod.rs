//! Kernel ABI: the structs and ioctl numbers of Linux's `<xen/gntdev.h>` and
//! `<xen/gntalloc.h>`, and the few `unsafe` calls that hand them to the kernel.
//!
//! Nothing here decides policy; the safe API in [`crate::gnttab`] and
//! [`crate::gntshr`] does. Layouts are pinned by `const` assertions below and
//! checked against the kernel's own headers by `tests/kernel_abi.rs`.

pub mod fam;
pub mod gntalloc;
pub mod gntdev;
pub mod mem;

use std::os::fd::{AsRawFd, BorrowedFd};

use libc::c_ulong;
use nix::errno::Errno;

/// `_IOC_NONE` and the direction shift for this architecture's `_IOC` encoding.
#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc64"
))]
const IOC_NONE_DIR: c_ulong = 1 << 29;
#[cfg(not(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc64"
)))]
const IOC_NONE_DIR: c_ulong = 0;

/// `_IOC(_IOC_NONE, 'G', nr, size)`: every gntdev/gntalloc ioctl is declared
/// with direction NONE *and* a size, which nix's `ioctl_none!` cannot express.
pub const fn ioc_none_g(nr: u8, size: usize) -> c_ulong {
    IOC_NONE_DIR | ((size as c_ulong) << 16) | ((b'G' as c_ulong) << 8) | nr as c_ulong
}

/// Issue `ioctl(fd, request, arg)`.
///
/// # Safety
/// `arg` must point to memory laid out as the kernel expects for `request`,
/// readable and writable for the whole size the kernel accesses (for the
/// flexible-array structs: the header plus `count` elements).
pub unsafe fn ioctl<T>(fd: BorrowedFd<'_>, request: c_ulong, arg: *mut T) -> Result<(), Errno> {
    // SAFETY: the caller guarantees `arg` matches `request`; `fd` is open.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    Errno::result(rc).map(drop)
}

pub mod copy;
mod calls;
pub use calls::*;
