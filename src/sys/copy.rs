//! Grant-copy segments whose local side is a borrowed Rust buffer.

use std::marker::PhantomData;

use super::gntdev::{CopyPtr, ForeignPtr, GrantCopySegment, GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF};

/// A grant in another (or this) domain, at a byte offset of its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantAddr {
    /// Granting domain.
    pub domid: u16,
    /// Grant reference.
    pub gref: u32,
    /// Byte offset in the granted page; `offset + len` must not pass the page end.
    pub offset: u16,
}

impl From<GrantAddr> for CopyPtr {
    fn from(g: GrantAddr) -> Self {
        CopyPtr { foreign: ForeignPtr { r#ref: g.gref, offset: g.offset, domid: g.domid } }
    }
}

/// One grant-copy operation, laid out exactly as the kernel's
/// `struct gntdev_grant_copy_segment`, so a slice of them is passed as is.
///
/// Invariant: a local side points to memory valid for `len` bytes (readable
/// for a source, writable for a destination) for the lifetime `'a`.
#[repr(transparent)]
pub struct CopySegment<'a> {
    raw: GrantCopySegment,
    _buf: PhantomData<&'a mut [u8]>,
}

impl<'a> CopySegment<'a> {
    fn new(source: CopyPtr, dest: CopyPtr, len: usize, flags: u16) -> Option<Self> {
        let len = u16::try_from(len).ok()?;
        Some(CopySegment { raw: GrantCopySegment { source, dest, len, flags, status: 0 }, _buf: PhantomData })
    }

    /// Copy `src` into a grant. `None` if `src` is longer than 65535 bytes.
    pub fn to_grant(src: &'a [u8], dest: GrantAddr) -> Option<Self> {
        let local = CopyPtr { virt: src.as_ptr().cast_mut().cast() };
        Self::new(local, dest.into(), src.len(), GNTCOPY_DEST_GREF)
    }

    /// Copy a grant's bytes into `dest`. `None` if `dest` is longer than 65535 bytes.
    pub fn from_grant(src: GrantAddr, dest: &'a mut [u8]) -> Option<Self> {
        let len = dest.len();
        let local = CopyPtr { virt: dest.as_mut_ptr().cast() };
        Self::new(src.into(), local, len, GNTCOPY_SOURCE_GREF)
    }

    /// Copy `len` bytes from one grant to another.
    pub fn between_grants(src: GrantAddr, dest: GrantAddr, len: u16) -> Self {
        Self::new(src.into(), dest.into(), len.into(), GNTCOPY_SOURCE_GREF | GNTCOPY_DEST_GREF)
            .expect("u16 length always fits")
    }

    /// View C segments as `CopySegment`s.
    ///
    /// # Safety
    /// `ptr` must point to `count` initialised segments whose local pointers
    /// are valid for their lengths for `'a`, and nothing else may access
    /// them meanwhile. `ptr` may be dangling only when `count` is 0.
    pub unsafe fn from_raw_parts(ptr: *mut GrantCopySegment, count: usize) -> &'a mut [CopySegment<'a>] {
        if count == 0 {
            return &mut [];
        }
        // SAFETY: transparent layout; validity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(ptr.cast(), count) }
    }

    /// The `GNTST_*` status the kernel wrote for this segment (0 = okay).
    pub fn status(&self) -> i16 {
        self.raw.status
    }
}
