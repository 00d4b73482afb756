//! Buffers for the kernel structs that end in a one-element array which
//! really holds `count` elements (`refs[1]`, `gref_ids[1]`).
//!
//! Small requests live on the stack, so the map/unmap hot path does not
//! allocate; large ones go to the heap with a fallible allocation, so a huge
//! count from C yields ENOMEM instead of aborting the process.

use std::marker::PhantomData;
use std::mem::{align_of, offset_of, size_of, MaybeUninit};

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
        let words = words_for::<T>(count)?;
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

/// 8-byte words holding a `T` with `count` elements (checking, at compile
/// time, that 8-byte words align both).
#[inline(always)]
fn words_for<T: FlexStruct>(count: usize) -> Result<usize, Errno> {
    const { assert!(align_of::<T>() <= 8 && align_of::<T::Elem>() <= 8) };
    let bytes = count
        .checked_mul(size_of::<T::Elem>())
        .and_then(|b| b.checked_add(T::ELEMS_OFFSET))
        .ok_or(Errno::EINVAL)?
        .max(size_of::<T>());
    Ok(bytes.div_ceil(8))
}

/// A request whose array only the kernel writes (refs out of an import or
/// an allocation), after the kernel filled it. Unlike a [`FamBuf`], the
/// room is not zeroed first (for a 2 MiB dma-buf import, 2 KiB the kernel
/// overwrites), and it exists only once the kernel has written it.
pub struct Output<T: FlexStruct> {
    room: Room,
    count: usize,
    _t: PhantomData<T>,
}

// Large on purpose, as Storage.
#[allow(clippy::large_enum_variant)]
enum Room {
    Inline([MaybeUninit<u64>; INLINE_WORDS]),
    Heap(Vec<MaybeUninit<u64>>),
}

impl<T: FlexStruct> Output<T> {
    /// Pass `header`, with room for `count` elements after it, to `call`.
    ///
    /// # Safety
    /// When `call` returns `Ok`, it must have written all `count` elements.
    pub unsafe fn fill(header: T, count: usize, call: impl FnOnce(*mut T) -> Result<(), Errno>) -> Result<Self, Errno> {
        let words = words_for::<T>(count)?;
        let room = if words <= INLINE_WORDS {
            Room::Inline([MaybeUninit::uninit(); INLINE_WORDS])
        } else {
            let mut heap = Vec::new();
            heap.try_reserve_exact(words).map_err(|_| Errno::ENOMEM)?;
            heap.resize(words, MaybeUninit::uninit());
            Room::Heap(heap)
        };
        let mut out = Output { room, count, _t: PhantomData };
        let p: *mut T = out.as_mut_ptr();
        // SAFETY: the room holds at least size_of::<T>() bytes, 8-byte aligned.
        unsafe { p.write(header) };
        call(p)?;
        Ok(out)
    }

    fn as_mut_ptr(&mut self) -> *mut T {
        match &mut self.room {
            Room::Inline(a) => a.as_mut_ptr().cast(),
            Room::Heap(v) => v.as_mut_ptr().cast(),
        }
    }

    fn as_ptr(&self) -> *const T {
        match &self.room {
            Room::Inline(a) => a.as_ptr().cast(),
            Room::Heap(v) => v.as_ptr().cast(),
        }
    }

    /// The fixed part, as the kernel left it.
    pub fn header(&self) -> T {
        // SAFETY: written in fill(); any bit pattern is a valid T.
        unsafe { self.as_ptr().read() }
    }

    /// The `count` elements the kernel wrote.
    pub fn elems(&self) -> &[T::Elem] {
        // SAFETY: the elements start at ELEMS_OFFSET within the room (sized
        // for `count` of them), and fill()'s caller promised the kernel
        // wrote them all before this value existed.
        unsafe {
            let first = self.as_ptr().cast::<u8>().add(T::ELEMS_OFFSET).cast::<T::Elem>();
            std::slice::from_raw_parts(first, self.count)
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

    fn fill_refs(first: u32) -> impl FnOnce(*mut DmabufImpToRefs) -> Result<(), Errno> {
        move |p| {
            // SAFETY: test stand-in for the kernel, writing `count` refs.
            unsafe {
                assert_eq!((*p).fd, 9);
                let count = (*p).count as usize;
                let refs = p.cast::<u8>().add(offset_of!(DmabufImpToRefs, refs)).cast::<u32>();
                for i in 0..count {
                    refs.add(i).write(first + i as u32);
                }
            }
            Ok(())
        }
    }

    #[test]
    fn output_elements_are_read_inline_and_from_the_heap() {
        for n in [1, 124, 125, 512] {
            let header = DmabufImpToRefs { fd: 9, count: n as u32, ..Default::default() };
            // SAFETY: fill_refs writes all `count` elements.
            let out = unsafe { Output::fill(header, n, fill_refs(100)) }.unwrap();
            assert_eq!(out.header().fd, 9);
            assert!(out.elems().iter().enumerate().all(|(i, &r)| r == 100 + i as u32), "count {n}");
        }
    }

    #[test]
    fn a_failed_call_gives_no_output() {
        let header = DmabufImpToRefs { fd: 9, count: 300, ..Default::default() };
        // SAFETY: nothing is read on failure.
        let r = unsafe { Output::fill(header, 300, |_| Err(Errno::EINVAL)) };
        assert!(matches!(r, Err(Errno::EINVAL)));
    }

    #[test]
    fn overflowing_and_unallocatable_sizes_are_errors() {
        assert_eq!(FamBuf::<MapGrantRef>::new(usize::MAX).err(), Some(Errno::EINVAL));
        assert_eq!(FamBuf::<DmabufImpToRefs>::new(usize::MAX / 8).err(), Some(Errno::ENOMEM));
    }
}
