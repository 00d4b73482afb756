//! Where small grant mappings go: page slots inside a [`Window`], so that
//! the page table under them survives from one map/unmap cycle to the next
//! (see `Window` for why that matters in a PV domain).

use crate::sys::mem::{page_size, Window};

/// Slot 0 is the anchor page itself.
const SLOTS: usize = 512;

/// A window and which of its page slots hold mappings.
pub struct MapWindow {
    window: Window,
    used: [u64; SLOTS / 64],
    slots: usize,
}

impl MapWindow {
    pub fn new(window: Window) -> Self {
        let slots = (Window::span() / page_size()).min(SLOTS);
        let mut used = [0; SLOTS / 64];
        used[0] = 1; // the anchor
        MapWindow { window, used, slots }
    }

    fn is_used(&self, i: usize) -> bool {
        self.used[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, start: usize, n: usize, used: bool) {
        for i in start..start + n {
            let bit = 1u64 << (i % 64);
            if used {
                self.used[i / 64] |= bit;
            } else {
                self.used[i / 64] &= !bit;
            }
        }
    }

    /// First free run of `pages` slots: (slot, address). None if it does not fit.
    pub fn take(&mut self, pages: usize) -> Option<(usize, usize)> {
        if pages == 0 || pages >= self.slots {
            return None;
        }
        let mut run = 0;
        for i in 1..self.slots {
            run = if self.is_used(i) { 0 } else { run + 1 };
            if run == pages {
                let start = i + 1 - pages;
                self.set(start, pages, true);
                return Some((start, self.window.base() + start * page_size()));
            }
        }
        None
    }

    /// Free slots taken with [`MapWindow::take`].
    pub fn give(&mut self, slot: usize, pages: usize) {
        debug_assert!(slot >= 1 && slot + pages <= self.slots);
        self.set(slot, pages, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> MapWindow {
        MapWindow::new(Window::reserve().expect("reserve address space"))
    }

    #[test]
    fn the_window_is_aligned_to_one_page_table() {
        let w = window();
        assert_eq!(w.window.base() % Window::span(), 0);
    }

    #[test]
    fn slots_are_first_fit_and_reusable() {
        let mut w = window();
        let base = w.window.base();
        let page = page_size();
        assert_eq!(w.take(1), Some((1, base + page)));
        assert_eq!(w.take(3), Some((2, base + 2 * page)));
        assert_eq!(w.take(1), Some((5, base + 5 * page)));
        w.give(2, 3);
        assert_eq!(w.take(2), Some((2, base + 2 * page)), "a freed run is reused");
        assert_eq!(w.take(2), Some((6, base + 6 * page)), "a run that does not fit the hole goes after");
    }

    #[test]
    fn what_does_not_fit_is_refused() {
        let mut w = window();
        assert_eq!(w.take(0), None);
        assert_eq!(w.take(SLOTS), None, "the anchor takes one slot");
        assert!(w.take(SLOTS - 1).is_some());
        assert_eq!(w.take(1), None, "full");
    }
}
