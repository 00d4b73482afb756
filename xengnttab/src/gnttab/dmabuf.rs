//! dma-buf: turn grants into a dma-buf (export) or a dma-buf into grants
//! (import), the zero-copy path of display backends.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;

use super::GntDev;
use crate::domid::DomId;
use crate::error::{Error, Op, Result};
use crate::sys::{self, fam::FamBuf, gntdev::DmabufExpFromRefs};

/// How the kernel should back an exported dma-buf (`GNTDEV_DMA_FLAG_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaFlags(u32);

impl DmaFlags {
    /// No particular backing store.
    pub const NONE: DmaFlags = DmaFlags(0);
    /// Memory allocated with `dma_alloc_wc` (write-combining).
    pub const WC: DmaFlags = DmaFlags(sys::gntdev::GNTDEV_DMA_FLAG_WC);
    /// Memory allocated with `dma_alloc_coherent`.
    pub const COHERENT: DmaFlags = DmaFlags(sys::gntdev::GNTDEV_DMA_FLAG_COHERENT);

    /// Flags as C callers pass them, handed to the kernel unchanged.
    pub const fn from_raw(bits: u32) -> DmaFlags {
        DmaFlags(bits)
    }
}

/// What [`GntDev::dmabuf_wait_released`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Released {
    /// The buffer was released while waiting (or just before).
    Released,
    /// The kernel knows no such buffer: released long ago, or never
    /// exported through this handle (its ENOENT).
    AlreadyGone,
}

fn refs_count(refs: &[u32]) -> Result<u32> {
    match refs.len() {
        0 => Err(Error::InvalidArgument("no grant references")),
        n if n > crate::MAX_COUNT => Err(Error::InvalidArgument("more than 2^24 grant references")),
        n => Ok(n as u32),
    }
}

impl GntDev {
    /// Make a dma-buf of the pages behind `grefs`, granted by `domid`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no refs or more than
    /// [`crate::MAX_COUNT`]; [`Op::DmabufExpFromRefs`] if the kernel
    /// refuses: EINVAL in a PV domain, and on x86 in PVH/HVM domains too
    /// (Linux adds `GNTMAP_device_map`, which Xen refuses for translated
    /// domains); ENOTTY without `CONFIG_XEN_GNTDEV_DMABUF`.
    pub fn dmabuf_export_fd(&self, domid: DomId, flags: DmaFlags, grefs: &[u32]) -> Result<OwnedFd> {
        let count = refs_count(grefs)?;
        let fd = self.core.fd()?;
        let mut buf = FamBuf::<DmabufExpFromRefs>::new(grefs.len()).map_err(|_| Error::NoMemory)?;
        buf.elems().copy_from_slice(grefs);
        let h = buf.header();
        (h.flags, h.count, h.domid) = (flags.0, count, domid.raw());
        sys::dmabuf_exp_from_refs(fd, &mut buf).map_err(Error::os(Op::DmabufExpFromRefs))
    }

