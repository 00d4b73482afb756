//! The xenbus side: every `vdispl` device of every guest under the backend
//! root (`/local/domain/0/backend/vdispl/<domid>/<devid>`), its state
//! machine, connecting and closing, and servicing the connectors' rings.
//!
//! State machine (backend state written by us, frontend state read):
//! - new device (toolstack wrote state 1): write `versions` = "2", state 2;
//! - frontend 3 or 4 while we are 2: read the frontend's connectors, map the
//!   rings, bind the event channels, state 4; if anything is wrong, state 5
//!   (the device stays closed until the frontend goes back to 1);
//! - frontend 5 (Linux's `drm_xen_front` on removal waits for us to reach
//!   InitWait): tear down, state 2;
//! - frontend 6 or gone: tear down, state 6 if we were connected;
//! - frontend 1 (re-initialising, e.g. after our 6): tear down, state 2;
//! - toolstack `online` = 0 or state 5: tear down, state 6;
//! - backend node removed: tear down and forget the device.
//!
//! Everything a device does is reconciled from what xenstore says now, so
//! the same code handles start-up with devices already present, our own
//! writes coming back as watch events, and missed events.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::buffer::{Grants, Image};
use crate::display::{Config, Ctx, Display, FrameSink, Shared};
use crate::evtchn::EventChannels;
use crate::mem::SharedMem;
use crate::protocol::{Response, PROTOCOL_VERSION};
use crate::ring::{BackRing, EventRing};
use crate::xenstore::{XenStore, XsError};

pub const STATE_UNKNOWN: u32 = 0;
pub const STATE_INITIALISING: u32 = 1;
pub const STATE_INITWAIT: u32 = 2;
pub const STATE_INITIALISED: u32 = 3;
pub const STATE_CONNECTED: u32 = 4;
pub const STATE_CLOSING: u32 = 5;
pub const STATE_CLOSED: u32 = 6;

/// Most connectors one device may declare.
pub const MAX_CONNECTORS: usize = 16;
/// Requests taken from one ring before the others get a turn.
pub const REQUEST_BUDGET: usize = 64;

type Mem = Box<dyn SharedMem>;

struct ConnRings {
    req: BackRing<Mem>,
    evt: EventRing<Mem>,
    req_port: u32,
    evt_port: u32,
}

struct Connection {
    display: Display,
    rings: Vec<ConnRings>,
}

struct Device {
    domid: u32,
    devid: u32,
    be_path: String,
    fe_path: String,
    token: String,
    written: u32,
    conn: Option<Connection>,
}

impl Device {
    fn name(&self) -> String {
        format!("vdispl d{} v{}", self.domid, self.devid)
    }
}

/// Writes each captured frame as a PNG.
pub struct PngSink {
    pub dir: Option<PathBuf>,
    pub prefix: String,
}

impl FrameSink for PngSink {
    fn wants_frames(&self) -> bool {
        self.dir.is_some()
    }
    fn frame(&mut self, connector: usize, frame_no: u64, img: &Image) {
        let Some(dir) = &self.dir else { return };
        let path = dir.join(format!("{}-c{connector}-{frame_no:06}.png", self.prefix));
        let data = crate::png::encode(img.width, img.height, &img.rgba, img.has_alpha);
        if let Err(e) = std::fs::write(&path, data) {
            eprintln!("vdispl: writing {}: {e}", path.display());
        }
    }
}

fn parse_u32(s: Option<String>) -> Option<u32> {
    let s = s?;
    let s = s.trim_end_matches('\0');
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_resolution(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim_end_matches('\0').split_once('x')?;
    let (w, h) = (parse_u32(Some(w.into()))?, parse_u32(Some(h.into()))?);
    ((1..=8192).contains(&w) && (1..=8192).contains(&h)).then_some((w, h))
}

/// The backend.
pub struct Backend<'g, E: EventChannels> {
    pub xs: XenStore,
    grants: &'g dyn Grants,
    pub evtchn: E,
    pub cfg: Config,
    shared: Shared,
    out_dir: Option<PathBuf>,
    root: String,
    devices: BTreeMap<(u32, u32), Device>,
    ports: HashMap<u32, ((u32, u32), usize)>,
    busy: BTreeSet<((u32, u32), usize)>,
    start: Instant,
}

const ROOT_TOKEN: &str = "vdispl-backend";

