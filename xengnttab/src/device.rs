//! The device core under both handle types (upstream, too, has one handle
//! struct for gntdev and gntalloc): the descriptor, the process that opened
//! it, and where its next mapping should go.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Op, Result};
use crate::sys::{self, mem::Placement, process};

#[derive(Debug)]
pub(crate) struct Device {
    fd: OwnedFd,
    /// The process that opened the device: the only one allowed to use it.
    opener: i32,
    /// Tells this device's detached mappings from other devices'.
    serial: u64,
    pub(crate) place: Placement,
}

impl Device {
    pub(crate) fn open(path: &CStr, op: Op) -> Result<Device> {
        static SERIALS: AtomicU64 = AtomicU64::new(1);
        let fd = sys::open_device(path).map_err(Error::os(op))?;
        let serial = SERIALS.fetch_add(1, Ordering::Relaxed);
        Ok(Device { fd, opener: process::current(), serial, place: Placement::default() })
    }

    /// The descriptor, for a system call made by the process that opened it
    /// ([`Error::ForeignProcess`] in a fork child). Async-signal-safe.
    pub(crate) fn fd(&self) -> Result<BorrowedFd<'_>> {
        if process::current() == self.opener {
            Ok(self.fd.as_fd())
        } else {
            Err(Error::ForeignProcess)
        }
    }

    /// The descriptor itself, for callers that only look at it.
    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    /// Close, reporting close(2)'s result. Allowed in a fork child too: it
    /// closes only the child's descriptor.
    pub(crate) fn close(self) -> Result<()> {
        sys::close(self.fd).map_err(Error::os(Op::Close))
    }
}
