//! The library's demonstration, run in the rig's dom0 by `make demo`:
//! share pages, map them by grant reference, copy through grants, and the
//! zero-copy path the dma-buf calls exist for (a DRM buffer becomes grant
//! references that a peer maps).

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use xengnttab::gnttab::{CopySegment, DmaFlags, GntDev, GrantAddr, ReadWrite};
use xengnttab::gntshr::GntShr;
use xengnttab::DomId;

const DOM0: DomId = DomId::SELF_GRANT;

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> R<()> {
    let shr = GntShr::open()?;
    let dev = GntDev::open()?;
    println!("opened /dev/xen/gntalloc and /dev/xen/gntdev");

    // 1. Share four pages with domain 0 (ourselves) and map them back.
    let pages = shr.share_pages(DOM0, 4, true)?;
    println!("shared 4 pages, grant refs {:?}", pages.refs());
    pages.write(0, b"hello through the grant table")?;
    let map = dev.map_domain_grant_refs(DOM0, pages.refs(), ReadWrite)?;
    let mut seen = [0u8; 29];
    map.read(0, &mut seen)?;
    println!("mapped them: first bytes read through the mapping: {:?}", String::from_utf8_lossy(&seen));
    drop(map);

    // 2. Copy into a granted page with the hypervisor's grant copy.
    let msg = b"copied by GNTTABOP_copy";
    let mut segs = [CopySegment::to_grant(msg, GrantAddr { domid: DOM0, gref: pages.refs()[1], offset: 8 }).ok_or("len")?];
    dev.grant_copy(&mut segs)?;
    let mut back = [0u8; 23];
    pages.read(4096 + 8, &mut back)?;
    println!("grant copy status {}, page 1 now holds {:?}", segs[0].status(), String::from_utf8_lossy(&back));

    // 3. Zero copy: a DRM dumb buffer from vgem becomes grant references.
    let (fd, fb, size) = vgem_buffer(256, 1024)?;
    // SAFETY: fb maps `size` bytes of the dumb buffer, ours alone.
    let pixels = unsafe { std::slice::from_raw_parts_mut(fb, size) };
    for (i, px) in pixels.chunks_mut(4).enumerate() {
        px.copy_from_slice(&(i as u32).to_le_bytes());
    }
    let imported = dev.dmabuf_import(DOM0, std::os::fd::AsFd::as_fd(&fd), size / 4096)?;
    println!("imported a {} KiB vgem buffer as {} grant refs", size / 1024, imported.refs().len());
    let peer = dev.map_domain_grant_refs(DOM0, imported.refs(), ReadWrite)?;
    let mut check = vec![0u8; size];
    peer.read(0, &mut check)?;
    println!("the peer's mapping shows the DRM buffer's bytes: {}", if check == *pixels { "identical" } else { "DIFFERENT" });
    peer.write(0, &0xfeed_f00du32.to_le_bytes())?;
    println!("a write through the grant mapping appears in the DRM buffer: {:#x}", u32::from_le_bytes(pixels[..4].try_into()?));
    println!("bytes copied to share the frame: 0");
    drop(peer);
    imported.release()?;

    // 4. Export needs an auto-translated domain; a PV dom0 is refused.
    match dev.dmabuf_export(DOM0, DmaFlags::NONE, pages.refs()) {
        Ok(_) => println!("dma-buf export works in this domain"),
        Err(e) => println!("dma-buf export refused here, as the kernel does in PV domains: {e}"),
    }
    let same = pixels[..4] == 0xfeed_f00du32.to_le_bytes() && check[4..] == pixels[4..];
    println!("demo {}", if same { "complete" } else { "FAILED" });
    if same { Ok(()) } else { Err("mismatch".into()) }
}

/// A vgem dumb buffer of `height` rows of `width` 32-bit pixels: its PRIME
/// fd, its mapping and its size.
fn vgem_buffer(height: u32, width: u32) -> R<(OwnedFd, *mut u8, usize)> {
    #[repr(C)]
    #[derive(Default)]
    struct CreateDumb { height: u32, width: u32, bpp: u32, flags: u32, handle: u32, pitch: u32, size: u64 }
    #[repr(C)]
    #[derive(Default)]
    struct MapDumb { handle: u32, pad: u32, offset: u64 }
    #[repr(C)]
    #[derive(Default)]
    struct Prime { handle: u32, flags: u32, fd: i32 }
    const fn iowr(nr: u64, size: usize) -> u64 {
        (3 << 30) | ((size as u64) << 16) | ((b'd' as u64) << 8) | nr
    }
    let card = OpenOptions::new().read(true).write(true).open("/dev/dri/card0")?;
    let mut c = CreateDumb { height, width, bpp: 32, ..Default::default() };
    let mut m = MapDumb::default();
    let mut p = Prime { flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32, ..Default::default() };
    // SAFETY: DRM ioctls with their uapi structs; the mapping is checked.
    unsafe {
        if libc::ioctl(card.as_raw_fd(), iowr(0xb2, size_of::<CreateDumb>()) as _, &mut c) != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        m.handle = c.handle;
        p.handle = c.handle;
        if libc::ioctl(card.as_raw_fd(), iowr(0xb3, size_of::<MapDumb>()) as _, &mut m) != 0
            || libc::ioctl(card.as_raw_fd(), iowr(0x2d, size_of::<Prime>()) as _, &mut p) != 0
        {
            return Err(std::io::Error::last_os_error().into());
        }
        let size = c.size as usize;
        let fb = libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, card.as_raw_fd(), m.offset as i64);
        if fb == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok((OwnedFd::from_raw_fd(p.fd), fb.cast(), size))
    }
}
