//! Domain ids.

use std::fmt;

use crate::error::Error;

/// A Xen domain id: 16 bits (`domid_t`). The kernel interfaces carry domids
/// in 32-bit fields and silently truncate larger values to another domain;
/// a `DomId` cannot hold one.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomId(u32);

impl DomId {
    /// Domain 0 (the control domain), which may also map grants it made to
    /// itself: what the examples and the loopback tests use.
    pub const SELF_GRANT: DomId = DomId(0);

    /// The domain with id `id`.
    pub const fn new(id: u16) -> DomId {
        DomId(id as u32)
    }

    /// The id.
    pub const fn get(self) -> u16 {
        self.0 as u16
    }

    /// The id as the kernel's 32-bit fields carry it.
    pub(crate) const fn raw(self) -> u32 {
        self.0
    }
}

impl From<u16> for DomId {
    fn from(id: u16) -> DomId {
        DomId::new(id)
    }
}

impl TryFrom<u32> for DomId {
    type Error = Error;

    /// # Errors
    /// [`Error::InvalidArgument`] above 65535.
    fn try_from(id: u32) -> Result<DomId, Error> {
        u16::try_from(id).map(DomId::new).map_err(|_| Error::InvalidArgument("domid above 65535"))
    }
}

impl From<DomId> for u16 {
    fn from(d: DomId) -> u16 {
        d.get()
    }
}

impl fmt::Display for DomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_16_bit_ids_exist() {
        assert_eq!(DomId::try_from(65535u32).unwrap().get(), 65535);
        assert!(matches!(DomId::try_from(65536u32), Err(Error::InvalidArgument(_))));
        assert_eq!(DomId::from(7).raw(), 7);
    }
}
