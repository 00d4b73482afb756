//! Grant mappings: a raw record for the C ABI and an RAII type for Rust.

use super::GntDev;
use crate::error::Result;
use crate::sys::mem::Region;

/// A live grant mapping with no lifetime attached: what the C ABI hands out
/// as a bare pointer. Unmapped only through the handle that made it.
#[derive(Debug)]
pub struct GrantMapping {
    pub(crate) region: Region,
    pub(crate) index: u64,
    pub(crate) count: u32,
}

impl GrantMapping {
    /// Start address.
    pub fn addr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Number of grant pages.
    pub fn count(&self) -> u32 {
        self.count
    }
}

/// Grants mapped into this process; unmapped (and the peer notified, if
/// armed) when dropped.
pub struct Mapping<'a> {
    dev: &'a GntDev,
    map: Option<GrantMapping>,
}

impl<'a> Mapping<'a> {
    pub(crate) fn new(dev: &'a GntDev, map: GrantMapping) -> Self {
        Mapping { dev, map: Some(map) }
    }

    fn region(&self) -> &Region {
        &self.map.as_ref().expect("present until unmap or drop").region
    }

    /// Start address of the mapping.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region().as_ptr()
    }

    /// Length in bytes (pages times the page size).
    pub fn len(&self) -> usize {
        self.region().len()
    }

    /// Never true: a mapping has at least one page.
    pub fn is_empty(&self) -> bool {
        self.region().is_empty()
    }

    /// Copy bytes out of the granted pages.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.region().read(offset, buf).map_err(|_| crate::Error::InvalidArgument("read outside the mapping"))
    }

    /// Copy bytes into the granted pages (faults on a read-only mapping).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.region().write(offset, data).map_err(|_| crate::Error::InvalidArgument("write outside the mapping"))
    }

    /// Unmap now, reporting errors that drop would swallow. On error the
    /// mapping is still in place and is returned.
    pub fn unmap(mut self) -> Result<(), (Self, crate::Error)> {
        let map = self.map.take().expect("present until unmap or drop");
        self.dev.unmap_raw(map).map_err(|(map, e)| (Mapping { dev: self.dev, map: Some(map) }, e))
    }

    /// Give up RAII: the caller must pass the record back to the same
    /// handle's unmap path (the C ABI does this).
    pub fn into_raw(mut self) -> GrantMapping {
        self.map.take().expect("present until unmap or drop")
    }
}

impl std::fmt::Debug for Mapping<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mapping").field("map", &self.map).finish()
    }
}

impl Drop for Mapping<'_> {
    fn drop(&mut self) {
        if let Some(m) = self.map.take() {
            // Nothing to report to; a failed unmap leaves the pages mapped.
            let _ = self.dev.unmap_raw(m);
        }
    }
}
