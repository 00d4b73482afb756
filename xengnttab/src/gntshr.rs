//! The producer side: allocate pages and grant them to another domain (or
//! this one), through `/dev/xen/gntalloc`.

use std::os::fd::{AsFd, BorrowedFd};

use crate::device::Device;
use crate::domid::DomId;
use crate::error::{Error, Op, Result};
use crate::notify::UnmapNotify;
use crate::sys::{self, gntalloc::GNTALLOC_FLAG_WRITABLE, mem::Region};

/// An open `/dev/xen/gntalloc`: shares zeroed pages with other domains.
///
/// ```no_run
/// use xengnttab::{gntshr::GntShr, DomId};
/// let shr = GntShr::open()?;
/// let ring = shr.share_pages(DomId::new(5), 1, true)?;
/// // Tell domain 5 the reference (through xenstore, say): ring.refs()[0]
/// ring.store_u32(0, 0)?;
/// # Ok::<(), xengnttab::Error>(())
/// ```
#[derive(Debug)]
pub struct GntShr {
    core: Device,
    /// Whether `/proc/self/map_files` can confirm that an address still
    /// holds a share before it is unmapped.
    can_verify: bool,
}

/// Shared pages with no lifetime attached (what the C ABI hands out).
/// Dropping it leaves the pages shared; [`GntShr::unshare_detached`] on the
/// handle that made it unshares them.
#[derive(Debug)]
pub struct DetachedShare {
    region: Region,
    device: u64,
}

impl DetachedShare {
    /// Start address of the local mapping.
    pub fn addr(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    /// Number of pages.
    pub fn pages(&self) -> usize {
        self.region.len() / sys::mem::page_size()
    }
}

impl GntShr {
    /// Open the device (close-on-exec, unlike upstream).
    ///
    /// # Errors
    /// [`Op::OpenGntalloc`] with open(2)'s errno: ENOENT outside Xen or
    /// without the xen-gntalloc module.
    pub fn open() -> Result<GntShr> {
        let core = Device::open(c"/dev/xen/gntalloc", Op::OpenGntalloc)?;
        Ok(GntShr { core, can_verify: sys::map_files_visible() })
    }

    /// Close, reporting close(2)'s result. Pages still shared stay shared
    /// until unmapped.
    ///
    /// # Errors
    /// [`Op::Close`] with close(2)'s errno.
    pub fn close(self) -> Result<()> {
        self.core.close()
    }

    /// Share `pages` zeroed pages with `domid`, writable by it if `writable`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for 0 pages or more than
    /// [`crate::MAX_COUNT`]; [`Op::AllocGref`] if the kernel refuses (ENOSPC:
    /// gntalloc's system-wide limit, 1024 pages by default); [`Op::Mmap`].
    pub fn share_pages(&self, domid: DomId, pages: usize, writable: bool) -> Result<SharedPages<'_>> {
        self.share(domid, pages, writable, UnmapNotify::default())
    }

    /// Share one page with an unmap notification for the peer.
    ///
    /// # Errors
    /// As [`Self::share_pages`]; [`Error::InvalidArgument`] for a byte to
    /// clear outside the page; [`Op::SetUnmapNotify`] if the kernel refuses
    /// the notification.
    pub fn share_page_notify(&self, domid: DomId, writable: bool, notify: UnmapNotify) -> Result<SharedPages<'_>> {
        self.share(domid, 1, writable, notify)
    }

    fn share(&self, domid: DomId, pages: usize, writable: bool, notify: UnmapNotify) -> Result<SharedPages<'_>> {
        check_count(pages)?;
        let mut refs = vec![0; pages];
        let share = self.share_detached(domid, &mut refs, writable, notify)?;
        Ok(SharedPages { shr: self, region: Some(share.region), refs })
    }

    /// Share `refs.len()` pages, writing their grant references to `refs`
    /// (only on success), into a share with no lifetime: the door for the
    /// C ABI. The share path is upstream's: ALLOC_GREF, mmap, optional
    /// notify, then DEALLOC_GREF at once (the pages live on until unmapped).
    ///
    /// # Errors
    /// As [`Self::share_page_notify`].
    pub fn share_detached(&self, domid: DomId, refs: &mut [u32], writable: bool, notify: UnmapNotify) -> Result<DetachedShare> {
        let count = check_count(refs.len())?;
        let len = refs.len() * sys::mem::page_size();
        if !notify.fits(len) {
            return Err(Error::InvalidArgument("notify byte outside the pages"));
        }
        let domid = u16::try_from(domid.raw()).map_err(|_| Error::InvalidArgument("domid above 65535"))?;
        let fd = self.core.fd()?;
        let flags = if writable { GNTALLOC_FLAG_WRITABLE } else { 0 };
        let granted = sys::alloc_gref(fd, domid, flags, count).map_err(Error::os(Op::AllocGref))?;
        let index = granted.header().index;
        let shared = self.map_and_notify(fd, len, index, notify);
        // Always drop the fd's hold on the pages; the mapping keeps them.
        let _ = sys::dealloc_gref(fd, index, count);
        // The refs reach the caller only if the pages stay shared.
        let region = shared?;
        refs.copy_from_slice(granted.elems());
        Ok(DetachedShare { region, device: self.core.serial() })
    }

    fn map_and_notify(&self, fd: BorrowedFd<'_>, len: usize, index: u64, notify: UnmapNotify) -> Result<Region> {
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let region = Region::map_shared(fd, len, rw, index, &self.core.place).map_err(Error::os(Op::Mmap))?;
        if let Some(req) = notify.request(index) {
            if let Err(e) = sys::gntalloc_set_unmap_notify(fd, req) {
                let _ = region.unmap(&self.core.place);
                return Err(Error::os(Op::SetUnmapNotify)(e));
            }
        }
        Ok(region)
    }

    /// Stop sharing a detached share: munmap, which fires any armed
    /// notification. Where `/proc/self/map_files` is visible, the address is
    /// first confirmed to still hold a gntalloc mapping of exactly that
    /// size (the caller may have unmapped it, and something else may live
    /// there now); elsewhere (no procfs) it is unmapped as upstream does.
    /// Async-signal-safe.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a share of another handle, or an
    /// address that no longer holds it; [`Error::ForeignProcess`] in a fork
    /// child.
    pub fn unshare_detached(&self, s: DetachedShare) -> Result<(), (DetachedShare, Error)> {
        if s.device != self.core.serial() {
            return Err((s, Error::InvalidArgument("a share of another handle")));
        }
        if let Err(e) = self.core.fd() {
            return Err((s, e));
        }
        if self.can_verify && !still_a_share(&s.region) {
            return Err((s, Error::InvalidArgument("the address no longer holds this share")));
        }
        let device = s.device;
        s.region.unmap(&self.core.place).map_err(|(region, e)| (DetachedShare { region, device }, Error::os(Op::Munmap)(e)))
    }
}

