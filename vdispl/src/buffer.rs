//! Display buffers and framebuffers: page directories, mapping, sharing,
//! dma-buf export and reading pixels, all behind the [`Grants`] trait so the
//! logic runs against in-memory "grants" in tests.
//!
//! Untrusted input here: every field of DBUF_CREATE / FB_ATTACH, and every
//! word of the guest's page-directory pages. Sizes are computed in u64 with
//! checks; the number of refs read from the directory is derived from
//! `buffer_sz` (never from the directory), and a chain is followed for
//! exactly as many pages as that number needs, so a looping or truncated
//! chain cannot make us loop or read past the directory.

use std::os::fd::{BorrowedFd, OwnedFd};

use crate::mem::SharedMem;
use crate::protocol::{status, PixelFormat, GREFS_PER_DIR_PAGE, XEN_PAGE_SIZE};
use crate::screen::Screen;

/// A refusal from the grant layer, with its errno.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: errno {errno}")]
pub struct GrantError {
    pub what: String,
    pub errno: i32,
}

/// A dma-buf made from a buffer's refs.
pub trait Exported {
    /// The dma-buf, for a screen to import.
    fn fd(&self) -> Option<BorrowedFd<'_>>;
    /// Close our descriptor and wait for every user to let go.
    fn release(self: Box<Self>, timeout_ms: u32) -> Result<(), GrantError>;
}

/// Grants made from a dma-buf (a screen's dumb buffer) for a guest.
pub trait Imported {
    /// End the grants (before the buffer itself is freed).
    fn release(self: Box<Self>) -> Result<(), GrantError>;
}

/// What the display code needs from the grant tables.
pub trait Grants {
    /// Map `refs` granted by `domid`, contiguously, in order.
    fn map(&self, domid: u32, refs: &[u32], writable: bool) -> Result<Box<dyn SharedMem>, GrantError>;
    /// Allocate `pages` zeroed pages and grant them (writable) to `domid`.
    fn share(&self, domid: u32, pages: usize) -> Result<(Box<dyn SharedMem>, Vec<u32>), GrantError>;
    /// Make a dma-buf of the pages behind `refs`.
    fn export(&self, domid: u32, refs: &[u32]) -> Result<Box<dyn Exported>, GrantError>;
    /// Grant the `pages` pages of dma-buf `fd` to `domid` (kept open until
    /// the grants are released); returns one ref per page.
    fn import(&self, domid: u32, fd: OwnedFd, pages: usize) -> Result<(Vec<u32>, Box<dyn Imported>), GrantError>;
}

/// Limits on what one guest may make us hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_buffer_bytes: u32,
    pub max_dbufs: usize,
    pub max_fbs: usize,
    pub max_dimension: u32,
    /// Bytes of display buffers one device may hold in total.
    pub max_device_bytes: u64,
    /// Bytes of display buffers one domain may hold over all its devices.
    pub max_domain_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // 8K x 8K at 32 bpp is 256 MiB; a 4K display is 32 MiB, so a device
        // double-buffering two 4K connectors needs 128 MiB.
        Limits {
            max_buffer_bytes: 128 << 20,
            max_dbufs: 64,
            max_fbs: 64,
            max_dimension: 8192,
            max_device_bytes: 256 << 20,
            max_domain_bytes: 512 << 20,
        }
    }
}

