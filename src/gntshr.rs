//! The producer side: allocate pages and grant them to another domain (or
//! this one), through `/dev/xen/gntalloc`.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use crate::error::{Error, Op, Result};
use crate::log::Logger;
use crate::notify::UnmapNotify;
use crate::sys::{self, fam::FamBuf, gntalloc::AllocGref, gntalloc::GNTALLOC_FLAG_WRITABLE, mem::Placement, mem::Region};
use crate::xentools::toolcore::{open_registered, Registration};

/// An open `/dev/xen/gntalloc`.
pub struct GntShr {
    // Field order is drop order: deregister from xentoolcore, then close.
    toolcore: Option<Registration>,
    fd: OwnedFd,
    log: Logger,
    place: Placement,
}

/// Shared pages with no lifetime attached (what the C ABI hands out).
/// Unsharing is unmapping: the kernel frees the pages once the peer has
/// unmapped them too.
#[derive(Debug)]
pub struct Share {
    pub(crate) region: Region,
}

impl Share {
    /// Start address.
    pub fn addr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }
}

impl GntShr {
    /// Open the device without logging.
    pub fn open() -> Result<GntShr> {
        Self::open_with_logger(Logger::silent("gntshr"))
    }

    /// Open the device (close-on-exec, unlike upstream, and registered with
    /// xentoolcore, unlike upstream); later failures are logged to `log`.
    pub fn open_with_logger(log: Logger) -> Result<GntShr> {
        let (toolcore, fd) = open_registered(c"/dev/xen/gntalloc").map_err(Error::os(Op::Open))?;
        Ok(GntShr { toolcore, fd, log, place: Placement::default() })
    }

    /// Close, reporting close(2)'s result.
    pub fn close(self) -> Result<()> {
        let GntShr { toolcore, fd, .. } = self;
        drop(toolcore);
        sys::close(fd).map_err(Error::os(Op::Close))
    }

    /// The device descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Share `pages` zeroed pages with `domid`.
    pub fn share_pages(&self, domid: u16, pages: usize, writable: bool) -> Result<SharedPages<'_>> {
        if pages == 0 {
            return Err(Error::InvalidArgument("no pages"));
        }
        let mut refs = vec![0; pages];
        let share = self.share_raw(domid.into(), &mut refs, writable, UnmapNotify::default())?;
        Ok(SharedPages { shr: self, share: Some(share), refs })
    }

    /// Share one page with an unmap notification for the peer.
    pub fn share_page_notify(&self, domid: u16, writable: bool, notify: UnmapNotify) -> Result<SharedPages<'_>> {
        if notify.clear_byte.is_some_and(|o| o as usize >= sys::mem::page_size()) {
            return Err(Error::InvalidArgument("notify byte outside the page"));
        }
        let mut refs = vec![0; 1];
        let share = self.share_raw(domid.into(), &mut refs, writable, notify)?;
        Ok(SharedPages { shr: self, share: Some(share), refs })
    }

    /// The share path: ALLOC_GREF, mmap, optional notify, then DEALLOC_GREF
    /// at once (the pages live on until unmapped). `refs` receives one
    /// grant reference per page, only on success.
    pub(crate) fn share_raw(&self, domid: u32, refs: &mut [u32], writable: bool, notify: UnmapNotify) -> Result<Share> {
        // Upstream silently truncates the domid to 16 bits: refuse instead.
        let domid = u16::try_from(domid).map_err(|_| Error::InvalidArgument("domid above 65535"))?;
        let count = u32::try_from(refs.len()).ok().filter(|&c| c > 0).ok_or(Error::InvalidArgument("page count"))?;
        let len = (count as usize).checked_mul(sys::mem::page_size()).ok_or(Error::InvalidArgument("page count"))?;
        let mut buf = FamBuf::<AllocGref>::new(refs.len()).map_err(|_| Error::NoMemory)?;
        let h = buf.header();
        (h.domid, h.count) = (domid, count);
        h.flags = if writable { GNTALLOC_FLAG_WRITABLE } else { 0 };
        if let Err(e) = sys::alloc_gref(self.fd(), &mut buf) {
            return Err(self.fail(Op::AllocGref, e, &alloc_failure_message(e, count)));
        }
        let index = buf.header().index;
        let shared = self.map_and_notify(len, index, notify);
        if shared.is_ok() {
            refs.copy_from_slice(buf.elems());
        }
        // Always drop the fd's hold on the pages; the mapping keeps them.
        let _ = sys::dealloc_gref(self.fd(), index, count);
        shared
    }

    /// Stop sharing `share` (made by this handle): munmap, which fires any
    /// armed notification.
    pub fn unshare(&self, share: Share) -> Result<()> {
        share.region.unmap(&self.place).map_err(|(_, e)| Error::Os { op: Op::Munmap, errno: e })
    }

    fn map_and_notify(&self, len: usize, index: u64, notify: UnmapNotify) -> Result<Share> {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let region = Region::map_shared(self.fd(), len, rw, index, &self.place).map_err(|e| self.fail(Op::Mmap, e, "mmap failed"))?;
        if let Some(req) = notify.request(index, len) {
            if let Err(e) = sys::gntalloc_set_unmap_notify(self.fd(), req) {
                let _ = region.unmap(&self.place);
                return Err(self.fail(Op::SetUnmapNotify, e, "ioctl SET_UNMAP_NOTIFY failed"));
            }
        }
        Ok(Share { region })
    }

    fn fail(&self, op: Op, errno: Errno, message: &str) -> Error {
        self.log.error(errno, message);
        Error::Os { op, errno }
    }
}

/// Upstream says only "ioctl failed"; say what hit the limit.
fn alloc_failure_message(errno: Errno, count: u32) -> String {
    if errno == Errno::ENOSPC {
        format!(
            "ioctl ALLOC_GREF failed for {count} page(s): gntalloc's system-wide page limit reached \
             (see /sys/module/xen_gntalloc/parameters/limit)"
        )
    } else {
        format!("ioctl ALLOC_GREF failed for {count} page(s)")
    }
}

/// Pages shared with another domain; unshared on drop.
pub struct SharedPages<'a> {
    shr: &'a GntShr,
    share: Option<Share>,
    refs: Vec<u32>,
}

impl SharedPages<'_> {
    fn share(&self) -> &Share {
        self.share.as_ref().expect("present until unshare or drop")
    }

    /// One grant reference per page, in order.
    pub fn refs(&self) -> &[u32] {
        &self.refs
    }

    /// Start address of the local mapping (always read-write).
    pub fn as_ptr(&self) -> *mut u8 {
        self.share().addr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.share().len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.share().is_empty()
    }

    /// Copy bytes out of the pages.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.share().region.read(offset, buf).map_err(|_| Error::InvalidArgument("read outside the pages"))
    }

    /// Copy bytes into the pages.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.share().region.write(offset, data).map_err(|_| Error::InvalidArgument("write outside the pages"))
    }

    /// Unshare now, reporting errors that drop would swallow.
    pub fn unshare(mut self) -> Result<()> {
        self.shr.unshare(self.share.take().expect("present until unshare or drop"))
    }
}

impl Drop for SharedPages<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.share.take() {
            let _ = self.shr.unshare(s);
        }
    }
}
