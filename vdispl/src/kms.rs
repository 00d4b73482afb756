//! A DRM/KMS card in the backend domain, through Smithay's `drm` crate: its
//! connectors (found by name, e.g. `VGA-1`), one CRTC per connector, dumb
//! buffers (created, mapped, exported as dma-bufs), framebuffers, mode sets
//! and page flips whose completion comes back as an event on the card's fd.
//!
//! This is the only module that talks to the card. It implements
//! [`Screen`], which is all the display code sees (tests use a fake).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

use drm::control::{connector, crtc, Device as ControlDevice, Event, Mode, PageFlipFlags};
use drm::{ClientCapability, Device, DriverCapability};

use crate::mem::RawShared;
use crate::screen::{DumbAlloc, OutputId, Owner, Screen};

/// The card's file, as the `drm` crate's traits want it.
#[derive(Debug)]
struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}
impl Device for Card {}
impl ControlDevice for Card {}

/// One connector of the card and the CRTC that drives it.
#[derive(Debug)]
struct Output {
    name: String,
    conn: connector::Handle,
    crtc: crtc::Handle,
    modes: Vec<Mode>,
    connected: bool,
    owner: Option<Owner>,
    /// Bumped at each claim: a flip event that arrives after its owner let go
    /// is not credited to the next owner.
    generation: u64,
    /// Generation whose flip the kernel has not completed yet.
    in_flight: Option<u64>,
}

/// A mapping of a dumb buffer. In zero-copy mode the guest draws into the
/// same pages through its grants, so it is read only with atomic accesses
/// (`RawShared`); it is unmapped on drop.
#[derive(Debug)]
pub struct DumbMap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: `ptr` is a live MAP_SHARED mapping of `len` bytes (page aligned,
// from mmap) until drop.
unsafe impl RawShared for DumbMap {
    fn base(&self) -> *mut u8 {
        self.ptr
    }
    fn bytes(&self) -> usize {
        self.len
    }
}
crate::shared_mem_via_atomics!(DumbMap);

impl DumbMap {
    fn new(card: BorrowedFd<'_>, handle: u32, len: usize) -> io::Result<DumbMap> {
        let off = drm_ffi::mode::dumbbuffer::map(card, handle, 0, 0)?.offset;
        let off = libc::off_t::try_from(off).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh shared mapping of the card at the offset the kernel
        // gave for this buffer; nothing else refers to the address range.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, card.as_raw_fd(), off) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(DumbMap { ptr: p.cast(), len })
    }
}

impl Drop for DumbMap {
    fn drop(&mut self) {
        // SAFETY: our own mapping, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// The card.
#[derive(Debug)]
pub struct Kms {
    card: Card,
    path: String,
    driver: String,
    prime_export: bool,
    prime_import: bool,
    max_fb: (u32, u32),
    outputs: Vec<Output>,
}

fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

impl Kms {
    /// Open the card, become its master (so mode sets are allowed) and list
    /// its connectors with a CRTC each.
    pub fn open(path: &str) -> io::Result<Kms> {
        let f = OpenOptions::new().read(true).write(true).custom_flags(libc::O_CLOEXEC).open(path)?;
        let card = Card(f);
        // The legacy API is all we use; atomic is not needed for one plane.
        let _ = card.set_client_capability(ClientCapability::UniversalPlanes, true);
        if card.acquire_master_lock().is_err() {
            log::warn!("{path}: could not become DRM master (another compositor runs?); mode sets may fail");
        }
        let driver = card.get_driver().map(|d| d.name().to_string_lossy().into_owned()).unwrap_or_default();
        let prime = card.get_driver_capability(DriverCapability::Prime).unwrap_or(0);
        if card.get_driver_capability(DriverCapability::DumbBuffer).unwrap_or(0) == 0 {
            return Err(io::Error::new(io::ErrorKind::Unsupported, format!("{path}: no dumb buffers")));
        }
        let res = card.resource_handles()?;
        let max_fb = (res.supported_fb_width().end_bound_u32(), res.supported_fb_height().end_bound_u32());
        let mut outputs = Vec::new();
        let mut used_crtcs = Vec::new();
        for &h in res.connectors() {
            let info = card.get_connector(h, true)?;
            // the CRTC: the current one, else the first free one an encoder allows
            let mut chosen = None;
            let encs: Vec<_> = info.current_encoder().into_iter().chain(info.encoders().iter().copied()).collect();
            for e in encs {
                let Ok(enc) = card.get_encoder(e) else { continue };
                if let Some(c) = enc.crtc().filter(|c| !used_crtcs.contains(c)) {
                    chosen = Some(c);
                    break;
                }
                if let Some(c) = res.filter_crtcs(enc.possible_crtcs()).into_iter().find(|c| !used_crtcs.contains(c)) {
                    chosen = Some(c);
                    break;
                }
            }
            let Some(crtc) = chosen else { continue };
            used_crtcs.push(crtc);
            outputs.push(Output {
                name: info.to_string(),
                conn: h,
                crtc,
                modes: info.modes().to_vec(),
                connected: info.state() == connector::State::Connected,
                owner: None,
                generation: 0,
                in_flight: None,
            });
        }
        Ok(Kms {
            card,
            path: path.to_string(),
            driver,
            prime_export: prime & drm_ffi::DRM_PRIME_CAP_EXPORT as u64 != 0,
            prime_import: prime & drm_ffi::DRM_PRIME_CAP_IMPORT as u64 != 0,
            max_fb,
            outputs,
        })
    }

    fn out(&self, id: OutputId) -> io::Result<&Output> {
        self.outputs.get(id).ok_or_else(einval)
    }

    /// The card's mode for `w` x `h`: an exact match, else none.
    fn mode_for(&self, id: OutputId, w: u32, h: u32) -> io::Result<Mode> {
        let o = self.out(id)?;
        o.modes.iter().find(|m| m.size() == (w as u16, h as u16)).copied().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} has no {w}x{h} mode", o.name))
        })
    }
}

