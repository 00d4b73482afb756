//! The frontend side of the protocol, written for tests and for
//! `vdispl-hostile-frontend`: it shares its own rings, binds event channels,
//! writes the frontend's xenstore keys, sends requests (well-formed or not)
//! and reads responses and events. Generic over [`FrontPages`], so the same
//! code runs on gntshr + /dev/xen/evtchn in a guest and on in-memory fakes.

use std::time::{Duration, Instant};

use crate::mem::SharedMem;
use crate::protocol::{Event, Op, Request, Response, PACKET_SIZE};
use crate::ring::front::{take_events, FrontRing};
use crate::xenstore::{XenStore, XsError};

/// What a frontend needs from its domain.
pub trait FrontPages {
    /// Grant one zeroed page to the backend domain.
    fn grant_page(&mut self) -> Result<(u32, Box<dyn SharedMem>), String>;
    /// Grant `n` pages; returns refs and one contiguous view.
    fn grant_pages(&mut self, n: usize) -> Result<(Vec<u32>, Box<dyn SharedMem>), String>;
    /// An unbound event channel port the backend may bind to.
    fn alloc_port(&mut self) -> Result<u32, String>;
    fn notify(&mut self, port: u32);
}

pub struct FrontConnector {
    pub ring: FrontRing<Box<dyn SharedMem>>,
    pub evt: Box<dyn SharedMem>,
    pub req_port: u32,
    pub evt_port: u32,
    pub req_ref: u32,
    pub evt_ref: u32,
}

impl std::fmt::Debug for FrontConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontConnector").field("ring", &self.ring).field("req_port", &self.req_port).field("evt_port", &self.evt_port).finish()
    }
}

/// A frontend device (`/local/domain/<domid>/device/vdispl/<devid>`).
#[derive(Debug)]
pub struct Frontend {
    pub path: String,
    pub conns: Vec<FrontConnector>,
    next_id: u16,
}

impl Frontend {
    /// Share rings and ports for each connector, write the keys; the caller
    /// then sets the state.
    pub fn setup(xs: &mut XenStore, path: &str, resolutions: &[(u32, u32)], pages: &mut dyn FrontPages) -> Result<Frontend, String> {
        let mut conns = Vec::new();
        for (i, (w, h)) in resolutions.iter().enumerate() {
            let (req_ref, req_mem) = pages.grant_page()?;
            let (evt_ref, evt) = pages.grant_page()?;
            let ring = FrontRing::init(req_mem).map_err(|e| e.to_string())?;
            let req_port = pages.alloc_port()?;
            let evt_port = pages.alloc_port()?;
            let w_ = |xs: &mut XenStore, k: &str, v: String| xs.write(&format!("{path}/{i}/{k}"), &v).map_err(|e| e.to_string());
            // The toolstack writes `resolution` (libxl makes it read-only to the
            // guest: writing it gives EACCES); write it only where nobody did
            // (the in-memory xenstored of the tests).
            let res_key = format!("{path}/{i}/resolution");
            if xs.read(&res_key).map_err(|e| e.to_string())?.is_none() {
                w_(xs, "resolution", format!("{w}x{h}"))?;
            }
            w_(xs, "req-ring-ref", req_ref.to_string())?;
            w_(xs, "req-event-channel", req_port.to_string())?;
            w_(xs, "evt-ring-ref", evt_ref.to_string())?;
            w_(xs, "evt-event-channel", evt_port.to_string())?;
            conns.push(FrontConnector { ring, evt, req_port, evt_port, req_ref, evt_ref });
        }
        Ok(Frontend { path: path.to_string(), conns, next_id: 0 })
    }

    pub fn set_state(&self, xs: &mut XenStore, state: u32) -> Result<(), XsError> {
        xs.write(&format!("{}/state", self.path), &state.to_string())
    }

    /// Send a request on connector `c`; returns its id.
    pub fn send(&mut self, c: usize, op: crate::protocol::Op, pages: &mut dyn FrontPages) -> u16 {
        self.next_id = self.next_id.wrapping_add(1);
        let req = Request::new(self.next_id, op);
        let conn = &mut self.conns[c];
        conn.ring.push(&req).expect("ring page");
        pages.notify(conn.req_port);
        req.id
    }