/// Why a buffer request was refused; each maps to a response status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BufError {
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    #[error("{0}")]
    Grant(GrantError),
    #[error("limit reached: {0}")]
    Limit(&'static str),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("{0} already exists")]
    Exists(&'static str),
}

impl BufError {
    pub fn status(&self) -> i32 {
        match self {
            BufError::Invalid(_) => status::EINVAL,
            BufError::Grant(g) if g.errno == libc::ENOMEM || g.errno == libc::ENOSPC => status::ENOMEM,
            BufError::Grant(_) => status::EINVAL,
            BufError::Limit(_) => status::ENOMEM,
            BufError::NotFound(_) => status::ENOENT,
            BufError::Exists(_) => status::EEXIST,
        }
    }
}

/// Pages needed for `bytes`.
pub fn pages_for(bytes: u32) -> usize {
    (bytes as usize).div_ceil(XEN_PAGE_SIZE)
}

/// Directory pages needed for `nrefs` refs.
pub fn dir_pages_for(nrefs: usize) -> usize {
    nrefs.div_ceil(GREFS_PER_DIR_PAGE)
}

/// Read the `nrefs` grant refs of a buffer from the frontend's page
/// directory starting at `first`. Each directory page is mapped read-only,
/// copied and unmapped.
pub fn read_page_directory(g: &dyn Grants, domid: u32, first: u32, nrefs: usize) -> Result<Vec<u32>, BufError> {
    let mut refs = Vec::with_capacity(nrefs);
    let mut dir = first;
    for page in 0..dir_pages_for(nrefs) {
        if dir == 0 {
            return Err(BufError::Invalid(if page == 0 { "page directory ref is 0" } else { "page directory ends early" }));
        }
        let mem = g.map(domid, &[dir], false).map_err(BufError::Grant)?;
        let mut bytes = vec![0u8; XEN_PAGE_SIZE];
        mem.read_at(0, &mut bytes).map_err(|_| BufError::Invalid("directory page too small"))?;
        drop(mem);
        let word = |i: usize| u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        let take = (nrefs - refs.len()).min(GREFS_PER_DIR_PAGE);
        refs.extend((0..take).map(|i| word(1 + i)));
        dir = word(0);
    }
    Ok(refs)
}

/// Write `refs` into the frontend's page directory (backend allocation):
/// each directory page is mapped writable; the frontend's chain pointers are
/// read, not written.
pub fn fill_page_directory(g: &dyn Grants, domid: u32, first: u32, refs: &[u32]) -> Result<(), BufError> {
    let mut dir = first;
    for (page, chunk) in refs.chunks(GREFS_PER_DIR_PAGE).enumerate() {
        if dir == 0 {
            return Err(BufError::Invalid(if page == 0 { "page directory ref is 0" } else { "page directory ends early" }));
        }
        let mem = g.map(domid, &[dir], true).map_err(BufError::Grant)?;
        let bytes: Vec<u8> = chunk.iter().flat_map(|r| r.to_le_bytes()).collect();
        mem.write_at(4, &bytes).map_err(|_| BufError::Invalid("directory page too small"))?;
        dir = mem.load_u32(0).map_err(|_| BufError::Invalid("directory page too small"))?;
    }
    Ok(())
}

/// The DBUF_CREATE fields, as the guest sent them.
#[derive(Clone, Copy, Debug)]
pub struct DbufParams {
    pub cookie: u64,
    pub width: u32,
    pub height: u32,
    pub bpp: u32,
    pub buffer_sz: u32,
    pub gref_directory: u32,
    pub data_ofs: u32,
    pub backend_alloc: bool,
}

impl DbufParams {
    /// Bytes per line, as the Linux frontend lays out dumb buffers.
    pub fn pitch(&self) -> u64 {
        (self.width as u64 * self.bpp as u64).div_ceil(8)
    }

    pub fn validate(&self, lim: &Limits) -> Result<(), BufError> {
        if self.cookie == 0 {
            return Err(BufError::Invalid("dbuf cookie 0"));
        }
        if self.width == 0 || self.height == 0 || self.width > lim.max_dimension || self.height > lim.max_dimension {
            return Err(BufError::Invalid("dbuf width/height"));
        }
        if !matches!(self.bpp, 8 | 16 | 24 | 32) {
            return Err(BufError::Invalid("dbuf bpp"));
        }
        if self.buffer_sz == 0 {
            return Err(BufError::Invalid("dbuf buffer_sz 0"));
        }
        if self.buffer_sz > lim.max_buffer_bytes {
            return Err(BufError::Limit("dbuf buffer_sz"));
        }
        let need = self.data_ofs as u64 + self.pitch() * self.height as u64;
        if need > self.buffer_sz as u64 {
            return Err(BufError::Invalid("data_ofs + pitch * height exceeds buffer_sz"));
        }
        Ok(())
    }
}

/// A buffer handle on the screen, for buffers the screen shows without a
/// copy (zero-copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScreenBuf {
    pub handle: u32,
    pub pitch: u32,
}

