//! The one error type of the safe API. Every error carries the errno that the
//! C ABI reports for it.

use nix::errno::Errno;

/// What failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The kernel refused a system call.
    #[error("{op} failed: {errno}")]
    Os {
        /// The operation, named as in the kernel interface.
        op: Op,
        /// What the kernel said.
        errno: Errno,
    },
    /// An argument was rejected before reaching the kernel.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Memory for a request could not be allocated.
    #[error("out of memory")]
    NoMemory,
}

/// The system call or ioctl behind an [`Error::Os`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Op {
    Open,
    Close,
    SetMaxGrants,
    MapGrantRef,
    Mmap,
    Munmap,
    SetUnmapNotify,
    UnmapGrantRef,
    GrantCopy,
    DmabufExpFromRefs,
    DmabufExpWaitReleased,
    DmabufImpToRefs,
    DmabufImpRelease,
    AllocGref,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Op::Open => "open",
            Op::Close => "close",
            Op::SetMaxGrants => "ioctl SET_MAX_GRANTS",
            Op::MapGrantRef => "ioctl MAP_GRANT_REF",
            Op::Mmap => "mmap",
            Op::Munmap => "munmap",
            Op::SetUnmapNotify => "ioctl SET_UNMAP_NOTIFY",
            Op::UnmapGrantRef => "ioctl UNMAP_GRANT_REF",
            Op::GrantCopy => "ioctl GRANT_COPY",
            Op::DmabufExpFromRefs => "ioctl DMABUF_EXP_FROM_REFS",
            Op::DmabufExpWaitReleased => "ioctl DMABUF_EXP_WAIT_RELEASED",
            Op::DmabufImpToRefs => "ioctl DMABUF_IMP_TO_REFS",
            Op::DmabufImpRelease => "ioctl DMABUF_IMP_RELEASE",
            Op::AllocGref => "ioctl ALLOC_GREF",
        };
        f.write_str(s)
    }
}

impl Error {
    /// The errno the C ABI sets for this error.
    pub fn errno(&self) -> Errno {
        match self {
            Error::Os { errno, .. } => *errno,
            Error::InvalidArgument(_) => Errno::EINVAL,
            Error::NoMemory => Errno::ENOMEM,
        }
    }

    pub(crate) fn os(op: Op) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Os { op, errno }
    }
}

/// Result of the safe API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_follows_the_variant() {
        let e = Error::Os { op: Op::MapGrantRef, errno: Errno::ENOSPC };
        assert_eq!(e.errno(), Errno::ENOSPC);
        assert_eq!(Error::InvalidArgument("x").errno(), Errno::EINVAL);
        assert_eq!(Error::NoMemory.errno(), Errno::ENOMEM);
        assert!(e.to_string().starts_with("ioctl MAP_GRANT_REF failed: ENOSPC"));
    }
}
