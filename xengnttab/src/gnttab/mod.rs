//! The consumer side: map and copy grants that other domains (or this one)
//! made, and turn grants into dma-bufs and back, through `/dev/xen/gntdev`.

mod access;
mod copy;
mod dmabuf;
mod grants;
mod mapping;

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;

pub use self::access::{Access, Prot, ReadOnly, ReadWrite};
pub use self::copy::{CopySegment, GrantAddr};
pub use self::dmabuf::{DmaFlags, ExportedDmabuf, ImportedDmabuf, Released};
pub use self::grants::Grants;
pub use self::mapping::{DetachedMapping, Mapping};
use self::mapping::GrantMap;
use crate::device::Device;
use crate::domid::DomId;
use crate::error::{Error, Op, Result};
use crate::notify::UnmapNotify;
use crate::sys::{self, fam::FamBuf, gntdev::GrantRef, gntdev::MapGrantRef, mem::Region};

/// Bounded retry for mmap's EAGAIN (a paged-out grant). Upstream retries
/// forever; current kernels retry GNTST_eagain themselves, so this only
/// guards against an endless loop on an unrelated EAGAIN.
const MMAP_EAGAIN_RETRIES: u32 = 1000;

/// An open `/dev/xen/gntdev`: maps grants, copies through them, makes and
/// imports dma-bufs.
///
/// ```no_run
/// use xengnttab::{gnttab::{GntDev, ReadOnly}, DomId};
/// let dev = GntDev::open()?;
/// // The backend side of a ring: domain 5 granted its page as ref 8.
/// let ring = dev.map_grant_ref(DomId::new(5), 8, ReadOnly)?;
/// let producer = ring.load_u32(0)?;
/// # Ok::<(), xengnttab::Error>(())
/// ```
#[derive(Debug)]
pub struct GntDev {
    core: Device,
}

impl GntDev {
    /// Open the device.
    ///
    /// # Errors
    /// [`Op::OpenGntdev`] with open(2)'s errno: ENOENT outside Xen or
    /// without the xen-gntdev module, EACCES without permission.
    pub fn open() -> Result<GntDev> {
        Ok(GntDev { core: Device::open(c"/dev/xen/gntdev", Op::OpenGntdev)? })
    }

    /// Close, reporting close(2)'s result (dropping closes too, silently).
    /// Mappings still in place stay valid until unmapped, as on Linux's
    /// gntdev the kernel keeps each until it is munmapped.
    ///
    /// # Errors
    /// [`Op::Close`] with close(2)'s errno.
    pub fn close(self) -> Result<()> {
        self.core.close()
    }

    /// Limit the grants this handle may map. No pv-ops kernel implements
    /// the limit; its ENOTTY counts as success, as upstream.
    ///
    /// # Errors
    /// [`Op::SetMaxGrants`] for any other refusal.
    pub fn set_max_grants(&self, count: u32) -> Result<()> {
        match sys::set_max_grants(self.core.fd()?, count) {
            Ok(()) | Err(Errno::ENOTTY) => Ok(()),
            Err(e) => Err(Error::os(Op::SetMaxGrants)(e)),
        }
    }