/// A display buffer: mapped (or shared) once at creation.
pub struct DisplayBuffer {
    pub params: DbufParams,
    pub mem: Box<dyn SharedMem>,
    /// The dma-buf made from the buffer's refs (be-alloc=0 zero-copy).
    pub exported: Option<Box<dyn Exported>>,
    /// Grants to a screen's dumb buffer (be-alloc=1 zero-copy).
    pub imported: Option<Box<dyn Imported>>,
    /// The buffer on the screen, when the screen reads it in place.
    pub screen: Option<ScreenBuf>,
    pub refs: Vec<u32>,
}

impl std::fmt::Debug for DisplayBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplayBuffer")
            .field("params", &self.params)
            .field("pages", &self.refs.len())
            .field("exported", &self.exported.is_some())
            .field("imported", &self.imported.is_some())
            .field("screen", &self.screen)
            .finish()
    }
}

/// What became of a dma-buf export attempt, and where the buffer lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    NotTried,
    Exported,
    Refused(GrantError),
    /// be-alloc=1 on a screen: a dumb buffer of the card, granted to the guest.
    OnScreen,
    /// be-alloc=0 exported and imported by the screen.
    ExportedToScreen,
    /// The screen could not take the buffer in place (why): it will be copied.
    ScreenRefused(String),
}

/// How DBUF_CREATE should place a buffer.
#[derive(Default)]
pub struct Placement<'s> {
    /// Try a dma-buf export of frontend-allocated buffers.
    pub try_export: bool,
    /// Put backend-allocated buffers on the screen (false: `--zero-copy off`).
    pub screen_alloc: bool,
    /// The screen this device's connectors are shown on, if any.
    pub screen: Option<&'s mut (dyn Screen + 'static)>,
}

impl std::fmt::Debug for Placement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement").field("try_export", &self.try_export).field("screen_alloc", &self.screen_alloc).field("screen", &self.screen.is_some()).finish()
    }
}