impl AsFd for GntShr {
    /// The device descriptor.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.core.as_fd()
    }
}

fn check_count(pages: usize) -> Result<u32> {
    match pages {
        0 => Err(Error::InvalidArgument("no pages")),
        n if n > crate::MAX_COUNT => Err(Error::InvalidArgument("more than 2^24 pages")),
        n => Ok(n as u32),
    }
}

/// Whether exactly `region`'s range is one mapping of `/dev/xen/gntalloc`.
fn still_a_share(region: &Region) -> bool {
    const GNTALLOC: &[u8] = b"/dev/xen/gntalloc";
    let mut target = [0u8; 64];
    match sys::mapped_file_at(region.as_ptr() as usize, region.len(), &mut target) {
        Ok(n) => &target[..n] == GNTALLOC,
        // Not allowed to look (EACCES/EPERM in a restricted container):
        // unmap as upstream does rather than refuse every unshare.
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Pages shared with another domain; unshared on drop.
///
/// ```no_run
/// use xengnttab::{gntshr::GntShr, DomId};
/// let shr = GntShr::open()?;
/// let pages = shr.share_pages(DomId::new(5), 2, false)?; // domain 5 may only read
/// pages.write(4096, b"second page")?;
/// println!("tell domain 5: refs {:?}", pages.refs());
/// pages.unshare()?; // or let it drop
/// # Ok::<(), xengnttab::Error>(())
/// ```
#[derive(Debug)]
pub struct SharedPages<'a> {
    shr: &'a GntShr,
    region: Option<Region>,
    refs: Vec<u32>,
}

impl SharedPages<'_> {
    fn region(&self) -> &Region {
        self.region.as_ref().expect("present until unshare or drop")
    }

    /// One grant reference per page, in order.
    pub fn refs(&self) -> &[u32] {
        &self.refs
    }

    /// Start address of the local mapping (always read-write).
    pub fn as_ptr(&self) -> *mut u8 {
        self.region().as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.region().len()
    }

    /// Never true.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copy bytes out of the pages (atomic loads: the peer may be writing).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the range leaves the pages.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.region().read(offset, buf).map_err(|_| Error::InvalidArgument("read outside the pages"))
    }

    /// Copy bytes into the pages (atomic stores).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the range leaves the pages.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.region().write(offset, data).map_err(|_| Error::InvalidArgument("write outside the pages"))
    }

    /// Load the aligned 32-bit word at `offset` (acquire).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if unaligned or outside the pages.
    pub fn load_u32(&self, offset: usize) -> Result<u32> {
        self.region().load_u32(offset).map_err(|_| Error::InvalidArgument("unaligned or outside the pages"))
    }

    /// Store the aligned 32-bit word at `offset` (release).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if unaligned or outside the pages.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<()> {
        self.region().store_u32(offset, value).map_err(|_| Error::InvalidArgument("unaligned or outside the pages"))
    }

    /// Unshare now, reporting errors that drop would swallow.
    ///
    /// # Errors
    /// [`Error::ForeignProcess`] in a fork child; [`Op::Munmap`].
    pub fn unshare(mut self) -> Result<()> {
        let region = self.region.take().expect("present until unshare or drop");
        self.shr.unshare_owned(region)
    }
}

impl GntShr {
    /// Unshare a region only safe code owned: no need to confirm the address.
    fn unshare_owned(&self, region: Region) -> Result<()> {
        self.core.fd()?;
        region.unmap(&self.core.place).map_err(|(_, e)| Error::os(Op::Munmap)(e))
    }
}

impl Drop for SharedPages<'_> {
    fn drop(&mut self) {
        if let Some(region) = self.region.take() {
            let _ = self.shr.unshare_owned(region);
        }
    }
}
