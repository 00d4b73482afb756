//! Typed, safe wrappers around each gntdev/gntalloc ioctl and the other
//! system calls the library makes. Each ioctl passes a struct whose layout
//! matches the request number, which is what makes it safe.

use std::ffi::CStr;
use std::io::Write;
use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};

use nix::errno::Errno;

use super::fam::{FamBuf, Output};
use super::gntalloc::*;
use super::gntdev::*;
use super::ioc::ioctl;
use crate::gnttab::CopySegment;

/// `open(path, O_RDWR | O_CLOEXEC)`.
pub fn open_device(path: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: `path` is NUL-terminated; open has no other preconditions.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    Errno::result(fd)?;
    // SAFETY: open just returned this descriptor to us; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `close(fd)`, reporting its result (dropping an `OwnedFd` discards it).
pub fn close(fd: OwnedFd) -> Result<(), Errno> {
    // SAFETY: we own the descriptor and give it up here.
    Errno::result(unsafe { libc::close(fd.into_raw_fd()) }).map(drop)
}

/// IOCTL_GNTDEV_SET_MAX_GRANTS.
pub fn set_max_grants(fd: BorrowedFd<'_>, count: u32) -> Result<(), Errno> {
    let mut arg = SetMaxGrants { count };
    // SAFETY: SetMaxGrants is the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_SET_MAX_GRANTS, &mut arg) }
}

/// IOCTL_GNTDEV_MAP_GRANT_REF: on success `buf.header().index` is the mmap offset.
pub fn map_grant_ref(fd: BorrowedFd<'_>, buf: &mut FamBuf<MapGrantRef>) -> Result<(), Errno> {
    // SAFETY: FamBuf holds the header plus `count` refs, as the kernel reads.
    unsafe { ioctl(fd, IOCTL_GNTDEV_MAP_GRANT_REF, buf.as_mut_ptr()) }
}

/// IOCTL_GNTDEV_UNMAP_GRANT_REF.
pub fn unmap_grant_ref(fd: BorrowedFd<'_>, index: u64, count: u32) -> Result<(), Errno> {
    let mut arg = UnmapGrantRef { index, count, pad: 0 };
    // SAFETY: UnmapGrantRef is the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &mut arg) }
}

/// IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR: the offset and page count of the
/// gntdev map behind `vaddr` (the kernel looks at the first mapping of the
/// process that ends above `vaddr`; EINVAL if that is not a gntdev one).
/// Async-signal-safe.
pub fn get_offset_for_vaddr(fd: BorrowedFd<'_>, vaddr: usize) -> Result<(u64, u32), Errno> {
    let mut arg = GetOffsetForVaddr { vaddr: vaddr as u64, ..Default::default() };
    // SAFETY: GetOffsetForVaddr is the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &mut arg) }?;
    Ok((arg.offset, arg.count))
}

/// IOCTL_GNTDEV_SET_UNMAP_NOTIFY.
pub fn gntdev_set_unmap_notify(fd: BorrowedFd<'_>, mut arg: UnmapNotify) -> Result<(), Errno> {
    // SAFETY: UnmapNotify is the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &mut arg) }
}

/// IOCTL_GNTDEV_GRANT_COPY. Issued even for an empty slice: QEMU probes for
/// grant-copy support with a zero-segment copy.
pub fn grant_copy(fd: BorrowedFd<'_>, segs: &mut [CopySegment<'_>]) -> Result<(), Errno> {
    let count = libc::c_uint::try_from(segs.len()).map_err(|_| Errno::EINVAL)?;
    let mut arg = GrantCopy { count, segments: segs.as_mut_ptr().cast() };
    // SAFETY: CopySegment is a transparent GrantCopySegment whose local
    // pointers are valid for their lengths (CopySegment's invariant).
    unsafe { ioctl(fd, IOCTL_GNTDEV_GRANT_COPY, &mut arg) }
}

/// IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS: returns the new dma-buf fd.
pub fn dmabuf_exp_from_refs(fd: BorrowedFd<'_>, buf: &mut FamBuf<DmabufExpFromRefs>) -> Result<OwnedFd, Errno> {
    // SAFETY: FamBuf holds the header plus `count` refs.
    unsafe { ioctl(fd, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, buf.as_mut_ptr()) }?;
    let raw = i32::try_from(buf.header().fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel installed this new descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED.
pub fn dmabuf_exp_wait_released(fd: BorrowedFd<'_>, buf_fd: u32, wait_to_ms: u32) -> Result<(), Errno> {
    let mut arg = DmabufExpWaitReleased { fd: buf_fd, wait_to_ms };
    // SAFETY: the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, &mut arg) }
}

/// IOCTL_GNTDEV_DMABUF_IMP_TO_REFS: grant the pages of dma-buf `buf_fd` to
/// `domid`, one ref per element of `refs` (which must not be empty),
/// written only on success.
pub fn dmabuf_imp_to_refs(fd: BorrowedFd<'_>, buf_fd: u32, domid: u32, refs: &mut [u32]) -> Result<(), Errno> {
    let count = u32::try_from(refs.len()).map_err(|_| Errno::EINVAL)?;
    let header = DmabufImpToRefs { fd: buf_fd, count, domid, ..Default::default() };
    // SAFETY: Output gives room for the header plus `count` refs, as the
    // kernel reads and writes; on success the kernel has copied out all
    // `count` refs (gntdev_ioctl_dmabuf_imp_to_refs).
    let out = unsafe { Output::fill(header, refs.len(), |p| ioctl(fd, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, p)) }?;
    refs.copy_from_slice(out.elems());
    Ok(())
}

/// IOCTL_GNTDEV_DMABUF_IMP_RELEASE.
pub fn dmabuf_imp_release(fd: BorrowedFd<'_>, buf_fd: u32) -> Result<(), Errno> {
    let mut arg = DmabufImpRelease { fd: buf_fd, reserved: 0 };
    // SAFETY: the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &mut arg) }
}

/// IOCTL_GNTALLOC_ALLOC_GREF: allocate `count` (non-zero) pages granted to
/// `domid`. The result holds the mmap offset (`header().index`) and the refs
/// (`elems()`).
pub fn alloc_gref(fd: BorrowedFd<'_>, domid: u16, flags: u16, count: u32) -> Result<Output<AllocGref>, Errno> {
    let header = AllocGref { domid, flags, count, ..Default::default() };
    // SAFETY: Output gives room for the header plus `count` refs; on success
    // the kernel has written `index` and all `count` refs
    // (gntalloc_ioctl_alloc: copy_to_user of the header and gref_ids).
    unsafe { Output::fill(header, count as usize, |p| ioctl(fd, IOCTL_GNTALLOC_ALLOC_GREF, p)) }
}

/// IOCTL_GNTALLOC_DEALLOC_GREF.
pub fn dealloc_gref(fd: BorrowedFd<'_>, index: u64, count: u32) -> Result<(), Errno> {
    let mut arg = DeallocGref { index, count };
    // SAFETY: the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTALLOC_DEALLOC_GREF, &mut arg) }
}

/// IOCTL_GNTALLOC_SET_UNMAP_NOTIFY.
pub fn gntalloc_set_unmap_notify(fd: BorrowedFd<'_>, mut arg: UnmapNotify) -> Result<(), Errno> {
    // SAFETY: the struct of this request.
    unsafe { ioctl(fd, IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &mut arg) }
}

/// What `/proc/self/map_files/<start>-<end>` names: the file mapped at
/// exactly that range, if one mapping covers exactly that range, in `out`.
/// Returns the length written. Async-signal-safe (no allocation).
pub fn mapped_file_at(start: usize, len: usize, out: &mut [u8]) -> Result<usize, Errno> {
    let mut path = [0u8; 64];
    let mut w = &mut path[..];
    write!(w, "/proc/self/map_files/{:x}-{:x}\0", start, start + len).map_err(|_| Errno::ENAMETOOLONG)?;
    // SAFETY: `path` is NUL-terminated (written above); `out` is writable
    // for its length.
    let n = unsafe { libc::readlink(path.as_ptr().cast(), out.as_mut_ptr().cast(), out.len()) };
    Errno::result(n).map(|n| n as usize)
}

/// Whether this process can see `/proc/self/map_files` (procfs mounted).
pub fn map_files_visible() -> bool {
    // SAFETY: constant NUL-terminated path.
    unsafe { libc::access(c"/proc/self/map_files".as_ptr(), libc::F_OK) == 0 }
}

