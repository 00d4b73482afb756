//! Xen's display protocol (`xen/io/displif.h`, protocol version 2): request,
//! response and event packets, decoded from and encoded to their 64-byte wire
//! form with explicit little-endian offsets (no `unsafe`, no trust in the
//! guest's bytes). `tests/layout.rs` checks every offset and size here against
//! the C header.

/// What the backend writes to `versions`.
pub const PROTOCOL_VERSION: &str = "2";

/// Every request, response and event is 64 bytes.
pub const PACKET_SIZE: usize = 64;

pub const OP_DBUF_CREATE: u8 = 0x10;
pub const OP_DBUF_DESTROY: u8 = 0x11;
pub const OP_FB_ATTACH: u8 = 0x12;
pub const OP_FB_DETACH: u8 = 0x13;
pub const OP_SET_CONFIG: u8 = 0x14;
pub const OP_PG_FLIP: u8 = 0x15;
pub const OP_GET_EDID: u8 = 0x16;

pub const EVT_PG_FLIP: u8 = 0x00;

pub const DBUF_FLG_REQ_ALLOC: u32 = 1 << 0;

pub const EDID_BLOCK_SIZE: u32 = 128;
pub const EDID_MAX_SIZE: u32 = 128 * 256;

/// Xen page size; all page counts in the protocol are in these.
pub const XEN_PAGE_SIZE: usize = 4096;

/// Status codes: 0 or `-XEN_Exxx` (Xen's errno values equal Linux's for these).
pub mod status {
    pub const OK: i32 = 0;
    pub const ENOENT: i32 = -2;
    pub const EIO: i32 = -5;
    pub const E2BIG: i32 = -7;
    pub const ENOMEM: i32 = -12;
    pub const EBUSY: i32 = -16;
    pub const EEXIST: i32 = -17;
    pub const EINVAL: i32 = -22;
    pub const ENOSYS: i32 = -38;
    pub const EOPNOTSUPP: i32 = -95;
}

/// Byte offsets inside the packets, as `offsetof` gives them for the C
/// structs (checked by `tests/layout.rs`).
pub mod off {
    // struct xendispl_req
    pub const REQ_ID: usize = 0;
    pub const REQ_OPERATION: usize = 2;
    pub const REQ_OP: usize = 8;
    // union members, relative to the packet start
    pub const DBUF_CREATE_COOKIE: usize = 8;
    pub const DBUF_CREATE_WIDTH: usize = 16;
    pub const DBUF_CREATE_HEIGHT: usize = 20;
    pub const DBUF_CREATE_BPP: usize = 24;
    pub const DBUF_CREATE_BUFFER_SZ: usize = 28;
    pub const DBUF_CREATE_FLAGS: usize = 32;
    pub const DBUF_CREATE_GREF_DIRECTORY: usize = 36;
    pub const DBUF_CREATE_DATA_OFS: usize = 40;
    pub const DBUF_DESTROY_COOKIE: usize = 8;
    pub const FB_ATTACH_DBUF_COOKIE: usize = 8;
    pub const FB_ATTACH_FB_COOKIE: usize = 16;
    pub const FB_ATTACH_WIDTH: usize = 24;
    pub const FB_ATTACH_HEIGHT: usize = 28;
    pub const FB_ATTACH_PIXEL_FORMAT: usize = 32;
    pub const FB_DETACH_COOKIE: usize = 8;
    pub const SET_CONFIG_FB_COOKIE: usize = 8;
    pub const SET_CONFIG_X: usize = 16;
    pub const SET_CONFIG_Y: usize = 20;
    pub const SET_CONFIG_WIDTH: usize = 24;
    pub const SET_CONFIG_HEIGHT: usize = 28;
    pub const SET_CONFIG_BPP: usize = 32;
    pub const PG_FLIP_COOKIE: usize = 8;
    pub const GET_EDID_BUFFER_SZ: usize = 8;
    pub const GET_EDID_GREF_DIRECTORY: usize = 12;
    // struct xendispl_resp
    pub const RESP_ID: usize = 0;
    pub const RESP_OPERATION: usize = 2;
    pub const RESP_STATUS: usize = 4;
    pub const RESP_EDID_SZ: usize = 8;
    // struct xendispl_evt
    pub const EVT_ID: usize = 0;
    pub const EVT_TYPE: usize = 2;
    pub const EVT_PG_FLIP_COOKIE: usize = 8;
    // struct xendispl_event_page
    pub const EVPAGE_IN_CONS: usize = 0;
    pub const EVPAGE_IN_PROD: usize = 4;
    /// XENDISPL_IN_RING_OFFS
    pub const EVPAGE_RING: usize = 64;
    // struct xen_displif_sring (DEFINE_RING_TYPES)
    pub const SRING_REQ_PROD: usize = 0;
    pub const SRING_REQ_EVENT: usize = 4;
    pub const SRING_RSP_PROD: usize = 8;
    pub const SRING_RSP_EVENT: usize = 12;
    pub const SRING_RING: usize = 64;
    // struct xendispl_page_directory
    pub const PGDIR_NEXT: usize = 0;
    pub const PGDIR_GREF: usize = 4;
}