    /// Send raw bytes as a request.
    pub fn send_raw(&mut self, c: usize, b: &[u8; PACKET_SIZE], pages: &mut dyn FrontPages) {
        let conn = &mut self.conns[c];
        conn.ring.push_raw(b).expect("ring page");
        pages.notify(conn.req_port);
    }

    /// Responses so far on connector `c`.
    pub fn responses(&mut self, c: usize) -> Vec<Response> {
        self.conns[c].ring.responses().unwrap_or_default()
    }

    /// Wait (polling, with `step` run between polls) for the response to `id`.
    pub fn wait_response(&mut self, c: usize, id: u16, timeout: Duration, mut step: impl FnMut()) -> Option<Response> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(r) = self.responses(c).into_iter().find(|r| r.id == id) {
                return Some(r);
            }
            if Instant::now() > end {
                return None;
            }
            step();
        }
    }

    pub fn events(&mut self, c: usize) -> Vec<Event> {
        take_events(&self.conns[c].evt).unwrap_or_default()
    }
}

/// Write a page directory for `refs` into directory pages (frontend
/// allocation), chained. Returns the first directory ref.
pub fn write_directory(refs: &[u32], pages: &mut dyn FrontPages) -> Result<(u32, Vec<Box<dyn SharedMem>>), String> {
    let per = crate::protocol::GREFS_PER_DIR_PAGE;
    let n = refs.len().div_ceil(per).max(1);
    let mut dirs = Vec::new();
    for _ in 0..n {
        dirs.push(pages.grant_page()?);
    }
    for i in 0..n {
        let next = dirs.get(i + 1).map_or(0, |d| d.0);
        dirs[i].1.store_u32(0, next).map_err(|e| e.to_string())?;
        let chunk: Vec<u8> = refs.iter().skip(i * per).take(per).flat_map(|r| r.to_le_bytes()).collect();
        dirs[i].1.write_at(4, &chunk).map_err(|e| e.to_string())?;
    }
    let first = dirs[0].0;
    Ok((first, dirs.into_iter().map(|d| d.1).collect()))
}

/// Requests a correct backend answers with an error status and survives, as
/// a hostile frontend sends them: unknown operations, impossible sizes, a
/// zero cookie, an unknown format or flags, a directory that is `unknown_ref`
/// (a reference nobody granted), and operations on objects that do not exist.
/// Used by `vdispl-hostile-frontend` in a real guest and by the backend
/// simulation test, which adds its own cases.
pub fn malformed_requests(unknown_ref: u32) -> Vec<Op> {
    let dbuf = |dbuf_cookie, bpp, flags, gref_directory, data_ofs| Op::DbufCreate {
        dbuf_cookie,
        width: 16,
        height: 16,
        bpp,
        buffer_sz: 1024,
        flags,
        gref_directory,
        data_ofs,
    };
    vec![
        Op::Unknown(0),
        Op::Unknown(0xff),
        Op::DbufCreate { dbuf_cookie: 1, width: u32::MAX, height: u32::MAX, bpp: 32, buffer_sz: u32::MAX, flags: 0, gref_directory: 1, data_ofs: 0 },
        dbuf(1, 32, 0, unknown_ref, 0),
        dbuf(0, 32, 0, 1, 0),
        dbuf(1, 7, 0, 1, 0),
        dbuf(1, 32, 0xff, 1, 0),
        dbuf(1, 32, 0, 1, u32::MAX),
        Op::FbAttach { dbuf_cookie: 7, fb_cookie: 8, width: 1, height: 1, pixel_format: 0 },
        Op::SetConfig { fb_cookie: 8, x: 0, y: 0, width: 1, height: 1, bpp: 32 },
        Op::PgFlip { fb_cookie: 8 },
        Op::DbufDestroy { dbuf_cookie: 1 },
        Op::FbDetach { fb_cookie: 1 },
        Op::GetEdid { buffer_sz: u32::MAX, gref_directory: 0 },
    ]
}
