//! Grant-copy segments whose local side is a borrowed Rust buffer.

use std::marker::PhantomData;

use crate::domid::DomId;
use crate::sys::gntdev::{CopyPtr, ForeignPtr, GrantCopySegment, GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF};

/// A grant in another (or this) domain, at a byte offset of its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantAddr {
    /// Granting domain.
    pub domid: DomId,
    /// Grant reference.
    pub gref: u32,
    /// Byte offset in the granted page; `offset + len` must not pass the page end.
    pub offset: u16,
}

impl From<GrantAddr> for CopyPtr {
    fn from(g: GrantAddr) -> Self {
        CopyPtr { foreign: ForeignPtr { r#ref: g.gref, offset: g.offset, domid: g.domid.get() } }
    }
}

/// One grant-copy operation, laid out exactly as the kernel's
/// `struct gntdev_grant_copy_segment`, which is also upstream's
/// `xengnttab_grant_copy_segment_t` (24 bytes on LP64), so a slice of them
/// is passed to the kernel as is.
///
/// ```no_run
/// use xengnttab::{gnttab::{CopySegment, GntDev, GrantAddr}, DomId};
/// let dev = GntDev::open()?;
/// let mut frame = vec![0u8; 4096];
/// let src = GrantAddr { domid: DomId::new(5), gref: 8, offset: 0 };
/// let mut segs = [CopySegment::from_grant(src, &mut frame).unwrap()];
/// dev.grant_copy(&mut segs)?;
/// assert_eq!(segs[0].status(), 0); // GNTST_okay
/// # Ok::<(), xengnttab::Error>(())
/// ```
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

    /// View an array of C `xengnttab_grant_copy_segment_t` as `CopySegment`s
    /// (the C ABI's door to [`super::GntDev::grant_copy`]).
    ///
    /// # Safety
    /// `ptr` must point to `count` initialised segments of that C layout
    /// whose local pointers are valid for their lengths for `'a`, and nothing
    /// else may access them meanwhile. `ptr` may be dangling only when
    /// `count` is 0.
    pub unsafe fn from_raw_parts(ptr: *mut CopySegment<'a>, count: usize) -> &'a mut [CopySegment<'a>] {
        if count == 0 {
            return &mut [];
        }
        // SAFETY: validity is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(ptr, count) }
    }

    /// Bytes to copy.
    pub fn len(&self) -> u16 {
        self.raw.len
    }

    /// Whether there is nothing to copy.
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }

    /// The `GNTST_*` status the kernel wrote for this segment (0 = okay).
    pub fn status(&self) -> i16 {
        self.raw.status
    }
}

impl std::fmt::Debug for CopySegment<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopySegment")
            .field("len", &self.raw.len)
            .field("flags", &self.raw.flags)
            .field("status", &self.raw.status)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_the_kernel_segment() {
        assert_eq!(std::mem::size_of::<CopySegment<'_>>(), std::mem::size_of::<GrantCopySegment>());
        let mut buf = [0u8; 100];
        let g = GrantAddr { domid: DomId::new(3), gref: 9, offset: 10 };
        let s = CopySegment::from_grant(g, &mut buf).unwrap();
        // SAFETY: reading the union's foreign arm, which from_grant wrote.
        let f = unsafe { s.raw.source.foreign };
        assert_eq!((f.r#ref, f.offset, f.domid, s.len(), s.raw.flags), (9, 10, 3, 100, GNTCOPY_SOURCE_GREF));
        assert!(CopySegment::to_grant(&[0; 65536], g).is_none());
    }
}
