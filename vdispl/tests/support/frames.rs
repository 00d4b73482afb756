//! Captured frames kept in memory instead of being encoded.

use std::cell::RefCell;
use std::rc::Rc;

use vdispl::capture::{FrameOut, RawFrame};

/// Every frame sent, shared with the test (`Rc`).
#[derive(Debug, Default, Clone)]
pub struct MemFrames(pub Rc<RefCell<Vec<RawFrame>>>);

impl FrameOut for MemFrames {
    fn send(&mut self, f: RawFrame) -> bool {
        self.0.borrow_mut().push(f);
        true
    }
}