impl DisplayBuffer {
    /// DBUF_CREATE. With `try_export`, frontend-allocated buffers are also
    /// turned into a dma-buf; a refusal is reported, not fatal. With a
    /// screen, buffers are placed so the screen reads them in place where it
    /// can (be-alloc=1: a dumb buffer granted to the guest; be-alloc=0: the
    /// exported dma-buf imported by the card).
    pub fn create(g: &dyn Grants, domid: u32, p: DbufParams, lim: &Limits, place: Placement<'_>) -> Result<(DisplayBuffer, ExportOutcome), BufError> {
        p.validate(lim)?;
        let npages = pages_for(p.buffer_sz);
        let Placement { try_export, screen_alloc, mut screen } = place;
        if p.backend_alloc {
            let mut why = None;
            if screen.is_some() && !screen_alloc {
                why = Some("zero-copy off".to_string());
            } else if let Some(s) = screen.as_deref_mut() {
                match on_screen(g, domid, &p, npages, s) {
                    Ok(db) => return Ok((db, ExportOutcome::OnScreen)),
                    Err(OnScreenError::Fatal(e)) => return Err(e),
                    Err(OnScreenError::Fallback(w)) => why = Some(w),
                }
            }
            let (mem, refs) = g.share(domid, npages).map_err(BufError::Grant)?;
            if refs.len() != npages || mem.size() < npages * XEN_PAGE_SIZE {
                return Err(BufError::Grant(GrantError { what: "share gave the wrong page count".into(), errno: libc::EIO }));
            }
            fill_page_directory(g, domid, p.gref_directory, &refs)?;
            let outcome = why.map_or(ExportOutcome::NotTried, ExportOutcome::ScreenRefused);
            return Ok((DisplayBuffer { params: p, mem, exported: None, imported: None, screen: None, refs }, outcome));
        }
        let refs = read_page_directory(g, domid, p.gref_directory, npages)?;
        let mem = g.map(domid, &refs, false).map_err(BufError::Grant)?;
        if mem.size() < npages * XEN_PAGE_SIZE {
            return Err(BufError::Grant(GrantError { what: "mapping shorter than asked".into(), errno: libc::EIO }));
        }
        let mut db = DisplayBuffer { params: p, mem, exported: None, imported: None, screen: None, refs };
        if !try_export {
            return Ok((db, ExportOutcome::NotTried));
        }
        let e = match g.export(domid, &db.refs) {
            Ok(e) => e,
            Err(e) => return Ok((db, ExportOutcome::Refused(e))),
        };
        let Some(s) = screen else {
            db.exported = Some(e);
            return Ok((db, ExportOutcome::Exported));
        };
        let taken = match e.fd() {
            Some(fd) if s.can_import() => s.import_dmabuf(fd).map_err(|err| format!("the card refused the guest's dma-buf: {err}")),
            _ => Err("the card imports no dma-bufs".to_string()),
        };
        db.exported = Some(e);
        match taken {
            Ok(handle) => {
                db.screen = Some(ScreenBuf { handle, pitch: p.pitch() as u32 });
                Ok((db, ExportOutcome::ExportedToScreen))
            }
            Err(why) => {
                // no use holding a dma-buf nobody reads
                if let Some(e) = db.exported.take() {
                    let _ = e.release(100);
                }
                Ok((db, ExportOutcome::ScreenRefused(why)))
            }
        }
    }

    /// Release the dma-buf (waiting for its users), end the grants of a
    /// screen buffer before letting go of it, and unmap/unshare.
    pub fn destroy(self, timeout_ms: u32, screen: Option<&mut (dyn Screen + 'static)>) -> Result<(), GrantError> {
        let mut r = Ok(());
        if let Some(i) = self.imported {
            r = i.release();
        }
        if let (Some(sb), Some(s)) = (self.screen, screen) {
            s.close_handle(sb.handle);
        }
        if let Some(e) = self.exported {
            r = r.and(e.release(timeout_ms));
        }
        drop(self.mem);
        r
    }
}

enum OnScreenError {
    /// The guest's request is bad: answer it with this.
    Fatal(BufError),
    /// The screen cannot hold this buffer in place (why): share our own pages.
    Fallback(String),
}

/// be-alloc=1 zero-copy: a dumb buffer on the screen, exported as a dma-buf
/// and granted page by page to the guest, who then draws into the scanout
/// buffer itself.
fn on_screen(g: &dyn Grants, domid: u32, p: &DbufParams, npages: usize, s: &mut dyn Screen) -> Result<DisplayBuffer, OnScreenError> {
    use OnScreenError::*;
    if !s.can_export() {
        return Err(Fallback("the card exports no dma-bufs".into()));
    }
    let (mw, mh) = s.max_fb();
    if p.width > mw || p.height > mh {
        return Err(Fallback(format!("{}x{} is larger than the card's {mw}x{mh}", p.width, p.height)));
    }
    let d = s.create_dumb(p.width, p.height, p.bpp, true).map_err(|e| Fallback(format!("dumb buffer: {e}")))?;
    let fits = d.pitch as u64 == p.pitch() && p.data_ofs == 0 && d.size == (npages * XEN_PAGE_SIZE) as u64;
    let handle = d.handle;
    let Some(fd) = d.prime_fd.filter(|_| fits) else {
        s.close_handle(handle);
        return Err(Fallback(format!("the card's layout (pitch {}, {} bytes) differs from the guest's", d.pitch, d.size)));
    };
    let (refs, imp) = match g.import(domid, fd, npages) {
        Ok(x) => x,
        Err(e) => {
            s.close_handle(handle);
            return Err(Fallback(format!("granting the dumb buffer: {e}")));
        }
    };
    if let Err(e) = fill_page_directory(g, domid, p.gref_directory, &refs) {
        let _ = imp.release();
        s.close_handle(handle);
        return Err(Fatal(e));
    }
    Ok(DisplayBuffer { params: *p, mem: d.mem, exported: None, imported: Some(imp), screen: Some(ScreenBuf { handle, pitch: d.pitch }), refs })
}

/// A framebuffer: a view of a display buffer with a pixel format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framebuffer {
    pub cookie: u64,
    pub dbuf_cookie: u64,
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
}