    /// [`Self::dmabuf_export_fd`] as an RAII value.
    ///
    /// # Errors
    /// As [`Self::dmabuf_export_fd`].
    pub fn dmabuf_export(&self, domid: DomId, flags: DmaFlags, grefs: &[u32]) -> Result<ExportedDmabuf<'_>> {
        let fd = self.dmabuf_export_fd(domid, flags, grefs)?;
        Ok(ExportedDmabuf { dev: self, fd: Some(fd) })
    }

    /// Wait up to `timeout_ms` until the buffer exported as descriptor
    /// number `fd` is released by every user (the exporter's descriptor,
    /// importers, attachments). The number may already be closed: the
    /// kernel knows the buffer by the number it was exported under.
    ///
    /// # Errors
    /// [`Op::DmabufExpWaitReleased`] with ETIMEDOUT while still in use.
    pub fn dmabuf_wait_released(&self, fd: u32, timeout_ms: u32) -> Result<Released> {
        match sys::dmabuf_exp_wait_released(self.core.fd()?, fd, timeout_ms) {
            Ok(()) => Ok(Released::Released),
            Err(Errno::ENOENT) => Ok(Released::AlreadyGone),
            Err(e) => Err(Error::os(Op::DmabufExpWaitReleased)(e)),
        }
    }

    /// Grant the pages of dma-buf `fd` to `domid`, writing one ref per page
    /// into `refs`, whose length must equal the buffer's page count. `refs`
    /// is written only on success.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no refs or more than
    /// [`crate::MAX_COUNT`]; [`Op::DmabufImpToRefs`] if the kernel refuses
    /// (EINVAL: not a dma-buf of that size, or memory without struct pages).
    pub fn dmabuf_import_into(&self, domid: DomId, fd: u32, refs: &mut [u32]) -> Result<()> {
        refs_count(refs)?;
        sys::dmabuf_imp_to_refs(self.core.fd()?, fd, domid.raw(), refs).map_err(Error::os(Op::DmabufImpToRefs))
    }

    /// [`Self::dmabuf_import_into`] for a buffer of `pages` pages, as an RAII
    /// value that ends the grants on drop. The kernel knows an import by the
    /// descriptor's number: keep `fd` open, so that the number is not reused,
    /// until the import is released or dropped.
    ///
    /// # Errors
    /// As [`Self::dmabuf_import_into`].
    pub fn dmabuf_import(&self, domid: DomId, fd: BorrowedFd<'_>, pages: usize) -> Result<ImportedDmabuf<'_>> {
        // Checked before allocating `pages` refs.
        match pages {
            0 => return Err(Error::InvalidArgument("no grant references")),
            n if n > crate::MAX_COUNT => return Err(Error::InvalidArgument("more than 2^24 grant references")),
            _ => {}
        }
        let mut refs = vec![0; pages];
        let fd = fd.as_raw_fd() as u32;
        self.dmabuf_import_into(domid, fd, &mut refs)?;
        Ok(ImportedDmabuf { dev: self, fd, refs, released: false })
    }

    /// End the grants of the import made from descriptor number `fd`.
    ///
    /// # Errors
    /// [`Op::DmabufImpRelease`] (ENOENT: no such import on this handle).
    pub fn dmabuf_release(&self, fd: u32) -> Result<()> {
        sys::dmabuf_imp_release(self.core.fd()?, fd).map_err(Error::os(Op::DmabufImpRelease))
    }
}

/// A dma-buf made from grants. Dropping it closes our descriptor; the
/// grants stay mapped until every importer lets go too.
///
/// ```no_run
/// use xengnttab::{gnttab::{DmaFlags, GntDev}, DomId};
/// let dev = GntDev::open()?;
/// // A guest's frame buffer, granted as refs 8..=11, as a dma-buf (an
/// // auto-translated dom0: arm64, or x86 PVH with a fixed kernel).
/// let buf = dev.dmabuf_export(DomId::new(5), DmaFlags::WC, &[8, 9, 10, 11])?;
/// // ... hand buf.fd() to DRM (PRIME_FD_TO_HANDLE) and scan it out ...
/// buf.release(2000)?; // the grants go back once DRM let go too
/// # Ok::<(), xengnttab::Error>(())
/// ```
#[derive(Debug)]
pub struct ExportedDmabuf<'a> {
    dev: &'a GntDev,
    fd: Option<OwnedFd>,
}

impl ExportedDmabuf<'_> {
    /// The dma-buf descriptor, to hand to an importer (DRM, a GPU, ...).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_ref().expect("present until released").as_fd()
    }

    /// Close our descriptor and wait up to `timeout_ms` for every other user
    /// to release the buffer, so its grants can be given back.
    ///
    /// # Errors
    /// As [`GntDev::dmabuf_wait_released`].
    pub fn release(mut self, timeout_ms: u32) -> Result<Released> {
        let fd = self.fd.take().expect("present until released");
        let number = fd.as_raw_fd() as u32;
        drop(fd);
        self.dev.dmabuf_wait_released(number, timeout_ms)
    }
}

/// Grants made from a dma-buf's pages; the grants end on drop.
///
/// ```no_run
/// use std::os::fd::AsFd;
/// use xengnttab::{gnttab::GntDev, DomId};
/// # fn scanout_buffer() -> std::fs::File { unimplemented!() }
/// let dev = GntDev::open()?;
/// let dumb = scanout_buffer(); // a DRM dumb buffer exported with PRIME: 1 MiB
/// let shared = dev.dmabuf_import(DomId::new(5), dumb.as_fd(), 256)?;
/// println!("the guest draws into refs {:?}", shared.refs());
/// # Ok::<(), xengnttab::Error>(())
/// ```
#[derive(Debug)]
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
    ///
    /// # Errors
    /// As [`GntDev::dmabuf_release`].
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
