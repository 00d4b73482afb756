//! Which grants a map request names.

use crate::domid::DomId;
use crate::error::{Error, Result};

/// The grants to map into one contiguous range: the three shapes of
/// upstream's map calls (one grant; several of one domain, upstream's
/// `XENGNTTAB_GRANT_MAP_SINGLE_DOMAIN`; several with a domain each).
///
/// ```
/// use xengnttab::{gnttab::Grants, DomId};
/// let refs = [8, 9, 10];
/// assert_eq!(Grants::OfDomain(DomId::new(3), &refs).len(), 3);
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Grants<'a> {
    /// One grant reference of one domain.
    One(DomId, u32),
    /// Grant references of one domain, mapped in order.
    OfDomain(DomId, &'a [u32]),
    /// `refs[i]` granted by `domids[i]`; the two slices must be equally long.
    PerRef {
        /// The granting domain of each reference.
        domids: &'a [DomId],
        /// The references.
        refs: &'a [u32],
    },
}

impl Grants<'_> {
    /// How many grants (pages) the request maps.
    pub fn len(&self) -> usize {
        match self {
            Grants::One(..) => 1,
            Grants::OfDomain(_, refs) | Grants::PerRef { refs, .. } => refs.len(),
        }
    }

    /// Whether the request names no grant (which the kernel refuses).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page count, checked: 1 to [`crate::MAX_COUNT`], and as many
    /// domids as refs.
    pub(crate) fn count(&self) -> Result<u32> {
        if let Grants::PerRef { domids, refs } = self {
            if domids.len() != refs.len() {
                return Err(Error::InvalidArgument("as many domids as refs"));
            }
        }
        match self.len() {
            0 => Err(Error::InvalidArgument("no grant to map")),
            n if n > crate::MAX_COUNT => Err(Error::InvalidArgument("more than 2^24 grants")),
            n => Ok(n as u32),
        }
    }

    /// The `i`th grant (`i < len()`).
    pub(crate) fn get(&self, i: usize) -> (DomId, u32) {
        match *self {
            Grants::One(d, r) => (d, r),
            Grants::OfDomain(d, refs) => (d, refs[i]),
            Grants::PerRef { domids, refs } => (domids[i], refs[i]),
        }
    }
}
