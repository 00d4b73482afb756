//! Shared mappings of gntdev/gntalloc pages: mmap, munmap and bounded copies.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Where a handle's next mapping should go: ending where the last region it
/// unmapped ended. Allocating top-down, the kernel would choose that same
/// gap, but only after searching the address space for it; handed the
/// address, it checks that the range is free and skips the search (2-4 us
/// of a 130 us one-grant map + unmap on the test rig, BENCHMARKS.md). The hint
/// never binds: if the range is taken, the kernel searches as usual.
#[derive(Debug, Default)]
pub struct Placement {
    freed_end: AtomicUsize,
}

impl Placement {
    fn hint(&self, len: usize) -> *mut libc::c_void {
        // Relaxed: a stale or raced hint only costs the kernel its search.
        // 0 (nothing unmapped yet, or no room below) is NULL: no hint.
        let end = self.freed_end.load(Ordering::Relaxed);
        end.saturating_sub(len) as *mut libc::c_void
    }

    fn freed(&self, end: usize) {
        self.freed_end.store(end, Ordering::Relaxed);
    }
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
    /// `mmap(hint, len, prot, MAP_SHARED, fd, offset)`, the hint taken from
    /// `near`: the kernel picks a free address, so no existing memory can be
    /// affected.
    pub fn map_shared(fd: BorrowedFd<'_>, len: usize, prot: i32, offset: u64, near: &Placement) -> Result<Region, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: MAP_FIXED is absent, so the address is only a hint: the
        // kernel uses it only if the whole range is unmapped, and the new
        // mapping cannot overlap memory Rust already uses.
        let p = unsafe { libc::mmap(near.hint(len), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), offset) };
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

    /// `munmap` the region, telling `near` about the gap it leaves. On
    /// failure the region is given back.
    pub fn unmap(self, near: &Placement) -> Result<(), (Region, Errno)> {
        // SAFETY: `self` is the unique owner of this mapping (it is created
        // only by map_shared and never duplicated), and is consumed here.
        let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
        if rc == 0 {
            near.freed(self.ptr.as_ptr() as usize + self.len);
            Ok(())
        } else {
            Err((self, Errno::last()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};

    fn memfd(pages: usize) -> OwnedFd {
        // SAFETY: plain syscalls on a fresh descriptor we own.
        unsafe {
            let fd = libc::memfd_create(c"placement".as_ptr(), libc::MFD_CLOEXEC);
            assert!(fd >= 0, "memfd_create: {}", Errno::last());
            assert_eq!(libc::ftruncate(fd, (pages * page_size()) as libc::off_t), 0);
            OwnedFd::from_raw_fd(fd)
        }
    }

    const RW: i32 = libc::PROT_READ | libc::PROT_WRITE;

    /// These tests watch where one-page mappings land: each other's (the
    /// harness runs tests on parallel threads) would take their gaps.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn a_mapping_goes_where_the_last_one_ended() {
        let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        // Two one-page holes between guard pages, so nothing larger than a
        // page fits in either. The kernel alone fills the highest gap that
        // fits (it allocates top-down), so never the lower hole; the hint
        // names the lower one.
        let fd = memfd(1);
        let len = page_size();
        // SAFETY: a fresh reservation wherever the kernel likes; the holes
        // are punched in memory only this test knows about.
        let guards = unsafe {
            let g = libc::mmap(std::ptr::null_mut(), 5 * len, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0);
            assert_ne!(g, libc::MAP_FAILED);
            assert_eq!(libc::munmap(g.cast::<u8>().add(len).cast(), len), 0);
            assert_eq!(libc::munmap(g.cast::<u8>().add(3 * len).cast(), len), 0);
            g as usize
        };
        let (lower, upper) = (guards + len, guards + 3 * len);
        let place = Placement::default();
        place.freed(lower + len);
        let at = Region::map_shared(fd.as_fd(), len, RW, 0, &place).unwrap();
        assert_eq!(at.as_ptr() as usize, lower, "hint not taken (upper hole at {upper:#x})");
        // Unmapping records the gap it leaves.
        place.freed(0);
        at.unmap(&place).unwrap();
        assert_eq!(place.hint(len) as usize, lower);
        // SAFETY: the reservation is ours (munmap skips the holes).
        assert_eq!(unsafe { libc::munmap(guards as *mut libc::c_void, 5 * len) }, 0);
    }

    #[test]
    fn a_taken_hint_is_not_used_and_its_occupant_is_untouched() {
        let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let fd = memfd(1);
        let len = page_size();
        // Something else already holds the range the hint names.
        // SAFETY: a fresh anonymous mapping wherever the kernel likes.
        let occupant = unsafe { libc::mmap(std::ptr::null_mut(), len, RW, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        assert_ne!(occupant, libc::MAP_FAILED);
        // SAFETY: the occupant is ours and mapped read-write.
        unsafe { occupant.cast::<u8>().write(0x5a) };
        let place = Placement::default();
        place.freed(occupant as usize + len);
        let mapped = Region::map_shared(fd.as_fd(), len, RW, 0, &place).unwrap();
        assert_ne!(mapped.as_ptr(), occupant.cast());
        mapped.write(0, &[0xa5]).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { occupant.cast::<u8>().read() }, 0x5a);
        mapped.unmap(&place).unwrap();
        // SAFETY: unmapping our own occupant.
        assert_eq!(unsafe { libc::munmap(occupant, len) }, 0);
    }
}
