//! A screen in memory: outputs by name, dumb buffers made of pages (whose
//! "dma-bufs" fake grants can import), framebuffers, and flips that complete
//! when the test says so. Counts every object, so tests check releases.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::support::fake_grants::Pages;
use vdispl::mem::MemBuf;
use vdispl::protocol::XEN_PAGE_SIZE;
use vdispl::screen::{DumbAlloc, OutputId, Owner, Screen};

thread_local! {
    static DMABUFS: RefCell<HashMap<RawFd, Vec<MemBuf>>> = RefCell::new(HashMap::new());
}

/// A descriptor standing for a dma-buf of `pages`.
pub fn dmabuf_fd(pages: Vec<MemBuf>) -> OwnedFd {
    let f: OwnedFd = std::fs::File::open("/dev/null").expect("/dev/null").into();
    DMABUFS.with(|d| d.borrow_mut().insert(f.as_raw_fd(), pages));
    f
}

/// The pages of a dma-buf made by [`dmabuf_fd`].
pub fn dmabuf_pages(fd: &OwnedFd) -> Option<Vec<MemBuf>> {
    DMABUFS.with(|d| d.borrow().get(&fd.as_raw_fd()).cloned())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeOutput {
    pub name: String,
    pub owner: Option<Owner>,
    /// (fb, w, h) shown
    pub shown: Option<(u32, u32, u32)>,
    pub in_flight: Option<u32>,
    pub flips: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFb {
    pub handle: u32,
    pub w: u32,
    pub h: u32,
    pub fourcc: u32,
    pub pitch: u32,
    pub offset: u32,
}

/// The screen; `export`/`import` say what PRIME it offers.
pub struct FakeScreen {
    pub export: bool,
    pub import: bool,
    pub max: (u32, u32),
    pub outputs: Vec<FakeOutput>,
    /// live handles: dumb (with its pages) or imported (no pages)
    pub handles: BTreeMap<u32, Option<Vec<MemBuf>>>,
    pub fbs: BTreeMap<u32, FakeFb>,
    next: u32,
    /// fail the next flip with this errno
    pub fail_flip: Option<i32>,
}

impl FakeScreen {
    pub fn new(names: &[&str]) -> FakeScreen {
        FakeScreen {
            export: true,
            import: false,
            max: (4096, 4096),
            outputs: names.iter().map(|n| FakeOutput { name: n.to_string(), owner: None, shown: None, in_flight: None, flips: 0 }).collect(),
            handles: BTreeMap::new(),
            fbs: BTreeMap::new(),
            next: 1,
            fail_flip: None,
        }
    }
    fn id(&mut self) -> u32 {
        self.next += 1;
        self.next
    }
    /// The bytes a framebuffer shows, `len` from its offset.
    pub fn fb_bytes(&self, fb: u32, len: usize) -> Vec<u8> {
        let f = &self.fbs[&fb];
        let pages = self.handles[&f.handle].as_ref().expect("a dumb buffer");
        let m = Pages(pages.clone());
        let mut b = vec![0; len];
        vdispl::mem::SharedMem::read_at(&m, f.offset as usize, &mut b).expect("inside");
        b
    }
}

fn err(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl Screen for FakeScreen {
    fn describe(&self) -> String {
        format!("fake screen, outputs {:?}", self.outputs.iter().map(|o| &o.name).collect::<Vec<_>>())
    }
    fn can_export(&self) -> bool {
        self.export
    }
    fn can_import(&self) -> bool {
        self.import
    }
    fn max_fb(&self) -> (u32, u32) {
        self.max
    }
    fn claim(&mut self, name: &str, owner: Owner) -> Result<OutputId, String> {
        let id = self.outputs.iter().position(|o| o.name == name).ok_or(format!("no connector {name}"))?;
        if self.outputs[id].owner.is_some() {
            return Err(format!("{name} is taken"));
        }
        self.outputs[id].owner = Some(owner);
        Ok(id)
    }
    fn release_output(&mut self, out: OutputId) {
        let o = &mut self.outputs[out];
        o.owner = None;
        o.shown = None;
        o.in_flight = None;
    }
    fn create_dumb(&mut self, w: u32, h: u32, bpp: u32, prime: bool) -> io::Result<DumbAlloc> {
        let pitch = (w * bpp).div_ceil(8);
        let size = (pitch as u64 * h as u64).div_ceil(XEN_PAGE_SIZE as u64) * XEN_PAGE_SIZE as u64;
        let pages: Vec<MemBuf> = (0..size as usize / XEN_PAGE_SIZE).map(|_| MemBuf::new(XEN_PAGE_SIZE)).collect();
        let handle = self.id();
        self.handles.insert(handle, Some(pages.clone()));
        let prime_fd = prime.then(|| dmabuf_fd(pages.clone()));
        Ok(DumbAlloc { handle, pitch, size, mem: Box::new(Pages(pages)), prime_fd })
    }
    fn import_dmabuf(&mut self, _fd: BorrowedFd<'_>) -> io::Result<u32> {
        if !self.import {
            return Err(err(libc::EINVAL));
        }
        let h = self.id();
        self.handles.insert(h, None);
        Ok(h)
    }
    fn close_handle(&mut self, handle: u32) {
        assert!(self.handles.remove(&handle).is_some(), "closing unknown handle {handle}");
    }
    fn add_fb(&mut self, handle: u32, w: u32, h: u32, fourcc: u32, pitch: u32, offset: u32) -> io::Result<u32> {
        if !self.handles.contains_key(&handle) || w > self.max.0 || h > self.max.1 {
            return Err(err(libc::EINVAL));
        }
        let fb = self.id();
        self.fbs.insert(fb, FakeFb { handle, w, h, fourcc, pitch, offset });
        Ok(fb)
    }
    fn rm_fb(&mut self, fb: u32) {
        assert!(self.fbs.remove(&fb).is_some(), "removing unknown fb {fb}");
        for o in &mut self.outputs {
            if o.shown.is_some_and(|s| s.0 == fb) {
                o.shown = None;
            }
        }
    }
    fn set_mode(&mut self, out: OutputId, fb: Option<u32>, w: u32, h: u32) -> io::Result<()> {
        if let Some(f) = fb {
            if !self.fbs.contains_key(&f) {
                return Err(err(libc::ENOENT));
            }
        }
        self.outputs[out].shown = fb.map(|f| (f, w, h));
        Ok(())
    }
    fn flip(&mut self, out: OutputId, fb: u32) -> io::Result<()> {
        if let Some(e) = self.fail_flip.take() {
            return Err(err(e));
        }
        let o = &mut self.outputs[out];
        if o.in_flight.is_some() {
            return Err(err(libc::EBUSY));
        }
        let Some(shown) = o.shown else { return Err(err(libc::EINVAL)) };
        o.in_flight = Some(fb);
        o.shown = Some((fb, shown.1, shown.2));
        Ok(())
    }
    fn completed(&mut self) -> io::Result<Vec<(OutputId, Owner)>> {
        let mut v = Vec::new();
        for (i, o) in self.outputs.iter_mut().enumerate() {
            if o.in_flight.take().is_some() {
                o.flips += 1;
                if let Some(owner) = o.owner {
                    v.push((i, owner));
                }
            }
        }
        Ok(v)
    }
    fn fd(&self) -> Option<RawFd> {
        None
    }
}

/// A [`FakeScreen`] the test keeps a handle on while the backend owns it.
#[derive(Clone)]
pub struct SharedScreen(pub std::rc::Rc<RefCell<FakeScreen>>);

impl Screen for SharedScreen {
    fn describe(&self) -> String {
        self.0.borrow().describe()
    }
    fn can_export(&self) -> bool {
        self.0.borrow().can_export()
    }
    fn can_import(&self) -> bool {
        self.0.borrow().can_import()
    }
    fn max_fb(&self) -> (u32, u32) {
        self.0.borrow().max_fb()
    }
    fn claim(&mut self, name: &str, owner: Owner) -> Result<OutputId, String> {
        self.0.borrow_mut().claim(name, owner)
    }
    fn release_output(&mut self, out: OutputId) {
        self.0.borrow_mut().release_output(out)
    }
    fn create_dumb(&mut self, w: u32, h: u32, bpp: u32, prime: bool) -> io::Result<DumbAlloc> {
        self.0.borrow_mut().create_dumb(w, h, bpp, prime)
    }
    fn import_dmabuf(&mut self, fd: BorrowedFd<'_>) -> io::Result<u32> {
        self.0.borrow_mut().import_dmabuf(fd)
    }
    fn close_handle(&mut self, handle: u32) {
        self.0.borrow_mut().close_handle(handle)
    }
    fn add_fb(&mut self, handle: u32, w: u32, h: u32, fourcc: u32, pitch: u32, offset: u32) -> io::Result<u32> {
        self.0.borrow_mut().add_fb(handle, w, h, fourcc, pitch, offset)
    }
    fn rm_fb(&mut self, fb: u32) {
        self.0.borrow_mut().rm_fb(fb)
    }
    fn set_mode(&mut self, out: OutputId, fb: Option<u32>, w: u32, h: u32) -> io::Result<()> {
        self.0.borrow_mut().set_mode(out, fb, w, h)
    }
    fn flip(&mut self, out: OutputId, fb: u32) -> io::Result<()> {
        self.0.borrow_mut().flip(out, fb)
    }
    fn completed(&mut self) -> io::Result<Vec<(OutputId, Owner)>> {
        self.0.borrow_mut().completed()
    }
    fn fd(&self) -> Option<RawFd> {
        None
    }
}
