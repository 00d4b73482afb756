//! The one error type of the safe API. Every error carries the errno that
//! upstream's C library reports for the same failure.

use std::fmt;

/// What failed.
///
/// ```no_run
/// use xengnttab::{gnttab::GntDev, Error, Op};
/// match GntDev::open() {
///     Ok(_) => {}
///     Err(e @ Error::Os { op: Op::OpenGntdev, errno: libc::ENOENT }) => eprintln!("no Xen here: {e}"),
///     Err(e) => return Err(e.into()), // into std::io::Error, message kept
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The kernel refused a system call.
    #[error("{op}: {}{}", strerror(*.errno), hint(*.op, *.errno))]
    Os {
        /// The operation, named as in the kernel interface.
        op: Op,
        /// What the kernel said (an `errno` value such as `libc::EINVAL`).
        errno: i32,
    },
    /// An argument was rejected before reaching the kernel.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Memory for a request could not be allocated.
    #[error("out of memory")]
    NoMemory,
    /// The handle was opened by another process: this one is a fork child
    /// that inherited it. Nothing was done; the child must open its own.
    #[error("handle used in a process other than the one that opened it (after fork, open a new one)")]
    ForeignProcess,
}

/// The system call or ioctl behind an [`Error::Os`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `open("/dev/xen/gntdev")`.
    OpenGntdev,
    /// `open("/dev/xen/gntalloc")`.
    OpenGntalloc,
    /// `close` of the device.
    Close,
    /// `IOCTL_GNTDEV_SET_MAX_GRANTS`.
    SetMaxGrants,
    /// `IOCTL_GNTDEV_MAP_GRANT_REF`.
    MapGrantRef,
    /// `mmap` of granted pages.
    Mmap,
    /// `munmap` of granted pages.
    Munmap,
    /// `IOCTL_GNTDEV_SET_UNMAP_NOTIFY` or `IOCTL_GNTALLOC_SET_UNMAP_NOTIFY`.
    SetUnmapNotify,
    /// `IOCTL_GNTDEV_UNMAP_GRANT_REF`.
    UnmapGrantRef,
    /// `IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR`.
    GetOffsetForVaddr,
    /// `IOCTL_GNTDEV_GRANT_COPY`.
    GrantCopy,
    /// `IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS`.
    DmabufExpFromRefs,
    /// `IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED`.
    DmabufExpWaitReleased,
    /// `IOCTL_GNTDEV_DMABUF_IMP_TO_REFS`.
    DmabufImpToRefs,
    /// `IOCTL_GNTDEV_DMABUF_IMP_RELEASE`.
    DmabufImpRelease,
    /// `IOCTL_GNTALLOC_ALLOC_GREF`.
    AllocGref,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::OpenGntdev => "open /dev/xen/gntdev",
            Op::OpenGntalloc => "open /dev/xen/gntalloc",
            Op::Close => "close",
            Op::SetMaxGrants => "ioctl SET_MAX_GRANTS",
            Op::MapGrantRef => "ioctl MAP_GRANT_REF",
            Op::Mmap => "mmap",
            Op::Munmap => "munmap",
            Op::SetUnmapNotify => "ioctl SET_UNMAP_NOTIFY",
            Op::UnmapGrantRef => "ioctl UNMAP_GRANT_REF",
            Op::GetOffsetForVaddr => "ioctl GET_OFFSET_FOR_VADDR",
            Op::GrantCopy => "ioctl GRANT_COPY",
            Op::DmabufExpFromRefs => "ioctl DMABUF_EXP_FROM_REFS",
            Op::DmabufExpWaitReleased => "ioctl DMABUF_EXP_WAIT_RELEASED",
            Op::DmabufImpToRefs => "ioctl DMABUF_IMP_TO_REFS",
            Op::DmabufImpRelease => "ioctl DMABUF_IMP_RELEASE",
            Op::AllocGref => "ioctl ALLOC_GREF",
        })
    }
}

/// strerror() text (std's, minus its " (os error N)" suffix).
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// What to check, for the failures users meet most.
fn hint(op: Op, errno: i32) -> &'static str {
    use libc::*;
    match (op, errno) {
        (Op::OpenGntdev, ENOENT | ENODEV | ENXIO) => {
            " (not running in a Xen domain, or the xen-gntdev module is not loaded)"
        }
        (Op::OpenGntalloc, ENOENT | ENODEV | ENXIO) => {
            " (not running in a Xen domain, or the xen-gntalloc module is not loaded)"
        }
        (Op::OpenGntdev | Op::OpenGntalloc, EACCES | EPERM) => " (the device is usually root's only)",
        (Op::MapGrantRef, EINVAL) => " (more grants than gntdev's per-request limit, /sys/module/xen_gntdev/parameters/limit)",
        (Op::Mmap, EINVAL) => {
            " (a grant reference that the domain did not grant to this one, or a read-only grant mapped writable)"
        }
        (Op::AllocGref, ENOSPC) => {
            " (gntalloc's system-wide page limit reached: /sys/module/xen_gntalloc/parameters/limit)"
        }
        (Op::DmabufExpFromRefs | Op::DmabufExpWaitReleased | Op::DmabufImpToRefs | Op::DmabufImpRelease, ENOTTY) => {
            " (this kernel's gntdev is built without CONFIG_XEN_GNTDEV_DMABUF)"
        }
        (Op::DmabufExpFromRefs, EINVAL) => {
            " (Linux refuses export in PV domains, and on x86 in PVH and HVM ones too; an auto-translated domain on arm64 exports)"
        }
        (Op::GrantCopy, EINVAL) => " (a segment with no grant side, or a grant's offset + len past its page)",
        _ => "",
    }
}

impl Error {
    /// The errno that upstream's C library sets for this failure.
    pub fn raw_os_error(&self) -> i32 {
        match self {
            Error::Os { errno, .. } => *errno,
            Error::InvalidArgument(_) | Error::ForeignProcess => libc::EINVAL,
            Error::NoMemory => libc::ENOMEM,
        }
    }

    pub(crate) fn os(op: Op) -> impl FnOnce(nix::errno::Errno) -> Error {
        move |errno| Error::Os { op, errno: errno as i32 }
    }
}

/// Keeps the message, and the kind of the errno.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = std::io::Error::from_raw_os_error(e.raw_os_error()).kind();
        std::io::Error::new(kind, e)
    }
}

/// Result of the safe API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_follows_the_variant() {
        let e = Error::Os { op: Op::MapGrantRef, errno: libc::ENOSPC };
        assert_eq!(e.raw_os_error(), libc::ENOSPC);
        assert_eq!(Error::InvalidArgument("x").raw_os_error(), libc::EINVAL);
        assert_eq!(Error::NoMemory.raw_os_error(), libc::ENOMEM);
        assert_eq!(Error::ForeignProcess.raw_os_error(), libc::EINVAL);
        assert_eq!(e.to_string(), "ioctl MAP_GRANT_REF: No space left on device");
    }

    #[test]
    fn common_failures_say_what_to_check() {
        let e = Error::Os { op: Op::OpenGntdev, errno: libc::ENOENT };
        assert_eq!(
            e.to_string(),
            "open /dev/xen/gntdev: No such file or directory (not running in a Xen domain, or the xen-gntdev module is not loaded)"
        );
        let io: std::io::Error = e.into();
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert!(io.to_string().contains("xen-gntdev module"));
    }
}