trait EndBound {
    fn end_bound_u32(&self) -> u32;
}
impl<R: std::ops::RangeBounds<u32>> EndBound for R {
    fn end_bound_u32(&self) -> u32 {
        match self.end_bound() {
            std::ops::Bound::Included(&v) => v,
            std::ops::Bound::Excluded(&v) => v.saturating_sub(1),
            std::ops::Bound::Unbounded => u32::MAX,
        }
    }
}

impl Screen for Kms {
    fn describe(&self) -> String {
        let outs: Vec<String> = self
            .outputs
            .iter()
            .map(|o| {
                let best = o.modes.first().map(|m| format!("{}x{}", m.size().0, m.size().1)).unwrap_or("no modes".into());
                format!("{} ({}, {best})", o.name, if o.connected { "connected" } else { "disconnected" })
            })
            .collect();
        format!(
            "{} driver {}, PRIME export {} import {}, framebuffers up to {}x{}, connectors: {}",
            self.path,
            self.driver,
            yes(self.prime_export),
            yes(self.prime_import),
            self.max_fb.0,
            self.max_fb.1,
            outs.join(", ")
        )
    }

    fn can_export(&self) -> bool {
        self.prime_export
    }

    fn can_import(&self) -> bool {
        self.prime_import
    }

    fn max_fb(&self) -> (u32, u32) {
        self.max_fb
    }

    fn claim(&mut self, name: &str, owner: Owner) -> Result<OutputId, String> {
        let id = self.outputs.iter().position(|o| o.name == name).ok_or_else(|| format!("the card has no connector {name}"))?;
        let o = &mut self.outputs[id];
        if let Some(other) = o.owner {
            return Err(format!("{name} is already showing d{} v{} connector {}", other.dev.0, other.dev.1, other.conn));
        }
        o.owner = Some(owner);
        o.generation += 1;
        Ok(id)
    }

    fn release_output(&mut self, id: OutputId) {
        let Some(o) = self.outputs.get_mut(id) else { return };
        o.owner = None;
        let crtc = o.crtc;
        // Stop scanning out the guest's buffers before they go away.
        if let Err(e) = self.card.set_crtc(crtc, None, (0, 0), &[], None) {
            log::warn!("{}: turning off: {e}", self.outputs[id].name);
        }
    }

