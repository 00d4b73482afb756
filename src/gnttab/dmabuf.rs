//! dma-buf: turn grants into a dma-buf (export) or a dma-buf into grants
//! (import), the zero-copy path of display backends.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::GntDev;
use crate::error::{Error, Op, Result};
use crate::sys::{self, fam::FamBuf, gntdev::DmabufExpFromRefs};

impl GntDev {
    /// Make a dma-buf of the pages behind `grefs` (granted by `domid`).
    /// `flags` are `GNTDEV_DMA_FLAG_*`. The kernel refuses this in a PV
    /// domain (EINVAL); see the README for x86 PVH.
    pub fn dmabuf_export_fd(&self, domid: u32, flags: u32, grefs: &[u32]) -> Result<OwnedFd> {
        if grefs.is_empty() {
            return Err(Error::InvalidArgument("no grant references"));
        }
        let count = u32::try_from(grefs.len()).map_err(|_| Error::InvalidArgument("too many refs"))?;
        let mut buf = FamBuf::<DmabufExpFromRefs>::new(grefs.len()).map_err(|_| Error::NoMemory)?;
        buf.elems().copy_from_slice(grefs);
        let h = buf.header();
        (h.flags, h.count, h.domid) = (flags, count, domid);
        sys::dmabuf_exp_from_refs(self.fd(), &mut buf)
            .map_err(|e| self.fail(Op::DmabufExpFromRefs, e, "ioctl DMABUF_EXP_FROM_REFS failed"))
    }

    /// [`Self::dmabuf_export_fd`] as an RAII value.
    pub fn dmabuf_export(&self, domid: u32, flags: u32, grefs: &[u32]) -> Result<ExportedDmabuf<'_>> {
        let fd = self.dmabuf_export_fd(domid, flags, grefs)?;
        Ok(ExportedDmabuf { dev: self, fd: Some(fd) })
    }

    /// Wait until the exported buffer with descriptor number `fd` is released
    /// by every user. A buffer already gone (ENOENT) counts as released.
    pub fn dmabuf_wait_released(&self, fd: u32, timeout_ms: u32) -> Result<()> {
        match sys::dmabuf_exp_wait_released(self.fd(), fd, timeout_ms) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(self.fail(Op::DmabufExpWaitReleased, e, "ioctl DMABUF_EXP_WAIT_RELEASED failed")),
        }
    }

    /// Grant the pages of dma-buf `fd` to `domid`, writing one ref per page
    /// into `refs` (whose length must equal the buffer's page count).
    pub fn dmabuf_import_into(&self, domid: u32, fd: u32, refs: &mut [u32]) -> Result<()> {
        if refs.is_empty() {
            return Err(Error::InvalidArgument("no grant references"));
        }
        if u32::try_from(refs.len()).is_err() {
            return Err(Error::InvalidArgument("too many refs"));
        }
        sys::dmabuf_imp_to_refs(self.fd(), fd, domid, refs)
            .map_err(|e| self.fail(Op::DmabufImpToRefs, e, "ioctl DMABUF_IMP_TO_REFS failed"))
    }

    /// [`Self::dmabuf_import_into`] as an RAII value that ends the grants on drop.
    pub fn dmabuf_import(&self, domid: u32, fd: BorrowedFd<'_>, pages: usize) -> Result<ImportedDmabuf<'_>> {
        let mut refs = vec![0; pages];
        let fd = fd.as_raw_fd() as u32;
        self.dmabuf_import_into(domid, fd, &mut refs)?;
        Ok(ImportedDmabuf { dev: self, fd, refs, released: false })
    }

    /// End the grants of an import made from descriptor number `fd`.
    pub fn dmabuf_release(&self, fd: u32) -> Result<()> {
        sys::dmabuf_imp_release(self.fd(), fd)
            .map_err(|e| self.fail(Op::DmabufImpRelease, e, "ioctl DMABUF_IMP_RELEASE failed"))
    }
}

/// A dma-buf made from grants. Dropping it closes our descriptor; the
/// grants stay mapped until every importer lets go too.
pub struct ExportedDmabuf<'a> {
    dev: &'a GntDev,
    fd: Option<OwnedFd>,
}

impl ExportedDmabuf<'_> {
    /// The dma-buf descriptor, to hand to an importer (DRM, a GPU, ...).
    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_ref().expect("present until released").as_fd()
    }

    /// Close our descriptor and wait up to `timeout_ms` for every other user
    /// to release the buffer, so its grants can be given back.
    pub fn release(mut self, timeout_ms: u32) -> Result<()> {
        let fd = self.fd.take().expect("present until released");
        let number = fd.as_raw_fd() as u32;
        drop(fd);
        self.dev.dmabuf_wait_released(number, timeout_ms)
    }
}

/// Grants made from a dma-buf's pages; the grants end on drop.
pub struct ImportedDmabuf<'a> {
    dev: &'a GntDev,
    fd: u32,
    refs: Vec<u32>,
    released: bool,
}

impl ImportedDmabuf<'_> {
    /// One grant reference per page, in order.
    pub fn refs(&self) -> &[u32] {
        &self.refs
    }

    /// End the grants now, reporting errors that drop would swallow.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.dev.dmabuf_release(self.fd)
    }
}

impl Drop for ImportedDmabuf<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.dev.dmabuf_release(self.fd);
        }
    }
}
