//! Shared mappings of gntdev/gntalloc pages: mmap, munmap and bounded copies.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use once_cell::sync::Lazy;

static PAGE_SIZE: Lazy<usize> = Lazy::new(|| {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
});

/// The kernel's page size: gntdev and gntalloc map one grant per page.
pub fn page_size() -> usize {
    *PAGE_SIZE
}

/// A region of grant pages mapped into this process. Owning a `Region` is
/// owning the mapping: it is unmapped only by consuming it.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain shared memory; all access goes through copies.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` only allows copies in and out.
unsafe impl Sync for Region {}

impl Region {
    /// `mmap(NULL, len, prot, MAP_SHARED, fd, offset)`: the kernel picks the
    /// address, so no existing memory can be affected.
    pub fn map_shared(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: u64) -> Result<Region, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: addr is NULL and MAP_FIXED is absent, so the new mapping
        // cannot overlap memory Rust already uses.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), offset)
        };
        if p == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let ptr = NonNull::new(p.cast()).ok_or(Errno::EINVAL)?;
        Ok(Region { ptr, len })
    }

    /// Start address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never, for a successful map).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, offset: usize, n: usize) -> Result<(), Errno> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Copy bytes out of the region. The other domain may write concurrently;
    /// like C's memcpy on shared pages, the copy sees some interleaving.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Errno> {
        self.check(offset, buf.len())?;
        // SAFETY: bounds checked above; the region stays mapped while `self`
        // lives; `buf` cannot overlap a mapping Rust does not own.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copy bytes into the region (needs a writable mapping, or the process
    /// faults exactly as a C program would).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        self.check(offset, data.len())?;
        // SAFETY: as in read().
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len()) };
        Ok(())
    }

    /// `munmap` the region. On failure the region is given back.
    pub fn unmap(self) -> Result<(), (Region, Errno)> {
        // SAFETY: `self` is the unique owner of this mapping (it is created
        // only by map_shared and never duplicated), and is consumed here.
        let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        if rc == 0 {
            Ok(())
        } else {
            Err((self, Errno::last()))
        }
    }
}