    fn create_dumb(&mut self, w: u32, h: u32, bpp: u32, prime: bool) -> io::Result<DumbAlloc> {
        let c = drm_ffi::mode::dumbbuffer::create(self.card.as_fd(), w, h, bpp, 0)?;
        let fail = |card: &Card, e: io::Error| {
            let _ = drm_ffi::mode::dumbbuffer::destroy(card.as_fd(), c.handle);
            Err(e)
        };
        let len = match usize::try_from(c.size) {
            Ok(l) if l > 0 => l,
            _ => return fail(&self.card, einval()),
        };
        let map = match DumbMap::new(self.card.as_fd(), c.handle, len) {
            Ok(m) => m,
            Err(e) => return fail(&self.card, e),
        };
        let prime_fd = if prime {
            match drm_ffi::gem::handle_to_fd(self.card.as_fd(), c.handle, (libc::O_CLOEXEC | libc::O_RDWR) as u32) {
                // SAFETY: the kernel just gave us this descriptor; we own it.
                Ok(p) => Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(p.fd) }),
                Err(e) => return fail(&self.card, e),
            }
        } else {
            None
        };
        Ok(DumbAlloc { handle: c.handle, pitch: c.pitch, size: c.size, mem: Box::new(map), prime_fd })
    }

    fn import_dmabuf(&mut self, fd: BorrowedFd<'_>) -> io::Result<u32> {
        Ok(drm_ffi::gem::fd_to_handle(self.card.as_fd(), fd)?.handle)
    }

    fn close_handle(&mut self, handle: u32) {
        if let Err(e) = drm_ffi::gem::close(self.card.as_fd(), handle) {
            log::warn!("closing buffer handle {handle}: {e}");
        }
    }

    fn add_fb(&mut self, handle: u32, w: u32, h: u32, fourcc: u32, pitch: u32, offset: u32) -> io::Result<u32> {
        let fb = drm_ffi::mode::add_fb2(self.card.as_fd(), w, h, fourcc, &[handle, 0, 0, 0], &[pitch, 0, 0, 0], &[offset, 0, 0, 0], &[0; 4], 0)?;
        Ok(fb.fb_id)
    }

    fn rm_fb(&mut self, fb: u32) {
        if let Err(e) = drm_ffi::mode::rm_fb(self.card.as_fd(), fb) {
            log::warn!("removing framebuffer {fb}: {e}");
        }
    }

    fn set_mode(&mut self, id: OutputId, fb: Option<u32>, w: u32, h: u32) -> io::Result<()> {
        let o = self.out(id)?;
        let (crtc, conn) = (o.crtc, o.conn);
        match fb {
            None => self.card.set_crtc(crtc, None, (0, 0), &[], None),
            Some(fb) => {
                let mode = self.mode_for(id, w, h)?;
                let fb = drm::control::from_u32(fb).ok_or_else(einval)?;
                self.card.set_crtc(crtc, Some(fb), (0, 0), &[conn], Some(mode))
            }
        }
    }

    fn flip(&mut self, id: OutputId, fb: u32) -> io::Result<()> {
        let o = self.out(id)?;
        let crtc = o.crtc;
        let fb = drm::control::from_u32(fb).ok_or_else(einval)?;
        self.card.page_flip(crtc, fb, PageFlipFlags::EVENT, None)?;
        let o = &mut self.outputs[id];
        o.in_flight = Some(o.generation);
        Ok(())
    }

    fn completed(&mut self) -> io::Result<Vec<(OutputId, Owner)>> {
        let mut done = Vec::new();
        for ev in self.card.receive_events()? {
            let Event::PageFlip(pf) = ev else { continue };
            let Some(id) = self.outputs.iter().position(|o| o.crtc == pf.crtc) else { continue };
            let o = &mut self.outputs[id];
            let gen = o.in_flight.take();
            if let (Some(owner), Some(g)) = (o.owner, gen) {
                if g == o.generation {
                    done.push((id, owner));
                }
            }
        }
        Ok(done)
    }

    fn fd(&self) -> Option<RawFd> {
        Some(self.card.as_fd().as_raw_fd())
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
