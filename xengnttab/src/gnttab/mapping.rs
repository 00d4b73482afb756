//! Grant mappings: an RAII type for Rust, and a detached record for callers
//! that hand out bare addresses.

use std::marker::PhantomData;

use super::access::{Access, ReadWrite};
use super::GntDev;
use crate::error::{Error, Result};
use crate::sys::mem::Region;

/// A live gntdev map: the pages and the kernel's record of them.
#[derive(Debug)]
pub(crate) struct GrantMap {
    pub(crate) region: Region,
    pub(crate) index: u64,
    pub(crate) count: u32,
}

/// Grants mapped into this process; unmapped (and the peer notified, if
/// armed) when dropped. `A` says whether it may be written.
///
/// ```no_run
/// use xengnttab::{gnttab::{GntDev, ReadWrite}, DomId};
/// let dev = GntDev::open()?;
/// let page = dev.map_grant_ref(DomId::new(5), 8, ReadWrite)?;
/// page.write(0, b"request")?;
/// let mut reply = [0; 5];
/// page.read(64, &mut reply)?;
/// page.unmap().map_err(|(_, e)| e)?; // or let it drop
/// # Ok::<(), xengnttab::Error>(())
/// ```
///
/// A read-only mapping has no `write`: writing through it would fault, so
/// safe code cannot try.
///
/// ```compile_fail,E0599
/// use xengnttab::{gnttab::{GntDev, ReadOnly}, DomId};
/// let dev = GntDev::open()?;
/// let page = dev.map_grant_ref(DomId::new(5), 8, ReadOnly)?;
/// page.write(0, b"request")?; // no method `write` on Mapping<'_, ReadOnly>
/// # Ok::<(), xengnttab::Error>(())
/// ```
pub struct Mapping<'a, A: Access = ReadWrite> {
    dev: &'a GntDev,
    /// Present until unmap, detach or drop takes it.
    map: Option<GrantMap>,
    _access: PhantomData<A>,
}

impl<'a, A: Access> Mapping<'a, A> {
    pub(crate) fn new(dev: &'a GntDev, map: GrantMap) -> Self {
        Mapping { dev, map: Some(map), _access: PhantomData }
    }

    fn map(&self) -> &GrantMap {
        self.map.as_ref().expect("present until unmap, detach or drop")
    }

    /// Start address of the mapping.
    pub fn as_ptr(&self) -> *const u8 {
        self.map().region.as_ptr()
    }

    /// Length in bytes (pages times the page size).
    pub fn len(&self) -> usize {
        self.map().region.len()
    }

    /// Never true: a mapping has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of grants (pages) mapped.
    pub fn count(&self) -> u32 {
        self.map().count
    }

    /// Copy bytes out of the granted pages. The granter may be writing at
    /// the same time: the copy is done with atomic loads, so it sees some
    /// mix of old and new bytes, never anything undefined.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the range leaves the mapping.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.map().region.read(offset, buf).map_err(|_| Error::InvalidArgument("read outside the mapping"))
    }

    /// Load the aligned 32-bit word at `offset` (acquire): a ring index.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if unaligned or outside the mapping.
    pub fn load_u32(&self, offset: usize) -> Result<u32> {
        self.map().region.load_u32(offset).map_err(|_| Error::InvalidArgument("unaligned or outside the mapping"))
    }

    /// Unmap now, reporting errors that drop would swallow. On error the
    /// mapping is still in place and is returned.
    ///
    /// # Errors
    /// [`crate::Op::UnmapGrantRef`] if the kernel refuses (a restricted
    /// descriptor); [`Error::ForeignProcess`] in a fork child.
    pub fn unmap(mut self) -> Result<(), (Self, Error)> {
        let map = self.map.take().expect("present until unmap, detach or drop");
        let dev = self.dev;
        dev.unmap_region(map).map_err(|(map, e)| (Mapping::new(dev, map), e))
    }

    /// Give up RAII: the mapping stays until
    /// [`GntDev::unmap_detached`] on the same handle.
    pub fn detach(mut self) -> DetachedMapping {
        let map = self.map.take().expect("present until unmap, detach or drop");
        DetachedMapping { map, device: self.dev.core.serial() }
    }
}

impl Mapping<'_, ReadWrite> {
    /// Start address, for writing through raw pointers.
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.map().region.as_ptr()
    }

    /// Copy bytes into the granted pages (atomic stores; see [`Self::read`]).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the range leaves the mapping.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.map().region.write(offset, data).map_err(|_| Error::InvalidArgument("write outside the mapping"))
    }

    /// Store the aligned 32-bit word at `offset` (release): a ring index.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if unaligned or outside the mapping.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<()> {
        self.map().region.store_u32(offset, value).map_err(|_| Error::InvalidArgument("unaligned or outside the mapping"))
    }
}

impl<A: Access> std::fmt::Debug for Mapping<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping").field("map", &self.map).field("access", &std::any::type_name::<A>()).finish()
    }
}

impl<A: Access> Drop for Mapping<'_, A> {
    fn drop(&mut self) {
        // Nothing to report to; a refused unmap (or a fork child, which
        // must not touch the parent's kernel records) leaves the pages mapped.
        if let Some(map) = self.map.take() {
            let _ = self.dev.unmap_region(map);
        }
    }
}

/// A live grant mapping with no lifetime attached: what the C ABI hands out
/// as a bare pointer. Dropping it leaves the pages mapped; it is unmapped
/// only by [`GntDev::unmap_detached`] on the handle that made it.
#[derive(Debug)]
pub struct DetachedMapping {
    pub(crate) map: GrantMap,
    pub(crate) device: u64,
}

impl DetachedMapping {
    /// Start address.
    pub fn addr(&self) -> *mut u8 {
        self.map.region.as_ptr()
    }

    /// Number of grants (pages).
    pub fn count(&self) -> u32 {
        self.map.count
    }
}
