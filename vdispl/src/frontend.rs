//! The frontend side of the protocol, written for tests and for
//! `vdispl-hostile-frontend`: it shares its own rings, binds event channels,
//! writes the frontend's xenstore keys, sends requests (well-formed or not)
//! and reads responses and events. Generic over [`FrontPages`], so the same
//! code runs on gntshr + /dev/xen/evtchn in a guest and on in-memory fakes.

use std::time::{Duration, Instant};

use crate::mem::SharedMem;
use crate::protocol::{Event, Request, Response, PACKET_SIZE};
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

/// A frontend device (`/local/domain/<domid>/device/vdispl/<devid>`).
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
