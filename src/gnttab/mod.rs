//! The consumer side: map and copy grants that other domains (or this one)
//! made, through `/dev/xen/gntdev`.

mod dmabuf;
mod mapping;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;

pub use self::dmabuf::{ExportedDmabuf, ImportedDmabuf};
pub use self::mapping::{GrantMapping, Mapping};
pub use crate::sys::copy::{CopySegment, GrantAddr};
use crate::error::{Error, Op, Result};
use crate::log::Logger;
use crate::notify::UnmapNotify;
use crate::sys::{self, fam::FamBuf, gntdev::GrantRef, gntdev::MapGrantRef, mem::Placement, mem::Region};
use crate::xentools::toolcore::{open_registered, Registration};

/// Whether a grant mapping may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `PROT_READ`.
    ReadOnly,
    /// `PROT_READ | PROT_WRITE`.
    ReadWrite,
}

impl Access {
    fn prot(self) -> i32 {
        match self {
            Access::ReadOnly => libc::PROT_READ,
            Access::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        }
    }
}

/// Bounded retry for mmap's EAGAIN (a paged-out grant). Upstream retries
/// forever; current kernels retry GNTST_eagain themselves, so this only
/// guards against an endless loop on an unrelated EAGAIN.
const MMAP_EAGAIN_RETRIES: u32 = 1000;

/// Far above gntdev's per-request `limit` module parameter (65536 by
/// default, raisable by root), far below where sizes overflow.
const MAX_GRANTS_PER_MAP: u32 = 1 << 24;

/// An open `/dev/xen/gntdev`.
pub struct GntDev {
    // Field order is drop order: deregister from xentoolcore, then close.
    toolcore: Option<Registration>,
    fd: OwnedFd,
    log: Logger,
    place: Placement,
}

impl GntDev {
    /// Open the device without logging.
    pub fn open() -> Result<GntDev> {
        Self::open_with_logger(Logger::silent("gnttab"))
    }

    /// Open the device; failures of later calls are logged to `log`
    /// (failure to open is not logged, as upstream).
    pub fn open_with_logger(log: Logger) -> Result<GntDev> {
        let (toolcore, fd) = open_registered(c"/dev/xen/gntdev").map_err(Error::os(Op::Open))?;
        Ok(GntDev { toolcore, fd, log, place: Placement::default() })
    }

    /// Close, reporting close(2)'s result.
    pub fn close(self) -> Result<()> {
        let GntDev { toolcore, fd, .. } = self;
        drop(toolcore);
        sys::close(fd).map_err(Error::os(Op::Close))
    }

    /// The device descriptor (ioctls on it are this library's business).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Limit the grants this handle may map. No pv-ops kernel implements
    /// it; ENOTTY counts as success, as upstream.
    pub fn set_max_grants(&self, count: u32) -> Result<()> {
        match sys::set_max_grants(self.fd(), count) {
            Ok(()) | Err(Errno::ENOTTY) => Ok(()),
            Err(e) => Err(self.fail(Op::SetMaxGrants, e, "ioctl SET_MAX_GRANTS failed")),
        }
    }