/// `XENDISPL_IN_RING_LEN`: events in the event page.
pub const EVT_RING_LEN: u32 = ((XEN_PAGE_SIZE - off::EVPAGE_RING) / PACKET_SIZE) as u32;
/// `__CONST_RING_SIZE(xen_displif, 4096)`: the largest power of two of
/// 64-byte entries fitting after the 64-byte header.
pub const REQ_RING_SIZE: u32 = {
    let n = ((XEN_PAGE_SIZE - off::SRING_RING) / PACKET_SIZE) as u32;
    1 << (31 - n.leading_zeros())
};
/// Grant refs in one page of a page directory.
pub const GREFS_PER_DIR_PAGE: usize = (XEN_PAGE_SIZE - off::PGDIR_GREF) / 4;

fn u16_at(b: &[u8; PACKET_SIZE], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8; PACKET_SIZE], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8; PACKET_SIZE], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}

/// A decoded request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    DbufCreate { dbuf_cookie: u64, width: u32, height: u32, bpp: u32, buffer_sz: u32, flags: u32, gref_directory: u32, data_ofs: u32 },
    DbufDestroy { dbuf_cookie: u64 },
    FbAttach { dbuf_cookie: u64, fb_cookie: u64, width: u32, height: u32, pixel_format: u32 },
    FbDetach { fb_cookie: u64 },
    SetConfig { fb_cookie: u64, x: u32, y: u32, width: u32, height: u32, bpp: u32 },
    PgFlip { fb_cookie: u64 },
    GetEdid { buffer_sz: u32, gref_directory: u32 },
    /// An operation code this protocol version does not define.
    Unknown(u8),
}

/// A request as read (once) from the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub id: u16,
    pub operation: u8,
    pub op: Op,
}

impl Request {
    /// Decode a packet. Every bit pattern decodes to something; validation
    /// of the values is the caller's job.
    pub fn decode(b: &[u8; PACKET_SIZE]) -> Request {
        use off::*;
        let operation = b[REQ_OPERATION];
        let op = match operation {
            OP_DBUF_CREATE => Op::DbufCreate {
                dbuf_cookie: u64_at(b, DBUF_CREATE_COOKIE),
                width: u32_at(b, DBUF_CREATE_WIDTH),
                height: u32_at(b, DBUF_CREATE_HEIGHT),
                bpp: u32_at(b, DBUF_CREATE_BPP),
                buffer_sz: u32_at(b, DBUF_CREATE_BUFFER_SZ),
                flags: u32_at(b, DBUF_CREATE_FLAGS),
                gref_directory: u32_at(b, DBUF_CREATE_GREF_DIRECTORY),
                data_ofs: u32_at(b, DBUF_CREATE_DATA_OFS),
            },
            OP_DBUF_DESTROY => Op::DbufDestroy { dbuf_cookie: u64_at(b, DBUF_DESTROY_COOKIE) },
            OP_FB_ATTACH => Op::FbAttach {
                dbuf_cookie: u64_at(b, FB_ATTACH_DBUF_COOKIE),
                fb_cookie: u64_at(b, FB_ATTACH_FB_COOKIE),
                width: u32_at(b, FB_ATTACH_WIDTH),
                height: u32_at(b, FB_ATTACH_HEIGHT),
                pixel_format: u32_at(b, FB_ATTACH_PIXEL_FORMAT),
            },
            OP_FB_DETACH => Op::FbDetach { fb_cookie: u64_at(b, FB_DETACH_COOKIE) },
            OP_SET_CONFIG => Op::SetConfig {
                fb_cookie: u64_at(b, SET_CONFIG_FB_COOKIE),
                x: u32_at(b, SET_CONFIG_X),
                y: u32_at(b, SET_CONFIG_Y),
                width: u32_at(b, SET_CONFIG_WIDTH),
                height: u32_at(b, SET_CONFIG_HEIGHT),
                bpp: u32_at(b, SET_CONFIG_BPP),
            },
            OP_PG_FLIP => Op::PgFlip { fb_cookie: u64_at(b, PG_FLIP_COOKIE) },
            OP_GET_EDID => Op::GetEdid { buffer_sz: u32_at(b, GET_EDID_BUFFER_SZ), gref_directory: u32_at(b, GET_EDID_GREF_DIRECTORY) },
            other => Op::Unknown(other),
        };
        Request { id: u16_at(b, REQ_ID), operation, op }
    }

