//! [`Grants`] on the real grant tables, through xengnttab's safe API:
//! `GntDev` maps the guest's pages, `GntShr` shares ours (backend
//! allocation), `dmabuf_export` makes the zero-copy dma-buf of a guest's
//! buffer and `dmabuf_import` grants a screen's dumb buffer to a guest.

use xengnttab::gnttab::{DmaFlags, ExportedDmabuf, GntDev, ReadOnly, ReadWrite};
use xengnttab::DomId;
use xengnttab::gntshr::GntShr;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use xengnttab::gnttab::ImportedDmabuf;

use crate::buffer::{Exported, GrantError, Grants, Imported};
use crate::mem::SharedMem;

fn gerr(what: &str, e: xengnttab::Error) -> GrantError {
    GrantError { what: format!("{what}: {e}"), errno: e.raw_os_error() }
}

fn domid(d: u32) -> Result<DomId, GrantError> {
    DomId::try_from(d).map_err(|e| gerr("domid", e))
}

/// The process's grant handles (opened once and kept for the process's
/// lifetime, so mappings can be stored anywhere).
pub struct XenGrants {
    pub dev: &'static GntDev,
    pub shr: Option<&'static GntShr>,
}

// (by hand: the library's GntDev and GntShr have no Debug yet)
impl std::fmt::Debug for XenGrants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XenGrants").field("gntalloc", &self.shr.is_some()).finish()
    }
}

impl XenGrants {
    /// Open gntdev (required) and gntalloc (needed only for backend
    /// allocation; its absence is reported when a guest asks for it).
    pub fn open() -> Result<XenGrants, xengnttab::Error> {
        let dev: &'static GntDev = Box::leak(Box::new(GntDev::open()?));
        // room for a few 4K buffers per guest
        let _ = dev.set_max_grants(1 << 16);
        let shr = GntShr::open().ok().map(|s| &*Box::leak(Box::new(s)));
        Ok(XenGrants { dev, shr })
    }
}

struct Dmabuf(ExportedDmabuf<'static>);

impl Exported for Dmabuf {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.0.fd())
    }
    fn release(self: Box<Self>, timeout_ms: u32) -> Result<(), GrantError> {
        self.0.release(timeout_ms).map(drop).map_err(|e| gerr("dma-buf release", e))
    }
}

impl Grants for XenGrants {
    fn map(&self, domid: u32, refs: &[u32], writable: bool) -> Result<Box<dyn SharedMem>, GrantError> {
        let domid = self::domid(domid)?;
        Ok(if writable {
            Box::new(self.dev.map_domain_grant_refs(domid, refs, ReadWrite).map_err(|e| gerr("map", e))?)
        } else {
            Box::new(self.dev.map_domain_grant_refs(domid, refs, ReadOnly).map_err(|e| gerr("map", e))?)
        })
    }

    fn share(&self, domid: u32, pages: usize) -> Result<(Box<dyn SharedMem>, Vec<u32>), GrantError> {
        let shr = self.shr.ok_or(GrantError { what: "no /dev/xen/gntalloc".into(), errno: libc::ENODEV })?;
        let p = shr.share_pages(self::domid(domid)?, pages, true).map_err(|e| gerr("share", e))?;
        let refs = p.refs().to_vec();
        Ok((Box::new(p), refs))
    }

    fn export(&self, domid: u32, refs: &[u32]) -> Result<Box<dyn Exported>, GrantError> {
        let d = self.dev.dmabuf_export(self::domid(domid)?, DmaFlags::NONE, refs).map_err(|e| gerr("dma-buf export", e))?;
        Ok(Box::new(Dmabuf(d)))
    }

    fn import(&self, domid: u32, fd: OwnedFd, pages: usize) -> Result<(Vec<u32>, Box<dyn Imported>), GrantError> {
        let imp = self.dev.dmabuf_import(self::domid(domid)?, fd.as_fd(), pages).map_err(|e| gerr("dma-buf import", e))?;
        let refs = imp.refs().to_vec();
        Ok((refs, Box::new(Import { imp: Some(imp), _fd: fd })))
    }
}

/// Grants of a dma-buf; the descriptor stays open until the grants end,
/// because gntdev finds the import by it.
struct Import {
    imp: Option<ImportedDmabuf<'static>>,
    _fd: OwnedFd,
}

impl Imported for Import {
    fn release(mut self: Box<Self>) -> Result<(), GrantError> {
        match self.imp.take() {
            Some(i) => i.release().map_err(|e| gerr("dma-buf import release", e)),
            None => Ok(()),
        }
    }
}
