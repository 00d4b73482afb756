//! Whether a mapping may be written, as a type (so that writing through a
//! read-only mapping does not compile), and as raw `PROT_*` bits for the C
//! ABI's detached mappings.

/// How a [`super::Mapping`] may be accessed: [`ReadOnly`] or [`ReadWrite`].
pub trait Access: sealed::Sealed + Copy + std::fmt::Debug {
    /// The mmap protection.
    const PROT: i32;
}

/// Map the grants read-only (`PROT_READ`): the mapping has no `write`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOnly;

/// Map the grants read-write (`PROT_READ | PROT_WRITE`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadWrite;

impl Access for ReadOnly {
    const PROT: i32 = libc::PROT_READ;
}

impl Access for ReadWrite {
    const PROT: i32 = libc::PROT_READ | libc::PROT_WRITE;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ReadOnly {}
    impl Sealed for super::ReadWrite {}
}

/// mmap protection bits for a [`super::DetachedMapping`], passed to the
/// kernel as given (as upstream's C library passes its `prot`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prot(i32);

impl Prot {
    /// `PROT_READ`.
    pub const READ: Prot = Prot(libc::PROT_READ);
    /// `PROT_READ | PROT_WRITE`.
    pub const READ_WRITE: Prot = Prot(libc::PROT_READ | libc::PROT_WRITE);

    /// Any `PROT_*` combination, as C callers pass it.
    pub const fn from_raw(prot: i32) -> Prot {
        Prot(prot)
    }

    pub(crate) fn raw(self) -> i32 {
        self.0
    }
}