    /// Encode (used by the test frontends).
    pub fn encode(&self) -> [u8; PACKET_SIZE] {
        use off::*;
        let mut b = [0u8; PACKET_SIZE];
        let put32 = |b: &mut [u8; PACKET_SIZE], o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        let put64 = |b: &mut [u8; PACKET_SIZE], o: usize, v: u64| b[o..o + 8].copy_from_slice(&v.to_le_bytes());
        b[REQ_ID..REQ_ID + 2].copy_from_slice(&self.id.to_le_bytes());
        b[REQ_OPERATION] = self.operation;
        match self.op {
            Op::DbufCreate { dbuf_cookie, width, height, bpp, buffer_sz, flags, gref_directory, data_ofs } => {
                put64(&mut b, DBUF_CREATE_COOKIE, dbuf_cookie);
                put32(&mut b, DBUF_CREATE_WIDTH, width);
                put32(&mut b, DBUF_CREATE_HEIGHT, height);
                put32(&mut b, DBUF_CREATE_BPP, bpp);
                put32(&mut b, DBUF_CREATE_BUFFER_SZ, buffer_sz);
                put32(&mut b, DBUF_CREATE_FLAGS, flags);
                put32(&mut b, DBUF_CREATE_GREF_DIRECTORY, gref_directory);
                put32(&mut b, DBUF_CREATE_DATA_OFS, data_ofs);
            }
            Op::DbufDestroy { dbuf_cookie } => put64(&mut b, DBUF_DESTROY_COOKIE, dbuf_cookie),
            Op::FbAttach { dbuf_cookie, fb_cookie, width, height, pixel_format } => {
                put64(&mut b, FB_ATTACH_DBUF_COOKIE, dbuf_cookie);
                put64(&mut b, FB_ATTACH_FB_COOKIE, fb_cookie);
                put32(&mut b, FB_ATTACH_WIDTH, width);
                put32(&mut b, FB_ATTACH_HEIGHT, height);
                put32(&mut b, FB_ATTACH_PIXEL_FORMAT, pixel_format);
            }
            Op::FbDetach { fb_cookie } => put64(&mut b, FB_DETACH_COOKIE, fb_cookie),
            Op::SetConfig { fb_cookie, x, y, width, height, bpp } => {
                put64(&mut b, SET_CONFIG_FB_COOKIE, fb_cookie);
                put32(&mut b, SET_CONFIG_X, x);
                put32(&mut b, SET_CONFIG_Y, y);
                put32(&mut b, SET_CONFIG_WIDTH, width);
                put32(&mut b, SET_CONFIG_HEIGHT, height);
                put32(&mut b, SET_CONFIG_BPP, bpp);
            }
            Op::PgFlip { fb_cookie } => put64(&mut b, PG_FLIP_COOKIE, fb_cookie),
            Op::GetEdid { buffer_sz, gref_directory } => {
                put32(&mut b, GET_EDID_BUFFER_SZ, buffer_sz);
                put32(&mut b, GET_EDID_GREF_DIRECTORY, gref_directory);
            }
            Op::Unknown(_) => {}
        }
        b
    }

    /// Build a request with the operation code matching `op`.
    pub fn new(id: u16, op: Op) -> Request {
        let operation = match op {
            Op::DbufCreate { .. } => OP_DBUF_CREATE,
            Op::DbufDestroy { .. } => OP_DBUF_DESTROY,
            Op::FbAttach { .. } => OP_FB_ATTACH,
            Op::FbDetach { .. } => OP_FB_DETACH,
            Op::SetConfig { .. } => OP_SET_CONFIG,
            Op::PgFlip { .. } => OP_PG_FLIP,
            Op::GetEdid { .. } => OP_GET_EDID,
            Op::Unknown(o) => o,
        };
        Request { id, operation, op }
    }
}

/// A response: echoes the request's `id` and `operation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub operation: u8,
    pub status: i32,
    /// Only for GET_EDID.
    pub edid_sz: u32,
}

impl Response {
    pub fn to(req: &Request, status: i32) -> Response {
        Response { id: req.id, operation: req.operation, status, edid_sz: 0 }
    }

