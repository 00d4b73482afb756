//! Shared memory as the protocol code sees it: a bounds-checked byte region
//! that another domain may change at any moment. Implemented by grant
//! mappings and shared pages (the real thing) and by `MemBuf` (in-memory, for
//! tests). Every access is checked; nothing hands out a reference into the
//! region, so a guest changing bytes under us can only change values, never
//! make us read outside the region.

use std::cell::RefCell;
use std::rc::Rc;

use xengnttab::gnttab::{Mapping, ReadOnly, ReadWrite};
use xengnttab::gntshr::SharedPages;

/// An access outside the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("access outside the shared region")]
pub struct OutOfBounds;

/// A region of memory shared with another domain.
pub trait SharedMem {
    /// Length in bytes.
    fn size(&self) -> usize;
    /// Copy out `buf.len()` bytes at `off`.
    fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds>;
    /// Copy in `data` at `off`.
    fn write_at(&self, off: usize, data: &[u8]) -> Result<(), OutOfBounds>;
    /// A 32-bit ring index, read once (atomically where the memory is real).
    fn load_u32(&self, off: usize) -> Result<u32, OutOfBounds> {
        let mut b = [0; 4];
        self.read_at(off, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    /// A 32-bit ring index, written once.
    fn store_u32(&self, off: usize, v: u32) -> Result<(), OutOfBounds> {
        self.write_at(off, &v.to_le_bytes())
    }
}

impl<T: SharedMem + ?Sized> SharedMem for Box<T> {
    fn size(&self) -> usize {
        (**self).size()
    }
    fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        (**self).read_at(off, buf)
    }
    fn write_at(&self, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        (**self).write_at(off, data)
    }
    fn load_u32(&self, off: usize) -> Result<u32, OutOfBounds> {
        (**self).load_u32(off)
    }
    fn store_u32(&self, off: usize, v: u32) -> Result<(), OutOfBounds> {
        (**self).store_u32(off, v)
    }
}

fn check(size: usize, off: usize, len: usize) -> Result<(), OutOfBounds> {
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(OutOfBounds),
    }
}

/// In-memory shared region (tests, and the two sides of a simulated
/// connection: clones share the same bytes).
#[derive(Clone, Debug)]
pub struct MemBuf(Rc<RefCell<Vec<u8>>>);

impl MemBuf {
    pub fn new(len: usize) -> MemBuf {
        MemBuf(Rc::new(RefCell::new(vec![0; len])))
    }
    pub fn bytes(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }
}

impl SharedMem for MemBuf {
    fn size(&self) -> usize {
        self.0.borrow().len()
    }
    fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        let v = self.0.borrow();
        check(v.len(), off, buf.len())?;
        buf.copy_from_slice(&v[off..off + buf.len()]);
        Ok(())
    }
    fn write_at(&self, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        let mut v = self.0.borrow_mut();
        check(v.len(), off, data.len())?;
        v[off..off + data.len()].copy_from_slice(data);
        Ok(())
    }
}

/// Both kinds of grant memory of the safe API serve as `SharedMem` alike;
/// the library does every access atomically, ring indexes with
/// acquire/release ordering.
macro_rules! shared_mem_for {
    ($($t:ty),+) => {$(
        impl SharedMem for $t {
            fn size(&self) -> usize {
                self.len()
            }
            fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
                self.read(off, buf).map_err(|_| OutOfBounds)
            }
            fn write_at(&self, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
                self.write(off, data).map_err(|_| OutOfBounds)
            }
            fn load_u32(&self, off: usize) -> Result<u32, OutOfBounds> {
                self.load_u32(off).map_err(|_| OutOfBounds)
            }
            fn store_u32(&self, off: usize, v: u32) -> Result<(), OutOfBounds> {
                self.store_u32(off, v).map_err(|_| OutOfBounds)
            }
        }
    )+};
}
shared_mem_for!(Mapping<'_, ReadWrite>, SharedPages<'_>);

/// A read-only mapping: the backend never writes the guest's buffers it
/// maps read-only; a write is refused like an access out of bounds.
impl SharedMem for Mapping<'_, ReadOnly> {
    fn size(&self) -> usize {
        self.len()
    }
    fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        self.read(off, buf).map_err(|_| OutOfBounds)
    }
    fn write_at(&self, _off: usize, _data: &[u8]) -> Result<(), OutOfBounds> {
        Err(OutOfBounds)
    }
    fn load_u32(&self, off: usize) -> Result<u32, OutOfBounds> {
        self.load_u32(off).map_err(|_| OutOfBounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membuf_bounds() {
        let m = MemBuf::new(16);
        assert!(m.write_at(12, &[1, 2, 3, 4]).is_ok());
        assert_eq!(m.write_at(13, &[1, 2, 3, 4]), Err(OutOfBounds));
        assert_eq!(m.read_at(usize::MAX, &mut [0; 2]), Err(OutOfBounds));
        assert_eq!(m.load_u32(12), Ok(0x0403_0201));
        let m2 = m.clone();
        m2.store_u32(0, 7).unwrap();
        assert_eq!(m.load_u32(0), Ok(7));
    }
}
