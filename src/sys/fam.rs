//! Buffers for the kernel structs that end in a one-element array which
//! really holds `count` elements (`refs[1]`, `gref_ids[1]`).
//!
//! Small requests live on the stack, so the map/unmap hot path does not
//! allocate; large ones go to the heap with a fallible allocation, so a huge
//! count from C yields ENOMEM instead of aborting the process.

use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of};

use nix::errno::Errno;

use super::gntalloc::AllocGref;
use super::gntdev::{DmabufExpFromRefs, DmabufImpToRefs, GrantRef, MapGrantRef};

/// A kernel struct with a trailing variable-length array.
///
/// # Safety
/// `Self` and `Elem` must be `#[repr(C)]` plain integers (every bit pattern,
/// including all-zero, is valid), with alignment at most 8, and the array must
/// start at `ELEMS_OFFSET`.
pub unsafe trait FlexStruct: Copy {
    /// Element type of the trailing array.
    type Elem: Copy;
    /// Byte offset of the trailing array.
    const ELEMS_OFFSET: usize;
}

// SAFETY: integer-only repr(C) structs; offsets taken from the definitions.
unsafe impl FlexStruct for MapGrantRef {
    type Elem = GrantRef;
    const ELEMS_OFFSET: usize = offset_of!(MapGrantRef, refs);
}
// SAFETY: as above.
unsafe impl FlexStruct for DmabufExpFromRefs {
    type Elem = u32;
    const ELEMS_OFFSET: usize = offset_of!(DmabufExpFromRefs, refs);
}
// SAFETY: as above.
unsafe impl FlexStruct for DmabufImpToRefs {
    type Elem = u32;
    const ELEMS_OFFSET: usize = offset_of!(DmabufImpToRefs, refs);
}
// SAFETY: as above.
unsafe impl FlexStruct for AllocGref {
    type Elem = u32;
    const ELEMS_OFFSET: usize = offset_of!(AllocGref, gref_ids);
}

/// 512 bytes inline: 62 map refs or 124 u32 refs without touching the heap.
const INLINE_WORDS: usize = 64;

// Large on purpose: the inline case is what keeps small requests off the heap.
#[allow(clippy::large_enum_variant)]
enum Storage {
    Inline([u64; INLINE_WORDS]),
    Heap(Vec<u64>),
}

/// A zeroed, 8-byte aligned buffer holding a `T` whose array has `count` elements.
pub struct FamBuf<T: FlexStruct> {
    storage: Storage,
    count: usize,
    _t: PhantomData<T>,
}

impl<T: FlexStruct> FamBuf<T> {
    /// A zeroed buffer for `count` elements. EINVAL if the size overflows,
    /// ENOMEM if it cannot be allocated.
    // Inlined so the 520-byte value is built in the caller's frame instead of
    // being copied out of the returned Result on the map hot path.
    #[inline(always)]
    pub fn new(count: usize) -> Result<Self, Errno> {
        const { assert!(align_of::<T>() <= 8 && align_of::<T::Elem>() <= 8) };
        let bytes = count
            .checked_mul(size_of::<T::Elem>())
            .and_then(|b| b.checked_add(T::ELEMS_OFFSET))
            .ok_or(Errno::EINVAL)?
            .max(size_of::<T>());
        let words = bytes.div_ceil(8);
        let storage = if words <= INLINE_WORDS {
            Storage::Inline([0; INLINE_WORDS])
        } else {
            let mut v = Vec::new();
            v.try_reserve_exact(words).map_err(|_| Errno::ENOMEM)?;
            v.resize(words, 0);
            Storage::Heap(v)
        };
        Ok(FamBuf { storage, count, _t: PhantomData })
    }

    fn words_mut(&mut self) -> &mut [u64] {
        match &mut self.storage {
            Storage::Inline(a) => a,
            Storage::Heap(v) => v,
        }
    }

    /// Pointer to pass to the ioctl.
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.words_mut().as_mut_ptr().cast()
    }

    /// The fixed part of the struct.
    pub fn header(&mut self) -> &mut T {
        // SAFETY: the buffer is at least size_of::<T>() bytes, 8-byte aligned,
        // initialised, and any bit pattern is a valid T (FlexStruct contract).
        unsafe { &mut *self.as_mut_ptr() }
    }

    /// The `count` elements of the trailing array.
    pub fn elems(&mut self) -> &mut [T::Elem] {
        let count = self.count;
        // SAFETY: new() sized the buffer to hold ELEMS_OFFSET + count elements;
        // the offset is a multiple of the element alignment, and the memory is
        // initialised integers (FlexStruct contract).
        unsafe {
            let first = self.as_mut_ptr().cast::<u8>().add(T::ELEMS_OFFSET).cast::<T::Elem>();
            std::slice::from_raw_parts_mut(first, count)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_counts_stay_inline_and_large_ones_spill() {
        let mut b = FamBuf::<MapGrantRef>::new(62).unwrap();
        assert!(matches!(b.storage, Storage::Inline(_)));
        assert_eq!(b.elems().len(), 62);
        let b = FamBuf::<MapGrantRef>::new(63).unwrap();
        assert!(matches!(b.storage, Storage::Heap(_)));
    }

    #[test]
    fn count_zero_still_holds_the_whole_c_struct() {
        let mut b = FamBuf::<MapGrantRef>::new(0).unwrap();
        assert_eq!(b.elems().len(), 0);
        b.header().refs[0].r#ref = 7; // the C struct's refs[1] is always there
    }

    #[test]
    fn elements_start_at_the_array_offset() {
        let mut b = FamBuf::<AllocGref>::new(3).unwrap();
        b.elems()[0] = 0xdead_beef;
        assert_eq!(b.header().gref_ids[0], 0xdead_beef);
    }

    #[test]
    fn overflowing_and_unallocatable_sizes_are_errors() {
        assert_eq!(FamBuf::<MapGrantRef>::new(usize::MAX).err(), Some(Errno::EINVAL));
        assert_eq!(FamBuf::<DmabufImpToRefs>::new(usize::MAX / 8).err(), Some(Errno::ENOMEM));
    }
}
