//! Shared memory as the protocol code sees it: a bounds-checked byte region
//! that another domain may change at any moment. Implemented by grant
//! mappings and shared pages (the real thing) and by `MemBuf` (in-memory, for
//! tests). Every access is checked; nothing hands out a reference into the
//! region, so a guest changing bytes under us can only change values, never
//! make us read outside the region.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

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

/// Run one atomic operation on the aligned 32-bit word at `off` of the live
/// mapping starting at `base` (`size` bytes). Ring indexes go through here.
fn with_atomic<R>(base: *mut u8, size: usize, off: usize, f: impl FnOnce(&AtomicU32) -> R) -> Result<R, OutOfBounds> {
    check(size, off, 4)?;
    if off % 4 != 0 {
        return Err(OutOfBounds);
    }
    // SAFETY: `off..off+4` is inside the mapping (checked above), which the
    // caller keeps alive for this call, and it is 4-byte aligned (mappings
    // are page aligned, `off` is a multiple of 4). The reference does not
    // outlive `f`. The other domain accesses the word concurrently, which is
    // what atomics are for.
    let word = unsafe { AtomicU32::from_ptr(base.add(off).cast::<u32>()) };
    Ok(f(word))
}

/// Copy `buf.len()` bytes at `off` out of a live region another domain
/// writes concurrently. Every byte is read exactly once, with relaxed atomic
/// loads (8 bytes at a time where aligned), never with a plain copy: a plain
/// read racing the guest's writes is undefined behaviour in Rust's memory
/// model, and the compiler could read a byte twice.
fn copy_out(base: *mut u8, size: usize, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
    check(size, off, buf.len())?;
    let mut i = 0;
    let n = buf.len();
    while i < n {
        let addr = off + i;
        if addr % 8 == 0 && n - i >= 8 {
            // SAFETY: `addr..addr+8` is inside the region (checked above)
            // and 8-byte aligned (the region is page aligned).
            let w = unsafe { AtomicU64::from_ptr(base.add(addr).cast::<u64>()) }.load(Ordering::Relaxed);
            buf[i..i + 8].copy_from_slice(&w.to_ne_bytes());
            i += 8;
        } else {
            // SAFETY: `addr` is inside the region (checked above).
            buf[i] = unsafe { AtomicU8::from_ptr(base.add(addr)) }.load(Ordering::Relaxed);
            i += 1;
        }
    }
    Ok(())
}

/// Copy `data` into a live shared region at `off`, with relaxed atomic
/// stores (the guest may read or write the same bytes meanwhile).
fn copy_in(base: *mut u8, size: usize, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
    check(size, off, data.len())?;
    let mut i = 0;
    let n = data.len();
    while i < n {
        let addr = off + i;
        if addr % 8 == 0 && n - i >= 8 {
            let w = u64::from_ne_bytes(data[i..i + 8].try_into().expect("8 bytes"));
            // SAFETY: in bounds (checked above) and 8-byte aligned.
            unsafe { AtomicU64::from_ptr(base.add(addr).cast::<u64>()) }.store(w, Ordering::Relaxed);
            i += 8;
        } else {
            // SAFETY: in bounds (checked above).
            unsafe { AtomicU8::from_ptr(base.add(addr)) }.store(data[i], Ordering::Relaxed);
            i += 1;
        }
    }
    Ok(())
}

/// A page-aligned region of memory that another party (a guest, a device)
/// may access concurrently, seen only through atomic accesses. Used for the
/// KMS dumb buffers (`kms::DumbMap`), which the guest draws into directly
/// in zero-copy mode.
///
/// # Safety
/// `base()` must point to `bytes()` bytes, page aligned, mapped for as long as
/// the value lives.
pub unsafe trait RawShared {
    fn base(&self) -> *mut u8;
    fn bytes(&self) -> usize;
}

/// `SharedMem` on a [`RawShared`] type: every access atomic.
#[macro_export]
macro_rules! shared_mem_via_atomics {
    ($($t:ty),+) => {$(
        impl $crate::mem::SharedMem for $t {
            fn size(&self) -> usize {
                $crate::mem::RawShared::bytes(self)
            }
            fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), $crate::mem::OutOfBounds> {
                $crate::mem::raw_read(self, off, buf)
            }
            fn write_at(&self, off: usize, data: &[u8]) -> Result<(), $crate::mem::OutOfBounds> {
                $crate::mem::raw_write(self, off, data)
            }
            fn load_u32(&self, off: usize) -> Result<u32, $crate::mem::OutOfBounds> {
                $crate::mem::raw_load_u32(self, off)
            }
            fn store_u32(&self, off: usize, v: u32) -> Result<(), $crate::mem::OutOfBounds> {
                $crate::mem::raw_store_u32(self, off, v)
            }
        }
    )+};
}

pub fn raw_read<T: RawShared + ?Sized>(r: &T, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
    copy_out(r.base(), r.bytes(), off, buf)
}
pub fn raw_write<T: RawShared + ?Sized>(r: &T, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
    copy_in(r.base(), r.bytes(), off, data)
}
pub fn raw_load_u32<T: RawShared + ?Sized>(r: &T, off: usize) -> Result<u32, OutOfBounds> {
    with_atomic(r.base(), r.bytes(), off, |w| w.load(Ordering::Acquire))
}
pub fn raw_store_u32<T: RawShared + ?Sized>(r: &T, off: usize, v: u32) -> Result<(), OutOfBounds> {
    with_atomic(r.base(), r.bytes(), off, |w| w.store(v, Ordering::Release))
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