impl<'g, E: EventChannels> Backend<'g, E> {
    pub fn new(xs: XenStore, grants: &'g dyn Grants, evtchn: E, cfg: Config, out_dir: Option<PathBuf>, root: &str) -> Self {
        let shared = Shared::new(&cfg);
        Backend {
            xs,
            grants,
            evtchn,
            cfg,
            shared,
            out_dir,
            root: root.trim_end_matches('/').to_string(),
            devices: BTreeMap::new(),
            ports: HashMap::new(),
            busy: BTreeSet::new(),
            start: Instant::now(),
        }
    }

    fn log(&self, who: &str, msg: &str) {
        eprintln!("[{:9.3}] {who}: {msg}", self.start.elapsed().as_secs_f64());
    }

    /// Watch the backend root (creating it so the watch has a node).
    pub fn start(&mut self) -> Result<(), XsError> {
        if self.xs.read(&self.root)?.is_none() {
            self.xs.mkdir(&self.root)?;
        }
        self.xs.watch(&self.root, ROOT_TOKEN)?;
        self.log("vdispl", &format!("watching {}", self.root));
        self.reconcile_all()
    }

    /// Devices known, with our last written state and whether connected.
    pub fn devices(&self) -> Vec<((u32, u32), u32, bool)> {
        self.devices.iter().map(|(k, d)| (*k, d.written, d.conn.is_some())).collect()
    }

    /// Handle queued watch events.
    pub fn on_xenstore(&mut self) -> Result<(), XsError> {
        let evs = self.xs.take_events();
        if evs.is_empty() {
            return Ok(());
        }
        let mut rescan = false;
        let mut devs = BTreeSet::new();
        for (_path, token) in evs {
            if token == ROOT_TOKEN {
                rescan = true;
            } else if let Some(rest) = token.strip_prefix("fe:") {
                if let Some((d, v)) = rest.split_once(':') {
                    if let (Ok(d), Ok(v)) = (d.parse(), v.parse()) {
                        devs.insert((d, v));
                    }
                }
            }
        }
        if rescan {
            return self.reconcile_all();
        }
        for k in devs {
            self.reconcile(k)?;
        }
        Ok(())
    }

    /// Rescan the backend root and reconcile every device.
    pub fn reconcile_all(&mut self) -> Result<(), XsError> {
        let mut seen = BTreeSet::new();
        for d in self.xs.directory(&self.root)? {
            let Some(domid) = parse_u32(Some(d.clone())) else { continue };
            for v in self.xs.directory(&format!("{}/{d}", self.root))? {
                let Some(devid) = parse_u32(Some(v)) else { continue };
                seen.insert((domid, devid));
            }
        }
        let gone: Vec<(u32, u32)> = self.devices.keys().filter(|k| !seen.contains(k)).copied().collect();
        for k in gone {
            self.forget(k)?;
        }
        for k in seen {
            if !self.devices.contains_key(&k) {
                self.add(k)?;
            }
            self.reconcile(k)?;
        }
        Ok(())
    }

    fn add(&mut self, (domid, devid): (u32, u32)) -> Result<(), XsError> {
        let be_path = format!("{}/{domid}/{devid}", self.root);
        let fe_path = self.xs.read(&format!("{be_path}/frontend"))?.unwrap_or_default();
        let fe_id = parse_u32(self.xs.read(&format!("{be_path}/frontend-id"))?);
        let token = format!("fe:{domid}:{devid}");
        let mut dev = Device { domid, devid, be_path, fe_path, token, written: 0, conn: None };
        if fe_id != Some(domid) || dev.fe_path.is_empty() {
            // not (yet) complete: the toolstack writes these first; a later
            // watch event brings us back
            self.log(&dev.name(), "backend node without frontend/frontend-id yet");
            dev.fe_path.clear();
        } else {
            self.xs.watch(&format!("{}/state", dev.fe_path), &dev.token)?;
            self.log(&dev.name(), &format!("new device, frontend {}", dev.fe_path));
        }
        self.devices.insert((domid, devid), dev);
        Ok(())
    }

    fn forget(&mut self, k: (u32, u32)) -> Result<(), XsError> {
        self.teardown(k);
        if let Some(dev) = self.devices.remove(&k) {
            self.log(&dev.name(), "backend node removed: device gone");
            if !dev.fe_path.is_empty() {
                let _ = self.xs.unwatch(&format!("{}/state", dev.fe_path), &dev.token);
            }
        }
        Ok(())
    }

