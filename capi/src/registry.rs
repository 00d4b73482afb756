//! Which mappings (or shares) a handle handed out, by start address.
//!
//! Unmap must be async-signal-safe: backends tear mappings down from signal
//! handlers, and upstream's unmap is system calls only. A handler may run
//! while its own thread is inside a map, half-way through an insert, so no
//! lock may be taken here (the handler would wait forever on its own
//! thread). The table is lock-free: fixed segments of slots, each slot a
//! key word driving a little state machine, and a value the key guards.
//! Lookups and removals touch only atomics; inserts may allocate a new
//! segment, which is fine (map is not async-signal-safe, upstream's neither).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Slot states below any page address (mappings never start below 4096).
const EMPTY: usize = 0;
/// Taken by one thread, which is writing or reading the value.
const BUSY: usize = 1;
/// Held a value once; probes continue past it, inserts may reuse it.
const GONE: usize = 2;

/// Segment `k` has `FIRST << k` slots; 26 segments hold over 4 billion.
const FIRST: usize = 64;
const SEGMENTS: usize = 26;
/// Slots probed per segment before moving on to the next one.
const PROBES: usize = 16;

struct Slot<T> {
    key: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A lock-free map from start address to `T`.
pub struct Registry<T> {
    segments: [OnceLock<Box<[Slot<T>]>>; SEGMENTS],
}

// SAFETY: a value is only ever accessed by the one thread that moved its
// slot's key to BUSY (a compare-and-swap), so the table hands values from
// thread to thread like a channel: T must be Send, nothing more.
unsafe impl<T: Send> Send for Registry<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Registry<T> {}

/// Hashes a page address with splitmix64's finalizer over its page number:
/// every step is invertible, so no two pages collide, and every bit of the
/// result depends on every bit of the page number.
fn hash(addr: usize) -> usize {
    let mut z = (addr as u64) >> 12;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as usize
}

impl<T> Registry<T> {
    pub fn new() -> Self {
        Registry { segments: std::array::from_fn(|_| OnceLock::new()) }
    }

    /// The slots `addr` may occupy in segment `seg`, in probe order.
    fn probe(seg: &[Slot<T>], addr: usize) -> impl Iterator<Item = &Slot<T>> {
        let start = hash(addr);
        (0..PROBES.min(seg.len())).map(move |i| &seg[(start + i) & (seg.len() - 1)])
    }

    /// The segments that exist so far. Async-signal-safe (atomic loads).
    fn existing(&self) -> impl Iterator<Item = &[Slot<T>]> {
        self.segments.iter().map_while(|s| s.get().map(|b| &b[..]))
    }

    /// Record `value` at `addr`. If a value is already recorded there, it is
    /// stale (its address was unmapped behind our back, then handed out
    /// again by the kernel): it is replaced and returned.
    pub fn insert(&self, addr: usize, value: T) -> Option<T> {
        debug_assert!(addr > GONE);
        let stale = self.remove_with(addr, Ok::<T, (T, std::convert::Infallible)>).and_then(Result::ok);
        for k in 0..SEGMENTS {
            let seg = self.segments[k].get_or_init(|| (0..FIRST << k).map(|_| Slot::empty()).collect());
            for slot in Self::probe(seg, addr) {
                let key = slot.key.load(Ordering::Relaxed);
                if (key == EMPTY || key == GONE)
                    && slot.key.compare_exchange(key, BUSY, Ordering::Acquire, Ordering::Relaxed).is_ok()
                {
                    // SAFETY: BUSY gives this thread the slot alone.
                    unsafe { (*slot.value.get()).write(value) };
                    slot.key.store(addr, Ordering::Release);
                    return stale;
                }
            }
        }
        // Every probe of 26 segments full: memory runs out long before.
        // Keep the value alive rather than lose what it owns.
        std::mem::forget(value);
        stale
    }

    /// Take the value at `addr` and hand it to `f`. If `f` hands it back
    /// with an error, it stays recorded. `None` if nothing is recorded at
    /// `addr` (or another thread is removing it right now).
    /// Async-signal-safe if `f` is: atomics only, no allocation, no lock.
    pub fn remove_with<R, E>(&self, addr: usize, f: impl FnOnce(T) -> Result<R, (T, E)>) -> Option<Result<R, E>> {
        let slot = self.existing().find_map(|seg| {
            Self::probe(seg, addr)
                .take_while(|s| s.key.load(Ordering::Relaxed) != EMPTY)
                .find(|s| s.key.compare_exchange(addr, BUSY, Ordering::Acquire, Ordering::Relaxed).is_ok())
        })?;
        // SAFETY: the key was `addr` (a published value) and is now BUSY,
        // owned by this thread; the Acquire pairs with the publishing store.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        Some(match f(value) {
            Ok(r) => {
                slot.key.store(GONE, Ordering::Release);
                Ok(r)
            }
            Err((value, e)) => {
                // SAFETY: still BUSY and ours; the old value was moved out.
                unsafe { (*slot.value.get()).write(value) };
                slot.key.store(addr, Ordering::Release);
                Err(e)
            }
        })
    }

    /// How many values are recorded (for leak checks in tests).
    pub fn len(&self) -> usize {
        self.existing().flat_map(|seg| seg.iter()).filter(|s| s.key.load(Ordering::Acquire) > GONE).count()
    }
}

