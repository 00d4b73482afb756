//! Which mappings a handle made, by start address.
//!
//! Upstream asks the kernel (GET_OFFSET_FOR_VADDR) before every unmap, which
//! costs a system call and accepts any address inside a mapping. Keeping our
//! own table makes unmap one syscall cheaper and refuses, with EINVAL,
//! anything that is not exactly a mapping this handle made.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Live entries beyond this make the table grow; below it, no allocation.
const PREALLOCATED: usize = 64;

pub struct Registry<T> {
    entries: Mutex<HashMap<usize, T>>,
}

impl<T> Registry<T> {
    pub fn new() -> Self {
        Registry { entries: Mutex::new(HashMap::with_capacity(PREALLOCATED)) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<usize, T>> {
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
