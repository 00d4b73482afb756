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
        Self::mmap(std::ptr::null_mut(), fd, len, prot, libc::MAP_SHARED, offset)
    }

    /// Like [`Region::map_shared`], at address `at` if that range is free.
    /// `MAP_FIXED_NOREPLACE` never replaces a mapping: if something lives
    /// there (EEXIST), or the kernel predates the flag and treats `at` as a
    /// hint, the region lands elsewhere; check [`Region::as_ptr`].
    pub fn map_shared_at(fd: BorrowedFd<'_>, at: usize, len: usize, prot: i32, offset: u64) -> Result<Region, Errno> {
        let flags = libc::MAP_SHARED | libc::MAP_FIXED_NOREPLACE;
        match Self::mmap(at as *mut libc::c_void, fd, len, prot, flags, offset) {
            Err(Errno::EEXIST) => Self::map_shared(fd, len, prot, offset),
            r => r,
        }
    }

    fn mmap(at: *mut libc::c_void, fd: BorrowedFd<'_>, len: usize, prot: i32, flags: i32, offset: u64) -> Result<Region, Errno> {
        debug_assert!(flags & libc::MAP_FIXED == 0, "MAP_FIXED could replace live memory");
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: without MAP_FIXED the kernel never replaces an existing
        // mapping (NOREPLACE fails instead), so the new mapping cannot
        // overlap memory Rust already uses.
        let p = unsafe { libc::mmap(at, len, prot, flags, fd.as_raw_fd(), offset) };
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

/// A window of address space spanning one last-level page table (2 MiB
/// with 4 KiB pages), anchored by one inaccessible page at its start.
///
/// Why: munmap frees a page table once no mapping is left in its span, and
/// the next mmap must allocate a new one; in a PV domain each new page table
/// is validated and pinned by Xen with hypercalls. With the anchor in place
/// the table survives, so grant mappings made inside the window and
/// unmapped again reuse it. The window's other pages are not reserved
/// (mappings go there with MAP_FIXED_NOREPLACE, which fails if anything else
/// took the spot).
#[derive(Debug)]
pub struct Window {
    anchor: Region,
}

impl Window {
    /// Address span of one last-level page table: a page of 8-byte entries.
    pub fn span() -> usize {
        page_size() / 8 * page_size()
    }

    /// Reserve twice the span, keep the aligned anchor page, give back the rest.
    pub fn reserve() -> Result<Window, Errno> {
        let (span, page) = (Self::span(), page_size());
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous mapping at a kernel-chosen address.
        let raw = unsafe { libc::mmap(std::ptr::null_mut(), 2 * span, libc::PROT_NONE, flags, -1, 0) };
        if raw == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let start = raw as usize;
        let base = start.next_multiple_of(span);
        let end = start + 2 * span;
        // SAFETY: both ranges lie inside the mapping made above, which no
        // one else knows about.
        unsafe {
            if base > start {
                libc::munmap(raw, base - start);
            }
            libc::munmap((base + page) as *mut libc::c_void, end - base - page);
        }
        let anchor = NonNull::new(base as *mut u8).ok_or(Errno::EINVAL)?;
        Ok(Window { anchor: Region { ptr: anchor, len: page } })
    }

    /// The window's first address (the anchor page).
    pub fn base(&self) -> usize {
        self.anchor.as_ptr() as usize
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        let anchor = Region { ptr: self.anchor.ptr, len: self.anchor.len };
        let _ = anchor.unmap();
    }
}