    /// Map `grants` into one contiguous range, all or nothing; unmapped when
    /// the [`Mapping`] drops.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for no grants or more than
    /// [`crate::MAX_COUNT`]; [`Op::MapGrantRef`] if the kernel refuses the
    /// request (its per-request limit); [`Op::Mmap`] if a grant cannot be
    /// mapped (EINVAL: not granted to this domain, or read-only and mapped
    /// writable).
    pub fn map<A: Access>(&self, grants: Grants<'_>, access: A) -> Result<Mapping<'_, A>> {
        self.map_notify(grants, access, UnmapNotify::default())
    }

    /// [`Self::map`], arming `notify` for the granter: it fires when the
    /// mapping goes, by unmap, drop or this process's death.
    ///
    /// # Errors
    /// As [`Self::map`]; [`Error::InvalidArgument`] for a byte to clear
    /// outside the mapping; [`Op::SetUnmapNotify`] if the kernel refuses the
    /// notification (a port not bound here; clearing a byte of a read-only
    /// mapping), in which case nothing stays mapped.
    pub fn map_notify<A: Access>(&self, grants: Grants<'_>, access: A, notify: UnmapNotify) -> Result<Mapping<'_, A>> {
        let _ = access;
        let m = self.map_region(grants, A::PROT, notify)?;
        Ok(Mapping::new(self, m))
    }

    /// Map one grant reference of `domid`.
    ///
    /// # Errors
    /// As [`Self::map`].
    pub fn map_grant_ref<A: Access>(&self, domid: DomId, gref: u32, access: A) -> Result<Mapping<'_, A>> {
        self.map(Grants::One(domid, gref), access)
    }

    /// Map grant references of one domain, in order.
    ///
    /// # Errors
    /// As [`Self::map`].
    pub fn map_domain_grant_refs<A: Access>(&self, domid: DomId, grefs: &[u32], access: A) -> Result<Mapping<'_, A>> {
        self.map(Grants::OfDomain(domid, grefs), access)
    }

    /// Map `grants` with any `prot`, into a mapping with no lifetime: the
    /// door for callers (the C ABI) that hand out bare addresses. Unmap it
    /// with [`Self::unmap_detached`] on this handle.
    ///
    /// # Errors
    /// As [`Self::map_notify`].
    pub fn map_detached(&self, grants: Grants<'_>, prot: Prot, notify: UnmapNotify) -> Result<DetachedMapping> {
        let map = self.map_region(grants, prot.raw(), notify)?;
        Ok(DetachedMapping { map, device: self.core.serial() })
    }

    /// Unmap a detached mapping: first the kernel is asked whether the
    /// address still holds that gntdev map (the caller may have unmapped it
    /// and something else may live there now), then the kernel's map is
    /// dropped, then the pages unmapped, which fires any notification. On
    /// error the mapping is handed back untouched. Async-signal-safe.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a mapping of another handle, or if the
    /// address holds another gntdev map; [`Op::GetOffsetForVaddr`] (EINVAL)
    /// if it holds no gntdev map at all; [`Error::ForeignProcess`] in a
    /// fork child; [`Op::UnmapGrantRef`] if the kernel refuses.
    pub fn unmap_detached(&self, m: DetachedMapping) -> Result<(), (DetachedMapping, Error)> {
        if m.device != self.core.serial() {
            return Err((m, Error::InvalidArgument("a mapping of another handle")));
        }
        let fd = match self.core.fd() {
            Ok(fd) => fd,
            Err(e) => return Err((m, e)),
        };
        // As upstream, the kernel's refusal is reported with its errno (EINVAL
        // when no gntdev mapping is there, EBADF for a closed descriptor).
        match sys::get_offset_for_vaddr(fd, m.map.region.as_ptr() as usize) {
            Ok((offset, count)) if offset == m.map.index && count == m.map.count => {}
            Ok(_) => return Err((m, Error::InvalidArgument("the address no longer holds this mapping"))),
            Err(e) => return Err((m, Error::os(Op::GetOffsetForVaddr)(e))),
        }
        let device = m.device;
        self.unmap_region(m.map).map_err(|(map, e)| (DetachedMapping { map, device }, e))
    }

    /// Give up a detached mapping whose address is known to be gone (its
    /// region was unmapped behind our back and the address reused): drop
    /// the kernel's record only, touching no memory.
    pub fn forget_detached(&self, m: DetachedMapping) {
        if m.device == self.core.serial() {
            if let Ok(fd) = self.core.fd() {
                let _ = sys::unmap_grant_ref(fd, m.map.index, m.map.count);
            }
        }
    }