    pub fn encode(&self) -> [u8; PACKET_SIZE] {
        let mut b = [0u8; PACKET_SIZE];
        b[off::RESP_ID..off::RESP_ID + 2].copy_from_slice(&self.id.to_le_bytes());
        b[off::RESP_OPERATION] = self.operation;
        b[off::RESP_STATUS..off::RESP_STATUS + 4].copy_from_slice(&self.status.to_le_bytes());
        b[off::RESP_EDID_SZ..off::RESP_EDID_SZ + 4].copy_from_slice(&self.edid_sz.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; PACKET_SIZE]) -> Response {
        Response {
            id: u16_at(b, off::RESP_ID),
            operation: b[off::RESP_OPERATION],
            status: u32_at(b, off::RESP_STATUS) as i32,
            edid_sz: u32_at(b, off::RESP_EDID_SZ),
        }
    }
}

/// An event on the event page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: u16,
    pub kind: u8,
    pub fb_cookie: u64,
}

impl Event {
    pub fn pg_flip(id: u16, fb_cookie: u64) -> Event {
        Event { id, kind: EVT_PG_FLIP, fb_cookie }
    }

    pub fn encode(&self) -> [u8; PACKET_SIZE] {
        let mut b = [0u8; PACKET_SIZE];
        b[off::EVT_ID..off::EVT_ID + 2].copy_from_slice(&self.id.to_le_bytes());
        b[off::EVT_TYPE] = self.kind;
        b[off::EVT_PG_FLIP_COOKIE..off::EVT_PG_FLIP_COOKIE + 8].copy_from_slice(&self.fb_cookie.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; PACKET_SIZE]) -> Event {
        Event { id: u16_at(b, off::EVT_ID), kind: b[off::EVT_TYPE], fb_cookie: u64_at(b, off::EVT_PG_FLIP_COOKIE) }
    }
}

/// Pixel formats (DRM fourcc codes, as `FB_ATTACH` carries them) that the
/// backend converts for capture. The first three are required; the rest are
/// what Linux's `drm_xen_front` also offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    Xrgb8888,
    Argb8888,
    Rgb565,
    Rgb888,
    Xrgb1555,
    Argb1555,
    Xrgb4444,
    Argb4444,
}

const fn fourcc(s: &[u8; 4]) -> u32 {
    (s[0] as u32) | (s[1] as u32) << 8 | (s[2] as u32) << 16 | (s[3] as u32) << 24
}

impl PixelFormat {
    pub const ALL: [PixelFormat; 8] = [
        PixelFormat::Xrgb8888,
        PixelFormat::Argb8888,
        PixelFormat::Rgb565,
        PixelFormat::Rgb888,
        PixelFormat::Xrgb1555,
        PixelFormat::Argb1555,
        PixelFormat::Xrgb4444,
        PixelFormat::Argb4444,
    ];

    pub const fn fourcc(self) -> u32 {
        match self {
            PixelFormat::Xrgb8888 => fourcc(b"XR24"),
            PixelFormat::Argb8888 => fourcc(b"AR24"),
            PixelFormat::Rgb565 => fourcc(b"RG16"),
            PixelFormat::Rgb888 => fourcc(b"RG24"),
            PixelFormat::Xrgb1555 => fourcc(b"XR15"),
            PixelFormat::Argb1555 => fourcc(b"AR15"),
            PixelFormat::Xrgb4444 => fourcc(b"XR12"),
            PixelFormat::Argb4444 => fourcc(b"AR12"),
        }
    }

    pub fn from_fourcc(code: u32) -> Option<PixelFormat> {
        PixelFormat::ALL.into_iter().find(|f| f.fourcc() == code)
    }

    pub const fn bpp(self) -> u32 {
        match self {
            PixelFormat::Xrgb8888 | PixelFormat::Argb8888 => 32,
            PixelFormat::Rgb888 => 24,
            _ => 16,
        }
    }

    pub const fn has_alpha(self) -> bool {
        matches!(self, PixelFormat::Argb8888 | PixelFormat::Argb1555 | PixelFormat::Argb4444)
    }

