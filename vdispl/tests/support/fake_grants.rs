//! In-memory grants: a table of pages per domain (`FakeGrants`), standing
//! in for gntdev/gntalloc in tests.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::fd::{BorrowedFd, OwnedFd};

use vdispl::buffer::{dir_pages_for, Exported, GrantError, Grants, Imported};
use vdispl::mem::{MemBuf, OutOfBounds, SharedMem};
use vdispl::protocol::{GREFS_PER_DIR_PAGE, XEN_PAGE_SIZE};

/// A contiguous "mapping" assembled from separate granted pages: writes go
/// to the pages, as through a real grant mapping.
pub struct Pages(pub Vec<MemBuf>);

impl SharedMem for Pages {
    fn size(&self) -> usize {
        self.0.len() * XEN_PAGE_SIZE
    }
    fn read_at(&self, off: usize, buf: &mut [u8]) -> Result<(), OutOfBounds> {
        let end = off.checked_add(buf.len()).ok_or(OutOfBounds)?;
        if end > self.size() {
            return Err(OutOfBounds);
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = off + done;
            let (p, o) = (pos / XEN_PAGE_SIZE, pos % XEN_PAGE_SIZE);
            let n = (XEN_PAGE_SIZE - o).min(buf.len() - done);
            self.0[p].read_at(o, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }
    fn write_at(&self, off: usize, data: &[u8]) -> Result<(), OutOfBounds> {
        let end = off.checked_add(data.len()).ok_or(OutOfBounds)?;
        if end > self.size() {
            return Err(OutOfBounds);
        }
        let mut done = 0;
        while done < data.len() {
            let pos = off + done;
            let (p, o) = (pos / XEN_PAGE_SIZE, pos % XEN_PAGE_SIZE);
            let n = (XEN_PAGE_SIZE - o).min(data.len() - done);
            self.0[p].write_at(o, &data[done..done + n])?;
            done += n;
        }
        Ok(())
    }
}

struct FakeExport(std::rc::Rc<Cell<usize>>, OwnedFd);
impl Exported for FakeExport {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        Some(self.1.as_fd())
    }
    fn release(self: Box<Self>, _timeout_ms: u32) -> Result<(), GrantError> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

/// Pages granted by guests (`grant`) and by us (`share`).
#[derive(Default)]
pub struct FakeGrants {
    pub pages: RefCell<HashMap<(u32, u32), MemBuf>>,
    next_ref: Cell<u32>,
    /// refs shared by us to a domain
    pub shared: RefCell<HashMap<u32, (u32, MemBuf)>>,
    pub export_errno: Option<i32>,
    pub exports: Cell<usize>,
    pub released: std::rc::Rc<Cell<usize>>,
    pub maps: Cell<usize>,
    /// dma-bufs granted to guests (`import`) and their releases
    pub imports: Cell<usize>,
    pub imports_released: std::rc::Rc<Cell<usize>>,
}

struct FakeImport(std::rc::Rc<Cell<usize>>, #[allow(dead_code)] OwnedFd);
impl Imported for FakeImport {
    fn release(self: Box<Self>) -> Result<(), GrantError> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

impl FakeGrants {
    pub fn new() -> FakeGrants {
        FakeGrants { next_ref: Cell::new(8), ..Default::default() }
    }
    /// The guest `domid` grants a new zeroed page; returns its ref.
    pub fn grant(&self, domid: u32) -> (u32, MemBuf) {
        let r = self.next_ref.get();
        self.next_ref.set(r + 1);
        let page = MemBuf::new(XEN_PAGE_SIZE);
        self.pages.borrow_mut().insert((domid, r), page.clone());
        (r, page)
    }
    /// The guest side of a frontend-allocated buffer: data pages and a
    /// directory describing them. Returns (directory ref, data pages).
    pub fn guest_buffer(&self, domid: u32, bytes: usize) -> (u32, Vec<MemBuf>) {
        let n = bytes.div_ceil(XEN_PAGE_SIZE);
        let data: Vec<(u32, MemBuf)> = (0..n).map(|_| self.grant(domid)).collect();
        let dirs: Vec<(u32, MemBuf)> = (0..dir_pages_for(n)).map(|_| self.grant(domid)).collect();
        for (i, (_, page)) in dirs.iter().enumerate() {
            let next = dirs.get(i + 1).map_or(0, |d| d.0);
            page.store_u32(0, next).unwrap();
            for (j, (r, _)) in data.iter().skip(i * GREFS_PER_DIR_PAGE).take(GREFS_PER_DIR_PAGE).enumerate() {
                page.store_u32(4 + 4 * j, *r).unwrap();
            }
        }
        (dirs[0].0, data.into_iter().map(|d| d.1).collect())
    }
}

impl Grants for FakeGrants {
    fn map(&self, domid: u32, refs: &[u32], _writable: bool) -> Result<Box<dyn SharedMem>, GrantError> {
        self.maps.set(self.maps.get() + 1);
        let pages = self.pages.borrow();
        let mut v = Vec::with_capacity(refs.len());
        for r in refs {
            match pages.get(&(domid, *r)) {
                Some(p) => v.push(p.clone()),
                None => return Err(GrantError { what: format!("map of ref {r}"), errno: libc::EINVAL }),
            }
        }
        Ok(Box::new(Pages(v)))
    }
    fn share(&self, domid: u32, n: usize) -> Result<(Box<dyn SharedMem>, Vec<u32>), GrantError> {
        let mut refs = Vec::new();
        let mut v = Vec::new();
        for _ in 0..n {
            let r = self.next_ref.get();
            self.next_ref.set(r + 1);
            let page = MemBuf::new(XEN_PAGE_SIZE);
            self.shared.borrow_mut().insert(r, (domid, page.clone()));
            refs.push(r);
            v.push(page);
        }
        Ok((Box::new(Pages(v)), refs))
    }
    fn export(&self, _domid: u32, _refs: &[u32]) -> Result<Box<dyn Exported>, GrantError> {
        if let Some(errno) = self.export_errno {
            return Err(GrantError { what: "ioctl DMABUF_EXP_FROM_REFS".into(), errno });
        }
        self.exports.set(self.exports.get() + 1);
        Ok(Box::new(FakeExport(self.released.clone(), crate::support::fake_screen::dmabuf_fd(Vec::new()))))
    }
    fn import(&self, domid: u32, fd: OwnedFd, pages: usize) -> Result<(Vec<u32>, Box<dyn Imported>), GrantError> {
        let Some(bufs) = crate::support::fake_screen::dmabuf_pages(&fd) else {
            return Err(GrantError { what: "ioctl DMABUF_IMP_TO_REFS: not a dma-buf".into(), errno: libc::EINVAL });
        };
        if bufs.len() != pages {
            return Err(GrantError { what: "ioctl DMABUF_IMP_TO_REFS: page count".into(), errno: libc::EINVAL });
        }
        let mut refs = Vec::new();
        for page in bufs {
            let r = self.next_ref.get();
            self.next_ref.set(r + 1);
            self.shared.borrow_mut().insert(r, (domid, page));
            refs.push(r);
        }
        self.imports.set(self.imports.get() + 1);
        Ok((refs, Box::new(FakeImport(self.imports_released.clone(), fd))))
    }
}
