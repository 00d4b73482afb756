//! The `_IOC` request encoding, for this architecture.

use std::os::fd::{AsRawFd, BorrowedFd};

use libc::c_ulong;
use nix::errno::Errno;

/// `_IOC_NONE` placed in the direction bits. Zero on x86, arm and riscv;
/// powerpc, mips and sparc encode "none" as a bit of its own.
#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc64"
))]
const IOC_NONE: c_ulong = 1 << 29;
#[cfg(not(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "sparc64"
)))]
const IOC_NONE: c_ulong = 0;

/// `_IOC(_IOC_NONE, ty, nr, size)`. Xen's devices (gntdev, gntalloc, evtchn,
/// privcmd) declare their ioctls with direction NONE *and* a size, which
/// nix's `ioctl_none!` cannot express (it forces the size to 0).
pub const fn none(ty: u8, nr: u8, size: usize) -> c_ulong {
    IOC_NONE | ((size as c_ulong) << 16) | ((ty as c_ulong) << 8) | nr as c_ulong
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

#[cfg(test)]
mod tests {
    #[test]
    fn encoding_matches_the_kernel_layout_on_this_architecture() {
        // size in bits 16..29, type in 8..15, number in 0..7 (asm-generic).
        let r = super::none(b'G', 7, 16);
        assert_eq!(r & 0xff, 7);
        assert_eq!((r >> 8) & 0xff, u64::from(b'G') as libc::c_ulong);
        assert_eq!((r >> 16) & 0x3fff, 16);
    }
}