impl Framebuffer {
    /// FB_ATTACH checks: the whole framebuffer must lie inside the buffer,
    /// and no side may exceed the maximum dimension.
    pub fn validate(&self, dbuf: &DbufParams, lim: &Limits) -> Result<(), BufError> {
        if self.cookie == 0 {
            return Err(BufError::Invalid("fb cookie 0"));
        }
        if self.width == 0 || self.height == 0 {
            return Err(BufError::Invalid("fb width/height 0"));
        }
        if self.width > lim.max_dimension || self.height > lim.max_dimension {
            return Err(BufError::Invalid("fb width/height above the maximum dimension"));
        }
        let line = self.width as u64 * (self.format.bpp() / 8) as u64;
        let pitch = dbuf.pitch();
        if line > pitch || self.height > dbuf.height {
            return Err(BufError::Invalid("fb larger than its display buffer"));
        }
        let end = dbuf.data_ofs as u64 + (self.height as u64 - 1) * pitch + line;
        if end > dbuf.buffer_sz as u64 {
            return Err(BufError::Invalid("fb extends past buffer_sz"));
        }
        Ok(())
    }
}

/// Read the top-left `width` x `height` pixels of `fb` (clipped to the fb),
/// as the guest laid them out, rows packed. Every read is bounds-checked by
/// the mapping; a failed read is an error.
pub fn read_pixels(dbuf: &DisplayBuffer, fb: &Framebuffer, width: u32, height: u32) -> Result<(u32, u32, Vec<u8>), BufError> {
    let w = width.min(fb.width);
    let h = height.min(fb.height);
    let line = w as usize * (fb.format.bpp() / 8) as usize;
    let pitch = usize::try_from(dbuf.params.pitch()).map_err(|_| BufError::Invalid("pitch"))?;
    let mut px = vec![0u8; line * h as usize];
    for (y, row) in px.chunks_exact_mut(line.max(1)).enumerate().take(h as usize) {
        let off = (dbuf.params.data_ofs as usize)
            .checked_add(y.checked_mul(pitch).ok_or(BufError::Invalid("offset"))?)
            .ok_or(BufError::Invalid("offset"))?;
        dbuf.mem.read_at(off, row).map_err(|_| BufError::Invalid("framebuffer outside the mapping"))?;
    }
    Ok((w, h, px))
}

#[cfg(test)]
mod tests {
    use crate::support::fake_grants::*;
    use super::*;

    const D: u32 = 5;

    fn params(dir: u32, w: u32, h: u32, bpp: u32) -> DbufParams {
        let sz = w * h * bpp / 8;
        DbufParams { cookie: 0xffff_8880_0000_1000, width: w, height: h, bpp, buffer_sz: sz, gref_directory: dir, data_ofs: 0, backend_alloc: false }
    }

    #[test]
    fn directory_of_one_and_several_pages() {
        let g = FakeGrants::new();
        for bytes in [4096usize, 4097, 1023 * 4096, 1024 * 4096, 1024 * 768 * 4, 3000 * 4096] {
            let (dir, data) = g.guest_buffer(D, bytes);
            let refs = read_page_directory(&g, D, dir, bytes.div_ceil(4096)).unwrap();
            assert_eq!(refs.len(), data.len());
            // the refs resolve to the data pages, in order
            data[data.len() - 1].write_at(0, b"last").unwrap();
            let m = g.map(D, &refs, false).unwrap();
            let mut b = [0; 4];
            m.read_at((data.len() - 1) * 4096, &mut b).unwrap();
            assert_eq!(&b, b"last");
        }
    }