    /// Copy through grants; afterwards each segment's `status()` says how it
    /// went. The ioctl is issued even for no segments (QEMU's feature probe).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for more than [`crate::MAX_COUNT`]
    /// segments; [`Op::GrantCopy`] if the kernel refuses the whole request
    /// (EFAULT: a local buffer not mapped; EINVAL: a malformed segment).
    pub fn grant_copy(&self, segs: &mut [CopySegment<'_>]) -> Result<()> {
        if segs.len() > crate::MAX_COUNT {
            return Err(Error::InvalidArgument("more than 2^24 segments"));
        }
        sys::grant_copy(self.core.fd()?, segs).map_err(Error::os(Op::GrantCopy))
    }

    /// The map path shared by every variant: MAP_GRANT_REF, mmap, optional
    /// notify; on any failure everything done so far is undone.
    fn map_region(&self, grants: Grants<'_>, prot: i32, notify: UnmapNotify) -> Result<GrantMap> {
        let count = grants.count()?;
        let len = count as usize * sys::mem::page_size();
        if !notify.fits(len) {
            return Err(Error::InvalidArgument("notify byte outside the mapping"));
        }
        let fd = self.core.fd()?;
        let mut buf = FamBuf::<MapGrantRef>::new(count as usize).map_err(|_| Error::NoMemory)?;
        for (i, slot) in buf.elems().iter_mut().enumerate() {
            let (domid, gref) = grants.get(i);
            // DomId holds 16 bits only, whatever a C caller cast into it.
            if domid.raw() > u32::from(u16::MAX) {
                return Err(Error::InvalidArgument("domid above 65535"));
            }
            *slot = GrantRef { domid: domid.raw(), r#ref: gref };
        }
        buf.header().count = count;
        sys::map_grant_ref(fd, &mut buf).map_err(Error::os(Op::MapGrantRef))?;
        let index = buf.header().index;

        let region = match self.mmap_retrying(fd, len, prot, index) {
            Ok(r) => r,
            Err(e) => return Err(self.undo_map(fd, index, count, Op::Mmap, e)),
        };
        if let Some(req) = notify.request(index) {
            if let Err(e) = sys::gntdev_set_unmap_notify(fd, req) {
                let _ = region.unmap(&self.core.place);
                return Err(self.undo_map(fd, index, count, Op::SetUnmapNotify, e));
            }
        }
        Ok(GrantMap { region, index, count })
    }

    fn mmap_retrying(&self, fd: BorrowedFd<'_>, len: usize, prot: i32, index: u64) -> Result<Region, Errno> {
        let mut tries = 0;
        loop {
            match Region::map_shared(fd, len, prot, index, &self.core.place) {
                Err(Errno::EAGAIN) if tries < MMAP_EAGAIN_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                r => return r,
            }
        }
    }

    /// Drop the kernel's map after a failed mmap or notify; the caller sees
    /// the first error.
    fn undo_map(&self, fd: BorrowedFd<'_>, index: u64, count: u32, op: Op, errno: Errno) -> Error {
        let _ = sys::unmap_grant_ref(fd, index, count);
        Error::os(op)(errno)
    }

    /// Drop the kernel's map, then munmap (which releases the pages and
    /// fires any notification). In this order a refusal by the kernel (a
    /// restricted fd) leaves the mapping intact and handed back, instead of
    /// reporting failure after the memory is gone. Async-signal-safe.
    fn unmap_region(&self, m: GrantMap) -> Result<(), (GrantMap, Error)> {
        let fd = match self.core.fd() {
            Ok(fd) => fd,
            Err(e) => return Err((m, e)),
        };
        if let Err(e) = sys::unmap_grant_ref(fd, m.index, m.count) {
            return Err((m, Error::os(Op::UnmapGrantRef)(e)));
        }
        // munmap of a region we own cannot fail; if it somehow does, the
        // pages stay mapped (leaked) rather than dangling.
        let GrantMap { region, index, count } = m;
        region.unmap(&self.core.place).map_err(|(region, e)| (GrantMap { region, index, count }, Error::os(Op::Munmap)(e)))
    }
}

impl AsFd for GntDev {
    /// The device descriptor (ioctls on it are this library's business).
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.core.as_fd()
    }
}