    /// One pixel (little-endian, as DRM defines these formats) to RGBA8.
    pub fn to_rgba(self, p: &[u8]) -> [u8; 4] {
        let x5 = |v: u32| ((v << 3) | (v >> 2)) as u8;
        let x6 = |v: u32| ((v << 2) | (v >> 4)) as u8;
        let x4 = |v: u32| ((v << 4) | v) as u8;
        match self {
            PixelFormat::Xrgb8888 => [p[2], p[1], p[0], 255],
            PixelFormat::Argb8888 => [p[2], p[1], p[0], p[3]],
            PixelFormat::Rgb888 => [p[2], p[1], p[0], 255],
            PixelFormat::Rgb565 => {
                let v = u16::from_le_bytes([p[0], p[1]]) as u32;
                [x5(v >> 11), x6((v >> 5) & 0x3f), x5(v & 0x1f), 255]
            }
            PixelFormat::Xrgb1555 | PixelFormat::Argb1555 => {
                let v = u16::from_le_bytes([p[0], p[1]]) as u32;
                let a = if self == PixelFormat::Argb1555 && v & 0x8000 == 0 { 0 } else { 255 };
                [x5((v >> 10) & 0x1f), x5((v >> 5) & 0x1f), x5(v & 0x1f), a]
            }
            PixelFormat::Xrgb4444 | PixelFormat::Argb4444 => {
                let v = u16::from_le_bytes([p[0], p[1]]) as u32;
                let a = if self == PixelFormat::Argb4444 { x4(v >> 12) } else { 255 };
                [x4((v >> 8) & 0xf), x4((v >> 4) & 0xf), x4(v & 0xf), a]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(REQ_RING_SIZE, 32);
        assert_eq!(EVT_RING_LEN, 63);
        assert_eq!(GREFS_PER_DIR_PAGE, 1023);
    }

    #[test]
    fn request_roundtrip_every_op() {
        let ops = [
            Op::DbufCreate { dbuf_cookie: 0xffff_8880_1234_5678, width: 1024, height: 768, bpp: 32, buffer_sz: 3 << 20, flags: 1, gref_directory: 77, data_ofs: 0 },
            Op::DbufDestroy { dbuf_cookie: 9 },
            Op::FbAttach { dbuf_cookie: 1, fb_cookie: 2, width: 3, height: 4, pixel_format: PixelFormat::Rgb565.fourcc() },
            Op::FbDetach { fb_cookie: u64::MAX },
            Op::SetConfig { fb_cookie: 5, x: 1, y: 2, width: 3, height: 4, bpp: 32 },
            Op::PgFlip { fb_cookie: 6 },
            Op::GetEdid { buffer_sz: EDID_MAX_SIZE, gref_directory: 8 },
            Op::Unknown(0x42),
        ];
        for (i, op) in ops.into_iter().enumerate() {
            let r = Request::new(i as u16 * 1000, op);
            assert_eq!(Request::decode(&r.encode()), r);
        }
    }

    #[test]
    fn response_echoes_id_and_operation() {
        let r = Request::new(0xbeef, Op::PgFlip { fb_cookie: 1 });
        let resp = Response::to(&r, status::EINVAL);
        let b = resp.encode();
        assert_eq!(&b[0..2], &0xbeefu16.to_le_bytes());
        assert_eq!(b[2], OP_PG_FLIP);
        assert_eq!(Response::decode(&b), resp);
        assert_eq!(i32::from_le_bytes(b[4..8].try_into().unwrap()), -22);
    }

    #[test]
    fn fourccs() {
        assert_eq!(PixelFormat::Xrgb8888.fourcc(), 0x3432_5258);
        assert_eq!(PixelFormat::Argb8888.fourcc(), 0x3432_5241);
        assert_eq!(PixelFormat::Rgb565.fourcc(), 0x3631_4752);
        assert_eq!(PixelFormat::from_fourcc(0x3631_4752), Some(PixelFormat::Rgb565));
        assert_eq!(PixelFormat::from_fourcc(0), None);
    }

    #[test]
    fn pixel_conversion() {
        assert_eq!(PixelFormat::Xrgb8888.to_rgba(&[1, 2, 3, 0]), [3, 2, 1, 255]);
        assert_eq!(PixelFormat::Argb8888.to_rgba(&[1, 2, 3, 4]), [3, 2, 1, 4]);
        assert_eq!(PixelFormat::Rgb565.to_rgba(&0xf800u16.to_le_bytes()), [255, 0, 0, 255]);
        assert_eq!(PixelFormat::Rgb565.to_rgba(&0x07e0u16.to_le_bytes()), [0, 255, 0, 255]);
        assert_eq!(PixelFormat::Rgb565.to_rgba(&0x001fu16.to_le_bytes()), [0, 0, 255, 255]);
        assert_eq!(PixelFormat::Argb4444.to_rgba(&0x8f00u16.to_le_bytes()), [255, 0, 0, 0x88]);
        assert_eq!(PixelFormat::Argb1555.to_rgba(&0x7c00u16.to_le_bytes()), [255, 0, 0, 0]);
    }
}