impl<T> Slot<T> {
    fn empty() -> Self {
        Slot { key: AtomicUsize::new(EMPTY), value: UnsafeCell::new(MaybeUninit::uninit()) }
    }
}

impl<T> Drop for Registry<T> {
    fn drop(&mut self) {
        for seg in self.segments.iter_mut().filter_map(OnceLock::get_mut) {
            for slot in seg.iter_mut() {
                if *slot.key.get_mut() > GONE {
                    // SAFETY: a key above GONE marks a written value, and
                    // `&mut self` means no other thread holds a slot.
                    unsafe { slot.value.get_mut().assume_init_drop() };
                }
            }
        }
    }
}

impl<T> std::fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn page(p: usize) -> usize {
        0x7f00_0000_0000 + (p << 12)
    }

    #[test]
    fn values_are_found_at_their_exact_address_once() {
        let r = Registry::new();
        for p in 0..5000 {
            assert!(r.insert(page(p), p).is_none());
        }
        assert_eq!(r.len(), 5000);
        let refused = r.remove_with(page(5), |v| Err::<(), _>((v, "kept")));
        assert_eq!(refused, Some(Err("kept")));
        assert_eq!(r.remove_with(page(5), Ok::<_, (usize, ())>), Some(Ok(5)));
        assert_eq!(r.remove_with(page(5), Ok::<_, (usize, ())>), None, "taken once");
        assert_eq!(r.remove_with(page(6) + 1, Ok::<_, (usize, ())>), None, "only exact addresses");
        for p in (0..5000).filter(|&p| p != 5) {
            assert_eq!(r.remove_with(page(p), Ok::<_, (usize, ())>), Some(Ok(p)), "page {p}");
        }
        assert_eq!(r.len(), 0);
        // Slots freed by removals are used again.
        for p in 0..5000 {
            r.insert(page(p), p);
        }
        assert_eq!(r.len(), 5000);
    }

    #[test]
    fn an_address_handed_out_again_replaces_the_stale_value() {
        let r = Registry::new();
        assert_eq!(r.insert(page(1), "old"), None);
        assert_eq!(r.insert(page(1), "new"), Some("old"));
        assert_eq!(r.len(), 1);
        assert_eq!(r.remove_with(page(1), Ok::<_, (&str, ())>), Some(Ok("new")));
    }

    #[test]
    fn values_left_in_the_table_are_dropped_with_it() {
        let live = Arc::new(());
        let r = Registry::new();
        for p in 0..100 {
            r.insert(page(p), Arc::clone(&live));
        }
        r.remove_with(page(3), |v| {
            drop(v);
            Ok::<_, (Arc<()>, ())>(())
        });
        assert_eq!(Arc::strong_count(&live), 100);
        drop(r);
        assert_eq!(Arc::strong_count(&live), 1);
    }

    #[test]
    fn threads_inserting_and_removing_lose_nothing() {
        let r = Registry::new();
        std::thread::scope(|s| {
            for t in 0..4usize {
                let r = &r;
                s.spawn(move || {
                    // Each address toggles: present after an odd number of turns.
                    for i in 0..20_000usize {
                        let addr = page(t * 1_000_000 + i % 300);
                        if r.remove_with(addr, |v: usize| Ok::<_, (usize, ())>(v)).is_none() {
                            assert!(r.insert(addr, i).is_none());
                        }
                    }
                });
            }
        });
        // 20000 = 66 * 300 + 200: the first 200 addresses of each thread had
        // 67 turns and are present, the other 100 had 66 and are not.
        assert_eq!(r.len(), 4 * 200);
        for t in 0..4usize {
            for i in 0..300usize {
                let found = r.remove_with(page(t * 1_000_000 + i), |v: usize| Ok::<_, (usize, ())>(v)).is_some();
                assert_eq!(found, i < 200, "thread {t} address {i}");
            }
        }
    }
}
