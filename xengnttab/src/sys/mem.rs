//! Shared mappings of gntdev/gntalloc pages: mmap, munmap, and the only
//! accesses the safe API makes to their bytes.
//!
//! The bytes are shared: with another domain, with the other mapping of a
//! page this domain granted to itself, and with other threads holding the
//! same `&Region`. Every access is therefore an atomic one, on aligned
//! 32-bit words (one size throughout, so accesses never mix sizes), and a
//! racing writer can only change values, never make a read undefined.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;

use nix::errno::Errno;

/// The kernel's page size: gntdev and gntalloc map one grant per page.
pub fn page_size() -> usize {
    static PAGE_SIZE: OnceLock<usize> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf has no memory-safety preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    })
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
/// owning the mapping: it is unmapped only by consuming it, and dropping it
/// leaves the pages mapped (the caller decides when unmapping is safe).
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain shared memory that every access reaches
// through atomics; moving the owner to another thread changes nothing.
unsafe impl Send for Region {}
// SAFETY: as above: `&Region` only allows atomic loads and stores.
unsafe impl Sync for Region {}

const WORD: usize = 4;

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

    /// Length in bytes (a whole number of pages).
    pub fn len(&self) -> usize {
        self.len
    }

    fn check(&self, offset: usize, n: usize) -> Result<(), Errno> {
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The aligned word holding byte `offset`.
    fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset < self.len);
        // SAFETY: the word lies inside the mapping (offset < len, and len is
        // a whole number of pages, so of words), is 4-byte aligned (the
        // mapping is page aligned), and stays mapped while `self` lives.
        // Only atomics access it through this type.
        unsafe { AtomicU32::from_ptr(self.ptr.as_ptr().add(offset & !(WORD - 1)).cast()) }
    }

    /// Copy bytes out of the region (word by word; a concurrent writer can
    /// make the copy an interleaving of old and new bytes, never undefined).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Errno> {
        self.check(offset, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let at = offset + done;
            let skip = at % WORD;
            let n = (WORD - skip).min(buf.len() - done);
            let bytes = self.word(at).load(Ordering::Relaxed).to_ne_bytes();
            buf[done..done + n].copy_from_slice(&bytes[skip..skip + n]);
            done += n;
        }
        Ok(())
    }

    /// Copy bytes into the region (which must be mapped writable: the safe
    /// API only offers this on writable mappings). A partial word is merged
    /// with two atomic read-modify-writes, which a hostile peer hammering
    /// the same word cannot stall, unlike a compare-and-swap loop.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        self.check(offset, data.len())?;
        let mut done = 0;
        while done < data.len() {
            let at = offset + done;
            let skip = at % WORD;
            let n = (WORD - skip).min(data.len() - done);
            let word = self.word(at);
            if n == WORD {
                let v = u32::from_ne_bytes(data[done..done + WORD].try_into().expect("one word"));
                word.store(v, Ordering::Relaxed);
            } else {
                let (mut mask, mut bits) = ([0u8; WORD], [0u8; WORD]);
                mask[skip..skip + n].fill(0xff);
                bits[skip..skip + n].copy_from_slice(&data[done..done + n]);
                word.fetch_and(!u32::from_ne_bytes(mask), Ordering::Relaxed);
                word.fetch_or(u32::from_ne_bytes(bits), Ordering::Relaxed);
            }
            done += n;
        }
        Ok(())
    }

    /// Load the aligned 32-bit word at `offset` with acquire ordering (ring
    /// indexes: what the producer wrote before publishing is visible after).
    pub fn load_u32(&self, offset: usize) -> Result<u32, Errno> {
        self.check(offset, WORD)?;
        if offset % WORD != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(self.word(offset).load(Ordering::Acquire))
    }

    /// Store the aligned 32-bit word at `offset` with release ordering.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<(), Errno> {
        self.check(offset, WORD)?;
        if offset % WORD != 0 {
            return Err(Errno::EINVAL);
        }
        self.word(offset).store(value, Ordering::Release);
        Ok(())
    }

    /// `munmap` the region, telling `near` about the gap it leaves. On
    /// failure the region is given back. Async-signal-safe.
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

    #[test]
    fn unaligned_reads_and_writes_touch_exactly_their_bytes() {
        let fd = memfd(1);
        let r = Region::map_shared(fd.as_fd(), page_size(), RW, 0, &Placement::default()).unwrap();
        let all: Vec<u8> = (0..64u8).collect();
        r.write(0, &all).unwrap();
        for (off, len) in [(0, 64), (1, 1), (3, 2), (5, 7), (2, 13), (63, 1), (4, 4)] {
            let mut got = vec![0; len];
            r.read(off, &mut got).unwrap();
            assert_eq!(got, all[off..off + len], "read {off}+{len}");
        }
        r.write(3, &[0xee; 6]).unwrap();
        let mut got = [0u8; 12];
        r.read(0, &mut got).unwrap();
        assert_eq!(got, [0, 1, 2, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 9, 10, 11]);
        assert_eq!(r.read(page_size() - 1, &mut [0; 2]), Err(Errno::EINVAL));
        assert_eq!(r.write(usize::MAX, &[1]), Err(Errno::EINVAL));
        r.store_u32(8, 0xdead_beef).unwrap();
        assert_eq!(r.load_u32(8), Ok(0xdead_beef));
        assert_eq!(r.load_u32(6), Err(Errno::EINVAL), "unaligned");
        r.unmap(&Placement::default()).unwrap();
    }

    #[test]
    fn threads_writing_overlapping_ranges_leave_one_of_their_values_per_word() {
        let fd = memfd(1);
        let r = Region::map_shared(fd.as_fd(), page_size(), RW, 0, &Placement::default()).unwrap();
        std::thread::scope(|s| {
            for t in 1..=4u8 {
                let r = &r;
                s.spawn(move || {
                    for _ in 0..2000 {
                        r.write(0, &[t; 256]).unwrap();
                    }
                });
            }
        });
        let mut got = [0u8; 256];
        r.read(0, &mut got).unwrap();
        for w in got.chunks(4) {
            assert!(w.iter().all(|&b| b == w[0] && (1..=4).contains(&b)), "torn word {w:?}");
        }
        r.unmap(&Placement::default()).unwrap();
    }
}
