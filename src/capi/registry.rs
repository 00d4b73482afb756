//! Which mappings a handle made, by start address.
//!
//! Upstream asks the kernel (GET_OFFSET_FOR_VADDR) before every unmap, which
//! costs a system call and accepts any address inside a mapping. Keeping our
//! own table makes unmap one syscall cheaper and refuses, with EINVAL,
//! anything that is not exactly a mapping this handle made.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

/// Live entries beyond this make the table grow; below it, no allocation.
const PREALLOCATED: usize = 64;

/// Hashes a page address with splitmix64's finalizer over its page number:
/// a few multiplies and shifts, every one invertible, so no two pages collide
/// and every bit of the result depends on every bit of the page number (the
/// table picks buckets with the low bits, tags with the high ones).
/// SipHash's resistance to chosen keys buys nothing here: every key is an
/// address the kernel gave one of our own mmaps. It cost about 80
/// instructions per lookup, on a path of a few hundred.
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only usize keys are hashed (write_usize); this keeps other uses correct.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, addr: usize) {
        let mut z = (addr as u64) >> 12;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        self.0 = z ^ (z >> 31);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Table<T> = HashMap<usize, T, BuildHasherDefault<AddrHasher>>;

pub struct Registry<T> {
    entries: Mutex<Table<T>>,
}

impl<T> Registry<T> {
    pub fn new() -> Self {
        Registry { entries: Mutex::new(Table::with_capacity_and_hasher(PREALLOCATED, Default::default())) }
    }

    fn lock(&self) -> MutexGuard<'_, Table<T>> {
        // A panic elsewhere cannot leave the map half-updated: keep going.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, addr: usize, entry: T) {
        self.lock().insert(addr, entry);
    }

    /// Remove the entry at `addr` if `matches` accepts it.
    pub fn take_if(&self, addr: usize, matches: impl FnOnce(&T) -> bool) -> Option<T> {
        let mut map = self.lock();
        if map.get(&addr).is_some_and(matches) {
            map.remove(&addr)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn page_addresses_hash_apart_and_entries_are_found() {
        let build = BuildHasherDefault::<AddrHasher>::default();
        let hashes: std::collections::HashSet<u64> = (0..4096usize).map(|p| build.hash_one(0x7f00_0000_0000 + (p << 12))).collect();
        assert_eq!(hashes.len(), 4096, "each step of the mix is a bijection");
        // Mappings 16 pages apart still spread over the low bits buckets use.
        let low: std::collections::HashSet<u64> = (0..64usize).map(|i| build.hash_one(0x7f00_0000_0000 + (i << 16)) & 63).collect();
        assert!(low.len() > 32, "only {} of 64 low-bit patterns", low.len());

        let r = Registry::new();
        for p in 0..1000usize {
            r.insert(p << 12, p);
        }
        assert_eq!(r.take_if(5 << 12, |&v| v == 6), None, "a refused match leaves the entry");
        assert_eq!(r.take_if(5 << 12, |&v| v == 5), Some(5));
        assert_eq!(r.take_if(5 << 12, |_| true), None, "taken once");
        assert_eq!(r.take_if((5 << 12) + 1, |_| true), None, "only exact addresses");
        assert!((0..1000usize).filter(|&p| p != 5).all(|p| r.take_if(p << 12, |&v| v == p) == Some(p)));
    }
}