    #[test]
    fn directory_chain_cut_short_or_zero() {
        let g = FakeGrants::new();
        let (dir, _) = g.guest_buffer(D, 2000 * 4096);
        // cut the chain after the first page
        g.map(D, &[dir], true).unwrap().store_u32(0, 0).unwrap();
        assert_eq!(read_page_directory(&g, D, dir, 2000), Err(BufError::Invalid("page directory ends early")));
        assert_eq!(read_page_directory(&g, D, 0, 1), Err(BufError::Invalid("page directory ref is 0")));
        // a ref that is not granted
        assert!(matches!(read_page_directory(&g, D, 99999, 1), Err(BufError::Grant(_))));
        // another domain's ref
        assert!(matches!(read_page_directory(&g, D + 1, dir, 1), Err(BufError::Grant(_))));
    }

    #[test]
    fn directory_chain_loop_terminates() {
        let g = FakeGrants::new();
        let (dir, _) = g.guest_buffer(D, 4096 * 10);
        // the directory points at itself: we read exactly as many pages as
        // buffer_sz needs (here: asking for 5000 refs = 5 pages), no more
        g.map(D, &[dir], true).unwrap().store_u32(0, dir).unwrap();
        let before = g.maps.get();
        let refs = read_page_directory(&g, D, dir, 5000).unwrap();
        assert_eq!(refs.len(), 5000);
        assert_eq!(g.maps.get() - before, 5);
    }

