//! A guest framebuffer on the screen: a KMS framebuffer over the guest's own
//! buffer where the card reads it in place (zero-copy), or over a dumb
//! buffer of ours into which each frame is copied (map-and-copy).

use std::io;

use crate::buffer::{BufError, DisplayBuffer, Framebuffer};
use crate::mem::SharedMem;
use crate::screen::Screen;

/// The dumb buffer a copied framebuffer is shown from.
pub struct CopyBuf {
    pub handle: u32,
    pub pitch: u32,
    pub mem: Box<dyn SharedMem>,
}

impl std::fmt::Debug for CopyBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyBuf").field("handle", &self.handle).field("pitch", &self.pitch).finish()
    }
}

/// A guest framebuffer as the screen knows it.
#[derive(Debug)]
pub struct ScreenFb {
    pub fb: u32,
    /// None: zero-copy, the screen reads the guest's buffer.
    pub copy: Option<CopyBuf>,
}

/// Make the screen's framebuffer for `fb` (on `db`).
pub fn attach(s: &mut dyn Screen, db: &DisplayBuffer, fb: &Framebuffer) -> io::Result<ScreenFb> {
    let fourcc = fb.format.fourcc();
    if let Some(sb) = db.screen {
        let id = s.add_fb(sb.handle, fb.width, fb.height, fourcc, sb.pitch, db.params.data_ofs)?;
        return Ok(ScreenFb { fb: id, copy: None });
    }
    let d = s.create_dumb(fb.width, fb.height, fb.format.bpp(), false)?;
    match s.add_fb(d.handle, fb.width, fb.height, fourcc, d.pitch, 0) {
        Ok(id) => Ok(ScreenFb { fb: id, copy: Some(CopyBuf { handle: d.handle, pitch: d.pitch, mem: d.mem }) }),
        Err(e) => {
            drop(d.mem);
            s.close_handle(d.handle);
            Err(e)
        }
    }
}

/// Remove the screen's framebuffer and its copy buffer.
pub fn detach(s: &mut dyn Screen, sfb: ScreenFb) {
    s.rm_fb(sfb.fb);
    if let Some(c) = sfb.copy {
        drop(c.mem);
        s.close_handle(c.handle);
    }
}

/// Copy the guest's frame into the copy buffer, row by row (each row read
/// once from the guest's pages). Returns the bytes copied.
pub fn copy_frame(db: &DisplayBuffer, fb: &Framebuffer, dst: &CopyBuf) -> Result<usize, BufError> {
    let line = fb.width as usize * (fb.format.bpp() / 8) as usize;
    let pitch = usize::try_from(db.params.pitch()).map_err(|_| BufError::Invalid("pitch"))?;
    let mut row = vec![0u8; line];
    for y in 0..fb.height as usize {
        let src = y.checked_mul(pitch).and_then(|o| o.checked_add(db.params.data_ofs as usize)).ok_or(BufError::Invalid("offset"))?;
        db.mem.read_at(src, &mut row).map_err(|_| BufError::Invalid("framebuffer outside the mapping"))?;
        dst.mem.write_at(y * dst.pitch as usize, &row).map_err(|_| BufError::Invalid("copy buffer too small"))?;
    }
    Ok(line * fb.height as usize)
}