    /// Map one grant.
    pub fn map_grant_ref(&self, domid: u32, gref: u32, access: Access) -> Result<Mapping<'_>> {
        let m = self.map_raw(1, |_| GrantRef { domid, r#ref: gref }, access.prot(), UnmapNotify::default())?;
        Ok(Mapping::new(self, m))
    }

    /// Map grants of one domain, contiguously, all or nothing.
    pub fn map_domain_grant_refs(&self, domid: u32, grefs: &[u32], access: Access) -> Result<Mapping<'_>> {
        let count = count_of(grefs.len())?;
        let m = self.map_raw(count, |i| GrantRef { domid, r#ref: grefs[i] }, access.prot(), UnmapNotify::default())?;
        Ok(Mapping::new(self, m))
    }

    /// Map `(domid, gref)` pairs, contiguously, all or nothing.
    pub fn map_grant_refs(&self, refs: &[(u32, u32)], access: Access) -> Result<Mapping<'_>> {
        let count = count_of(refs.len())?;
        let m = self.map_raw(
            count,
            |i| GrantRef { domid: refs[i].0, r#ref: refs[i].1 },
            access.prot(),
            UnmapNotify::default(),
        )?;
        Ok(Mapping::new(self, m))
    }

    /// Map one grant and arm an unmap notification for the granter.
    pub fn map_grant_ref_notify(&self, domid: u32, gref: u32, access: Access, notify: UnmapNotify) -> Result<Mapping<'_>> {
        if notify.clear_byte.is_some_and(|o| o as usize >= sys::mem::page_size()) {
            return Err(Error::InvalidArgument("notify byte outside the page"));
        }
        let m = self.map_raw(1, |_| GrantRef { domid, r#ref: gref }, access.prot(), notify)?;
        Ok(Mapping::new(self, m))
    }

    /// The map path shared by every variant: MAP_GRANT_REF, mmap, optional
    /// notify; on any failure everything done so far is undone.
    pub(crate) fn map_raw(
        &self,
        count: u32,
        grant: impl Fn(usize) -> GrantRef,
        prot: i32,
        notify: UnmapNotify,
    ) -> Result<GrantMapping> {
        if count > MAX_GRANTS_PER_MAP {
            // The kernel would refuse it too (its limit defaults to 65536);
            // refusing first avoids building a giant request from C arrays.
            return Err(self.fail(Op::MapGrantRef, Errno::EINVAL, "ioctl MAP_GRANT_REF failed"));
        }
        let mut buf = FamBuf::<MapGrantRef>::new(count as usize).map_err(|_| Error::NoMemory)?;
        for (i, slot) in buf.elems().iter_mut().enumerate() {
            *slot = grant(i);
            // The kernel would silently truncate it to 16 bits and map
            // another domain's grant.
            if slot.domid > u32::from(u16::MAX) {
                return Err(Error::InvalidArgument("domid above 65535"));
            }
        }
        buf.header().count = count;
        sys::map_grant_ref(self.fd(), &mut buf)
            .map_err(|e| self.fail(Op::MapGrantRef, e, "ioctl MAP_GRANT_REF failed"))?;
        let index = buf.header().index;
        let len = count as usize * sys::mem::page_size();

        let region = match self.mmap_retrying(len, prot, index) {
            Ok(r) => r,
            Err(e) => return Err(self.undo_map(index, count, Op::Mmap, e)),
        };
        if let Some(req) = notify.request(index, len) {
            if let Err(e) = sys::gntdev_set_unmap_notify(self.fd(), req) {
                self.log.error(e, "ioctl SET_UNMAP_NOTIFY failed");
                let _ = region.unmap(&self.place);
                return Err(self.undo_map(index, count, Op::SetUnmapNotify, e));
            }
        }
        Ok(GrantMapping { region, index, count })
    }

    fn mmap_retrying(&self, len: usize, prot: i32, index: u64) -> Result<Region, Errno> {
        let mut tries = 0;
        loop {
            match Region::map_shared(self.fd(), len, prot, index, &self.place) {
                Err(Errno::EAGAIN) if tries < MMAP_EAGAIN_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                r => return r,
            }
        }
    }

    /// Upstream logs "mmap failed" for a failed mmap or notify, then drops
    /// the kernel's map; the caller sees the first error.
    fn undo_map(&self, index: u64, count: u32, op: Op, errno: Errno) -> Error {
        self.log.error(errno, "mmap failed");
        let _ = sys::unmap_grant_ref(self.fd(), index, count);
        Error::Os { op, errno }
    }

    /// Unmap a mapping taken with [`Mapping::into_raw`]: drop the kernel's
    /// map, then munmap (which releases the pages and fires any
    /// notification). In this order a refusal by the kernel (a closed or
    /// restricted fd) leaves the mapping intact and handed back, instead of
    /// reporting failure after the memory is gone.
    pub fn unmap_raw(&self, m: GrantMapping) -> Result<(), (GrantMapping, Error)> {
        if let Err(e) = sys::unmap_grant_ref(self.fd(), m.index, m.count) {
            return Err((m, Error::Os { op: Op::UnmapGrantRef, errno: e }));
        }
        // munmap of a region we own cannot fail; if it somehow does, the
        // pages stay mapped (leaked) rather than dangling.
        m.region.unmap(&self.place).map_err(|(region, e)| (GrantMapping { region, ..m }, Error::Os { op: Op::Munmap, errno: e }))
    }

    /// Copy through grants; afterwards each segment's `status()` says how it
    /// went. The ioctl is issued even for no segments (QEMU's feature probe).
    pub fn grant_copy(&self, segs: &mut [CopySegment<'_>]) -> Result<()> {
        sys::grant_copy(self.fd(), segs).map_err(|e| {
            // Upstream's exact text, errno printed twice and trailing space included.
            let msg = format!("ioctl GRANT COPY failed {} ", e as i32);
            self.fail(Op::GrantCopy, e, &msg)
        })
    }

    pub(crate) fn fail(&self, op: Op, errno: Errno, message: &str) -> Error {
        self.log.error(errno, message);
        Error::Os { op, errno }
    }
}

fn count_of(n: usize) -> Result<u32> {
    match u32::try_from(n) {
        Ok(c) if c > 0 => Ok(c),
        _ => Err(Error::InvalidArgument("grant count must be 1..=u32::MAX")),
    }
}