    fn set_state(&mut self, k: (u32, u32), state: u32) -> Result<(), XsError> {
        let Some(dev) = self.devices.get_mut(&k) else { return Ok(()) };
        if state == STATE_INITWAIT {
            self.xs.write(&format!("{}/versions", dev.be_path), PROTOCOL_VERSION)?;
        }
        self.xs.write(&format!("{}/state", dev.be_path), &state.to_string())?;
        dev.written = state;
        let name = dev.name();
        self.log(&name, &format!("backend state {state}"));
        Ok(())
    }

    /// Bring one device in line with xenstore.
    pub fn reconcile(&mut self, k: (u32, u32)) -> Result<(), XsError> {
        let Some(dev) = self.devices.get(&k) else { return Ok(()) };
        if dev.fe_path.is_empty() {
            // retry reading frontend/frontend-id
            self.devices.remove(&k);
            self.add(k)?;
            if self.devices.get(&k).map_or(true, |d| d.fe_path.is_empty()) {
                return Ok(());
            }
        }
        let dev = &self.devices[&k];
        let (be_path, fe_path, written, connected) = (dev.be_path.clone(), dev.fe_path.clone(), dev.written, dev.conn.is_some());
        let Some(be_state) = parse_u32(self.xs.read(&format!("{be_path}/state"))?) else {
            return Ok(()); // being removed
        };
        let online = self.xs.read(&format!("{be_path}/online"))?.map_or(true, |v| v.trim_end_matches('\0') != "0");
        // a guest may make its own nodes unreadable: that reads as Unknown
        let fe_state = match self.xs.read(&format!("{fe_path}/state")) {
            Ok(v) => parse_u32(v).unwrap_or(STATE_UNKNOWN),
            Err(XsError::Daemon(_)) => STATE_UNKNOWN,
            Err(e) => return Err(e),
        };
        if !online || (be_state == STATE_CLOSING && written != STATE_CLOSING) {
            // the toolstack is removing the device
            self.teardown(k);
            if be_state != STATE_CLOSED {
                self.set_state(k, STATE_CLOSED)?;
            }
            return Ok(());
        }
        let mut be_state = be_state;
        match fe_state {
            STATE_INITIALISING => {
                if connected {
                    self.teardown(k);
                }
                if be_state != STATE_INITWAIT {
                    self.set_state(k, STATE_INITWAIT)?;
                }
            }
            STATE_INITIALISED | STATE_CONNECTED => {
                if be_state == STATE_INITIALISING {
                    self.set_state(k, STATE_INITWAIT)?;
                    be_state = STATE_INITWAIT;
                }
                if !connected && be_state == STATE_INITWAIT {
                    match self.connect(k) {
                        Ok(()) => {
                            self.set_state(k, STATE_CONNECTED)?;
                            let n = self.devices[&k].conn.as_ref().map_or(0, |c| c.rings.len());
                            for c in 0..n {
                                self.busy.insert((k, c));
                            }
                        }
                        Err(msg) => {
                            let name = self.devices[&k].name();
                            self.log(&name, &format!("cannot connect: {msg}"));
                            let _ = self.xs.write(&format!("{be_path}/error"), &msg);
                            self.set_state(k, STATE_CLOSING)?;
                        }
                    }
                }
            }
            STATE_CLOSING => {
                self.teardown(k);
                if be_state != STATE_INITWAIT {
                    self.set_state(k, STATE_INITWAIT)?;
                }
            }
            STATE_CLOSED | STATE_UNKNOWN => {
                self.teardown(k);
                if be_state == STATE_CONNECTED || be_state == STATE_CLOSING {
                    self.set_state(k, STATE_CLOSED)?;
                }
                if be_state == STATE_INITIALISING && fe_state == STATE_CLOSED {
                    self.set_state(k, STATE_INITWAIT)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn connect(&mut self, k: (u32, u32)) -> Result<(), String> {
        let dev = &self.devices[&k];
        let (domid, fe) = (dev.domid, dev.fe_path.clone());
        let rd = |xs: &mut XenStore, p: String| xs.read(&p).map_err(|e| format!("{p}: {e}"));
        let be_alloc = rd(&mut self.xs, format!("{fe}/be-alloc"))?.is_some_and(|v| v.trim_end_matches('\0') == "1");
        let mut res = Vec::new();
        for i in 0..=MAX_CONNECTORS {
            let Some(r) = rd(&mut self.xs, format!("{fe}/{i}/resolution"))? else { break };
            if i == MAX_CONNECTORS {
                return Err(format!("more than {MAX_CONNECTORS} connectors"));
            }
            res.push(parse_resolution(&r).ok_or(format!("connector {i}: bad resolution {r:?}"))?);
        }
        if res.is_empty() {
            return Err("no connectors".into());
        }
        let mut rings = Vec::new();
        let mut bound = Vec::new();
        let result = (|| -> Result<(), String> {
            for i in 0..res.len() {
                let num = |xs: &mut XenStore, key: &str| -> Result<u32, String> {
                    parse_u32(rd(xs, format!("{fe}/{i}/{key}"))?).ok_or(format!("connector {i}: missing or bad {key}"))
                };
                let req_ref = num(&mut self.xs, "req-ring-ref")?;
                let req_ch = num(&mut self.xs, "req-event-channel")?;
                let evt_ref = num(&mut self.xs, "evt-ring-ref")?;
                let evt_ch = num(&mut self.xs, "evt-event-channel")?;
                let req_mem = self.grants.map(domid, &[req_ref], true).map_err(|e| format!("connector {i}: request ring: {e}"))?;
                let evt_mem = self.grants.map(domid, &[evt_ref], true).map_err(|e| format!("connector {i}: event page: {e}"))?;
                let req = BackRing::new(req_mem).map_err(|e| e.to_string())?;
                let evt = EventRing::new(evt_mem).map_err(|e| e.to_string())?;
                let req_port = self.evtchn.bind_interdomain(domid, req_ch).map_err(|e| format!("connector {i}: bind {req_ch}: {e}"))?;
                bound.push(req_port);
                let evt_port = self.evtchn.bind_interdomain(domid, evt_ch).map_err(|e| format!("connector {i}: bind {evt_ch}: {e}"))?;
                bound.push(evt_port);
                rings.push(ConnRings { req, evt, req_port, evt_port });
            }
            Ok(())
        })();
        if let Err(e) = result {
            for p in bound {
                let _ = self.evtchn.unbind(p);
            }
            return Err(e);
        }
        let name = self.devices[&k].name();
        self.log(
            &name,
            &format!(
                "connected: {} connector(s) {}, be-alloc {}",
                res.len(),
                res.iter().map(|(w, h)| format!("{w}x{h}")).collect::<Vec<_>>().join(","),
                be_alloc as u8
            ),
        );
        for (i, r) in rings.iter().enumerate() {
            self.ports.insert(r.req_port, (k, i));
        }
        let dev = self.devices.get_mut(&k).expect("device");
        dev.conn = Some(Connection { display: Display::new(domid, be_alloc, &res), rings });
        Ok(())
    }

    fn teardown(&mut self, k: (u32, u32)) {
        let Some(dev) = self.devices.get_mut(&k) else { return };
        let Some(mut conn) = dev.conn.take() else { return };
        let name = dev.name();
        let mut log = |m: &str| eprintln!("{name}: {m}");
        conn.display.teardown(&self.cfg, &mut log);
        for r in &conn.rings {
            self.ports.remove(&r.req_port);
            let _ = self.evtchn.unbind(r.req_port);
            let _ = self.evtchn.unbind(r.evt_port);
        }
        self.busy.retain(|(d, _)| *d != k);
        self.log(&name, "disconnected, buffers released and unmapped");
    }

    /// Close one device after a protocol violation; the others go on.
    fn fail(&mut self, k: (u32, u32), why: &str) -> Result<(), XsError> {
        let name = self.devices.get(&k).map(|d| d.name()).unwrap_or_default();
        self.log(&name, &format!("protocol violation, closing the device: {why}"));
        self.teardown(k);
        if let Some(be) = self.devices.get(&k).map(|d| d.be_path.clone()) {
            let _ = self.xs.write(&format!("{be}/error"), why);
        }
        self.set_state(k, STATE_CLOSING)
    }

    /// Event channel ports that fired.
    pub fn on_ports(&mut self, ports: &[u32], now: Instant) -> Result<(), XsError> {
        for p in ports {
            if let Some(&(k, c)) = self.ports.get(p) {
                self.busy.insert((k, c));
            }
        }
        self.service(now)
    }

    /// Service every connector marked busy (woken, or with work left over).
    pub fn service(&mut self, now: Instant) -> Result<(), XsError> {
        let work: Vec<_> = std::mem::take(&mut self.busy).into_iter().collect();
        for (k, c) in work {
            match self.service_one(k, c, now) {
                Ok(true) => {
                    self.busy.insert((k, c));
                }
                Ok(false) => {}
                Err(why) => self.fail(k, &why)?,
            }
        }
        Ok(())
    }

    /// Returns whether requests are left for another turn.
    fn service_one(&mut self, k: (u32, u32), c: usize, now: Instant) -> Result<bool, String> {
        let Some(dev) = self.devices.get_mut(&k) else { return Ok(false) };
        let name = dev.name();
        let prefix = format!("d{}-v{}", dev.domid, dev.devid);
        let Some(conn) = dev.conn.as_mut() else { return Ok(false) };
        let Some(rings) = conn.rings.get_mut(c) else { return Ok(false) };
        let mut sink = PngSink { dir: self.out_dir.clone(), prefix };
        let start = self.start;
        let mut log = |m: &str| eprintln!("[{:9.3}] {name}: {m}", start.elapsed().as_secs_f64());
        let mut ctx = Ctx { grants: self.grants, sink: &mut sink, log: &mut log, cfg: &self.cfg, shared: &mut self.shared };
        let mut notify = false;
        let mut more = false;
        for n in 0.. {
            if n == REQUEST_BUDGET {
                more = true;
                break;
            }
            match rings.req.next_request().map_err(|e| e.to_string())? {
                Some(req) => {
                    let resp: Response = conn.display.handle(c, &req, now, &mut ctx);
                    notify |= rings.req.push_response(&resp).map_err(|e| e.to_string())?;
                }
                None => {
                    if !rings.req.final_check().map_err(|e| e.to_string())? {
                        break;
                    }
                }
            }
        }
        if notify {
            let _ = self.evtchn.notify(rings.req_port);
        }
        Ok(more)
    }

    /// Send due flip-done events and print statistics.
    pub fn tick(&mut self, now: Instant) -> Result<(), XsError> {
        let mut failed = Vec::new();
        let mut lines = Vec::new();
        for (k, dev) in self.devices.iter_mut() {
            let name = dev.name();
            let Some(conn) = dev.conn.as_mut() else { continue };
            for (c, rings) in conn.rings.iter_mut().enumerate() {
                let con = &mut conn.display.connectors[c];
                let mut sent = false;
                while let Some(p) = con.due(now) {
                    match rings.evt.push_pg_flip(p.fb_cookie) {
                        Ok(true) => {
                            con.flip_done(now);
                            sent = true;
                        }
                        Ok(false) => break, // page full: retry next tick
                        Err(e) => {
                            failed.push((*k, e.to_string()));
                            break;
                        }
                    }
                }
                if sent {
                    let _ = self.evtchn.notify(rings.evt_port);
                }
                if let Some(l) = con.stats_line(now) {
                    lines.push((name.clone(), l));
                }
            }
        }
        for (n, l) in lines {
            self.log(&n, &l);
        }
        for (k, why) in failed {
            self.fail(k, &why)?;
        }
        Ok(())
    }

    /// How long the event loop may sleep.
    pub fn timeout(&self, now: Instant) -> Duration {
        if !self.busy.is_empty() || self.xs.has_events() {
            return Duration::ZERO;
        }
        let mut t = Duration::from_millis(500);
        for dev in self.devices.values() {
            if let Some(conn) = &dev.conn {
                if let Some(due) = conn.display.next_due() {
                    // a full event page is retried every few ms
                    t = t.min(due.saturating_duration_since(now).max(Duration::from_millis(1)));
                }
            }
        }
        t
    }

    /// Event channel ports we listen on (for tests and diagnostics).
    pub fn ports(&self) -> Vec<u32> {
        self.ports.keys().copied().collect()
    }

    /// Tear everything down (on exit): buffers released, rings unmapped,
    /// ports unbound, our devices left in state 6.
    pub fn shutdown(&mut self) {
        let keys: Vec<_> = self.devices.keys().copied().collect();
        for k in keys {
            let connected = self.devices[&k].conn.is_some();
            self.teardown(k);
            if connected {
                let _ = self.set_state(k, STATE_CLOSED);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_untrusted_numbers() {
        assert_eq!(parse_u32(Some("42".into())), Some(42));
        assert_eq!(parse_u32(Some("4294967295".into())), Some(u32::MAX));
        for bad in ["", "-1", "4294967296", "0x10", " 1", "1 ", "99999999999999999999"] {
            assert_eq!(parse_u32(Some(bad.into())), None, "{bad:?}");
        }
        assert_eq!(parse_resolution("1024x768"), Some((1024, 768)));
        for bad in ["1024", "0x768", "1024x0", "x", "99999x1", "1024x768x1", "-1x2"] {
            assert_eq!(parse_resolution(bad), None, "{bad:?}");
        }
    }
}