    #[test]
    fn dbuf_validation() {
        let lim = Limits::default();
        let ok = params(1, 1024, 768, 32);
        assert!(ok.validate(&lim).is_ok());
        let bad = |f: &dyn Fn(&mut DbufParams)| {
            let mut p = ok;
            f(&mut p);
            p.validate(&lim).unwrap_err()
        };
        assert_eq!(bad(&|p| p.cookie = 0).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.width = 0).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.height = u32::MAX).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.bpp = 33).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.bpp = 0).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.buffer_sz = 0).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.buffer_sz = u32::MAX).status(), status::ENOMEM);
        assert_eq!(bad(&|p| p.buffer_sz -= 1).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.data_ofs = u32::MAX).status(), status::EINVAL);
        assert_eq!(bad(&|p| p.data_ofs = 1).status(), status::EINVAL);
    }

    #[test]
    fn create_maps_once_and_captures() {
        let g = FakeGrants::new();
        let (w, h) = (64u32, 48u32);
        let (dir, data) = g.guest_buffer(D, (w * h * 4) as usize);
        // pixel (x, y) = XRGB(x, y, 7)
        for y in 0..h {
            for x in 0..w {
                let off = ((y * w + x) * 4) as usize;
                data[off / 4096].write_at(off % 4096, &[7, y as u8, x as u8, 0]).unwrap();
            }
        }
        let (db, outcome) = DisplayBuffer::create(&g, D, params(dir, w, h, 32), &Limits::default(), Placement::default()).unwrap();
        assert_eq!(outcome, ExportOutcome::NotTried);
        let fb = Framebuffer { cookie: 1, dbuf_cookie: db.params.cookie, width: w, height: h, format: PixelFormat::Xrgb8888 };
        fb.validate(&db.params, &Limits::default()).unwrap();
        let maps = g.maps.get();
        let (iw, ih, px) = read_pixels(&db, &fb, w, h).unwrap();
        let img = crate::capture::RawFrame { name: String::new(), width: iw, height: ih, format: fb.format, pixels: px }.to_image();
        assert_eq!(g.maps.get(), maps, "capture does not map again");
        assert_eq!((img.width, img.height), (w, h));
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 4) as usize;
                assert_eq!(&img.rgba[i..i + 4], &[x as u8, y as u8, 7, 255]);
            }
        }
        // clipped capture
        let (iw, ih, _) = read_pixels(&db, &fb, 1000, 2).unwrap();
        assert_eq!((iw, ih), (w, 2));
    }

    #[test]
    fn fb_must_fit_its_buffer() {
        let p = params(1, 100, 100, 32);
        let fb = |w, h, format| Framebuffer { cookie: 9, dbuf_cookie: p.cookie, width: w, height: h, format };
        assert!(fb(100, 100, PixelFormat::Xrgb8888).validate(&p, &Limits::default()).is_ok());
        assert!(fb(200, 100, PixelFormat::Rgb565).validate(&p, &Limits::default()).is_ok()); // 400 bytes per line
        assert!(fb(201, 100, PixelFormat::Rgb565).validate(&p, &Limits::default()).is_err());
        assert!(fb(100, 101, PixelFormat::Xrgb8888).validate(&p, &Limits::default()).is_err());
        assert!(fb(0, 1, PixelFormat::Xrgb8888).validate(&p, &Limits::default()).is_err());
        assert!(fb(u32::MAX, u32::MAX, PixelFormat::Xrgb8888).validate(&p, &Limits::default()).is_err());
        let mut q = p;
        q.data_ofs = 8;
        q.buffer_sz = 100 * 100 * 4 + 7; // data_ofs leaves the last line short
        assert!(fb(100, 100, PixelFormat::Xrgb8888).validate(&q, &Limits::default()).is_err());
    }

    #[test]
    fn backend_allocation_fills_directory() {
        let g = FakeGrants::new();
        // the frontend gives a two-page directory, chained
        let (d1, p1) = g.grant(D);
        let (d2, p2) = g.grant(D);
        p1.store_u32(0, d2).unwrap();
        let mut p = params(d1, 1024, 1024, 32); // 1024 pages: needs 2 directory pages
        p.backend_alloc = true;
        let (db, _) = DisplayBuffer::create(&g, D, p, &Limits::default(), Placement { try_export: true, ..Placement::default() }).unwrap();
        assert_eq!(db.refs.len(), 1024);
        assert!(db.exported.is_none(), "our own pages need no export");
        assert_eq!(p1.load_u32(0).unwrap(), d2, "chain pointer untouched");
        assert_eq!(p1.load_u32(4).unwrap(), db.refs[0]);
        assert_eq!(p1.load_u32(4 + 4 * 1022).unwrap(), db.refs[1022]);
        assert_eq!(p2.load_u32(4).unwrap(), db.refs[1023]);
        // the guest writes through "its mapping" of our page; we see it
        let shared = g.shared.borrow();
        let (dom, page) = &shared[&db.refs[5]];
        assert_eq!(*dom, D);
        page.write_at(0, &[1, 2, 3, 4]).unwrap();
        let mut b = [0; 4];
        db.mem.read_at(5 * 4096, &mut b).unwrap();
        assert_eq!(b, [1, 2, 3, 4]);
    }

    #[test]
    fn export_success_refusal_and_release() {
        let g = FakeGrants::new();
        let (dir, _) = g.guest_buffer(D, 4096 * 4);
        let (db, out) = DisplayBuffer::create(&g, D, params(dir, 64, 64, 32), &Limits::default(), Placement { try_export: true, ..Placement::default() }).unwrap();
        assert_eq!(out, ExportOutcome::Exported);
        db.destroy(100, None).unwrap();
        assert_eq!(g.released.get(), 1);
        let mut g = FakeGrants::new();
        g.export_errno = Some(libc::EINVAL);
        let (dir, _) = g.guest_buffer(D, 4096 * 4);
        let (db, out) = DisplayBuffer::create(&g, D, params(dir, 64, 64, 32), &Limits::default(), Placement { try_export: true, ..Placement::default() }).unwrap();
        assert!(matches!(out, ExportOutcome::Refused(GrantError { errno: libc::EINVAL, .. })));
        assert!(db.exported.is_none());
    }
}
