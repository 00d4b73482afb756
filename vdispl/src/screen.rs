//! What the display code needs from a real screen (a KMS card, `kms.rs`):
//! outputs claimed by name, dumb buffers, framebuffers, mode sets and page
//! flips that complete later. A trait, so the request handling runs against
//! a fake screen in tests.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};

use crate::mem::SharedMem;

/// Index of an output (a connector with its CRTC) of the screen.
pub type OutputId = usize;

/// Which guest connector an output shows: device (domid, devid) and the
/// connector's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner {
    pub dev: (u32, u32),
    pub conn: usize,
}

/// A dumb buffer made on the screen: its handle, layout and our mapping of
/// it, and, when asked for, a dma-buf of it (PRIME export).
pub struct DumbAlloc {
    pub handle: u32,
    pub pitch: u32,
    pub size: u64,
    pub mem: Box<dyn SharedMem>,
    pub prime_fd: Option<OwnedFd>,
}

impl std::fmt::Debug for DumbAlloc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumbAlloc").field("handle", &self.handle).field("pitch", &self.pitch).field("size", &self.size).finish()
    }
}

/// A screen.
pub trait Screen {
    /// One line for the start-up log: card, driver, capabilities, outputs.
    fn describe(&self) -> String;
    /// Dumb buffers can be exported as dma-bufs (be-alloc=1 zero-copy).
    fn can_export(&self) -> bool;
    /// Foreign dma-bufs can be imported (be-alloc=0 zero-copy).
    fn can_import(&self) -> bool;
    /// Largest framebuffer, width and height.
    fn max_fb(&self) -> (u32, u32);
    /// Take the output named `name` for `owner`; one owner at a time.
    fn claim(&mut self, name: &str, owner: Owner) -> Result<OutputId, String>;
    /// Turn the output off and give it up.
    fn release_output(&mut self, out: OutputId);
    /// A dumb buffer of `w` x `h` at `bpp`, mapped, exported if `prime`.
    fn create_dumb(&mut self, w: u32, h: u32, bpp: u32, prime: bool) -> io::Result<DumbAlloc>;
    /// A buffer handle for a dma-buf.
    fn import_dmabuf(&mut self, fd: BorrowedFd<'_>) -> io::Result<u32>;
    /// Let go of a buffer handle (dumb or imported).
    fn close_handle(&mut self, handle: u32);
    /// A framebuffer on `handle`, `fourcc` format, one plane.
    fn add_fb(&mut self, handle: u32, w: u32, h: u32, fourcc: u32, pitch: u32, offset: u32) -> io::Result<u32>;
    fn rm_fb(&mut self, fb: u32);
    /// Show `fb` (None: off) on `out`, in the output's `w` x `h` mode.
    fn set_mode(&mut self, out: OutputId, fb: Option<u32>, w: u32, h: u32) -> io::Result<()>;
    /// Queue a flip to `fb`; its completion comes from [`Self::completed`].
    fn flip(&mut self, out: OutputId, fb: u32) -> io::Result<()>;
    /// Flips the screen completed since the last call, with their owners.
    fn completed(&mut self) -> io::Result<Vec<(OutputId, Owner)>>;
    /// Descriptor to poll for completions.
    fn fd(&self) -> Option<RawFd>;
}
