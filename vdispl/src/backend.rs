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
use std::time::Instant;

use crate::buffer::Grants;
use crate::capture::Capture;
use crate::display::{Config, Ctx, Display, Shared};
use crate::evtchn::EventChannels;
use crate::mem::SharedMem;
use crate::protocol::PROTOCOL_VERSION;
use crate::ring::{BackRing, EventRing};
use crate::screen::{Owner, Screen};
use crate::toolstack::{parse_resolution, parse_u32, read_trusted, Trust};
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

type Mem = Box<dyn SharedMem>;

pub(crate) struct ConnRings {
    pub(crate) req: BackRing<Mem>,
    pub(crate) evt: EventRing<Mem>,
    pub(crate) req_port: u32,
    pub(crate) evt_port: u32,
    /// Since when flip-done events wait for room on a full event page.
    pub(crate) stuck_since: Option<Instant>,
}

pub(crate) struct Connection {
    pub(crate) display: Display,
    pub(crate) rings: Vec<ConnRings>,
}

pub(crate) struct Device {
    pub(crate) domid: u32,
    pub(crate) devid: u32,
    be_path: String,
    fe_path: String,
    token: String,
    written: u32,
    pub(crate) conn: Option<Connection>,
    /// Rejected requests logged so far (the log is capped per device).
    pub(crate) rejections_logged: u32,
}

impl Device {
    pub(crate) fn name(&self) -> String {
        format!("vdispl d{} v{}", self.domid, self.devid)
    }
}

/// The backend.
pub struct Backend<'g, E: EventChannels> {
    pub xs: XenStore,
    pub(crate) grants: &'g dyn Grants,
    pub evtchn: E,
    pub cfg: Config,
    pub(crate) shared: Shared,
    root: String,
    pub(crate) devices: BTreeMap<(u32, u32), Device>,
    pub(crate) ports: HashMap<u32, ((u32, u32), usize)>,
    pub(crate) busy: BTreeSet<((u32, u32), usize)>,
    /// Each domain's share of the backend's time (`serve.rs`).
    pub(crate) work: HashMap<u32, crate::serve::Share>,
    /// Rings waiting for their domain's share to refill, and until when.
    pub(crate) throttled: BTreeMap<((u32, u32), usize), Instant>,
    /// The screen guests are shown on, if any.
    pub(crate) screen: Option<Box<dyn Screen>>,
    /// Guest connector `unique-id` -> screen connector name; an id without
    /// an entry names the screen connector itself.
    outputs: BTreeMap<String, String>,
}

impl<E: EventChannels> std::fmt::Debug for Backend<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("root", &self.root).field("devices", &self.devices.len()).field("screen", &self.screen.is_some()).finish()
    }
}

const ROOT_TOKEN: &str = "vdispl-backend";

impl<'g, E: EventChannels> Backend<'g, E> {
    pub fn new(xs: XenStore, grants: &'g dyn Grants, evtchn: E, cfg: Config, capture: Option<Capture>, root: &str) -> Self {
        let shared = Shared::new(&cfg, capture);
        Backend {
            xs,
            grants,
            evtchn,
            cfg,
            shared,
            root: root.trim_end_matches('/').to_string(),
            devices: BTreeMap::new(),
            ports: HashMap::new(),
            busy: BTreeSet::new(),
            work: HashMap::new(),
            throttled: BTreeMap::new(),
            screen: None,
            outputs: BTreeMap::new(),
        }
    }

    /// Show guest connectors on `screen`: each by its `unique-id`, mapped
    /// through `outputs` (unique-id -> screen connector name) where listed.
    pub fn with_screen(mut self, screen: Box<dyn Screen>, outputs: BTreeMap<String, String>) -> Self {
        self.screen = Some(screen);
        self.outputs = outputs;
        self
    }

    /// Write out the PNG frames queued so far and stop capturing.
    pub fn finish_capture(&mut self) {
        if let Some(c) = self.shared.capture.as_mut() {
            c.finish();
        }
    }

    /// The screen, for tests and diagnostics.
    pub fn screen(&mut self) -> Option<&mut (dyn Screen + 'static)> {
        self.screen.as_deref_mut()
    }

    pub(crate) fn log(&self, who: &str, msg: &str) {
        log::info!("{who}: {msg}");
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
        let mut dev = Device { domid, devid, be_path, fe_path, token, written: 0, conn: None, rejections_logged: 0 };
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
            if self.devices.get(&k).is_none_or(|d| d.fe_path.is_empty()) {
                return Ok(());
            }
        }
        let dev = &self.devices[&k];
        let (be_path, fe_path, written, connected) = (dev.be_path.clone(), dev.fe_path.clone(), dev.written, dev.conn.is_some());
        let Some(be_state) = parse_u32(self.xs.read(&format!("{be_path}/state"))?) else {
            return Ok(()); // being removed
        };
        let online = self.xs.read(&format!("{be_path}/online"))?.is_none_or(|v| v.trim_end_matches('\0') != "0");
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
        let (domid, devid, fe, be) = (dev.domid, dev.devid, dev.fe_path.clone(), dev.be_path.clone());
        let name = dev.name();
        let rd = |xs: &mut XenStore, p: String| xs.read(&p).map_err(|e| format!("{p}: {e}"));
        // be-alloc decides whose memory backs the buffers: only the
        // toolstack may say so (its own node in the backend directory, or a
        // frontend node the guest cannot write).
        let be_alloc = match read_trusted(&mut self.xs, &[format!("{be}/be-alloc"), format!("{fe}/be-alloc")], domid).map_err(|e| format!("be-alloc: {e}"))? {
            Trust::Trusted(v) => v.trim_end_matches('\0') == "1",
            Trust::Absent => false,
            Trust::GuestWritable(p) => {
                self.log(&name, &format!("{p} is writable by the guest: ignored, be-alloc 0"));
                false
            }
        };
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
                rings.push(ConnRings { req, evt, req_port, evt_port, stuck_since: None });
            }
            Ok(())
        })();
        if let Err(e) = result {
            for p in bound {
                let _ = self.evtchn.unbind(p);
            }
            return Err(e);
        }
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
        let mut display = Display::new(domid, devid, be_alloc, &res);
        self.attach_outputs(k, &fe, &mut display)?;
        let dev = self.devices.get_mut(&k).expect("device");
        dev.conn = Some(Connection { display, rings });
        Ok(())
    }

    /// Put each connector on its screen output: the one its `unique-id`
    /// (written by the toolstack) names, through the `outputs` map.
    fn attach_outputs(&mut self, k: (u32, u32), fe: &str, display: &mut Display) -> Result<(), String> {
        let Some(screen) = self.screen.as_deref_mut() else { return Ok(()) };
        let name = format!("vdispl d{} v{}", k.0, k.1);
        for i in 0..display.connectors.len() {
            let uid = match read_trusted(&mut self.xs, &[format!("{fe}/{i}/unique-id")], k.0).map_err(|e| format!("unique-id: {e}"))? {
                Trust::Trusted(v) => v.trim_end_matches('\0').to_string(),
                Trust::Absent => {
                    log::info!("{name}: connector {i} has no unique-id: not on the screen");
                    continue;
                }
                Trust::GuestWritable(p) => {
                    log::warn!("{name}: {p} is writable by the guest: connector {i} not on the screen");
                    continue;
                }
            };
            let target = self.outputs.get(&uid).cloned().unwrap_or_else(|| uid.clone());
            match screen.claim(&target, Owner { dev: k, conn: i }) {
                Ok(out) => {
                    display.set_output(i, out);
                    log::info!("{name}: connector {i} (unique-id {uid:?}) on screen connector {target}");
                }
                Err(why) => log::info!("{name}: connector {i} (unique-id {uid:?}) not on the screen: {why}"),
            }
        }
        Ok(())
    }

    pub(crate) fn teardown(&mut self, k: (u32, u32)) {
        let Some(dev) = self.devices.get_mut(&k) else { return };
        let Some(mut conn) = dev.conn.take() else { return };
        let name = dev.name();
        let log_name = name.clone();
        let mut log = move |m: &str| log::info!("{log_name}: {m}");
        let mut ctx = Ctx { grants: self.grants, log: &mut log, cfg: &self.cfg, shared: &mut self.shared, screen: self.screen.as_deref_mut() };
        let (nbuf, nsfb, nout) = conn.display.teardown(&mut ctx);
        for r in &conn.rings {
            self.ports.remove(&r.req_port);
            let _ = self.evtchn.unbind(r.req_port);
            let _ = self.evtchn.unbind(r.evt_port);
        }
        let nrings = conn.rings.len();
        drop(conn);
        self.busy.retain(|(d, _)| *d != k);
        self.throttled.retain(|(d, _), _| *d != k);
        self.log(
            &name,
            &format!("disconnected: released {nbuf} buffer(s), {nsfb} screen framebuffer(s), {nout} screen output(s); {nrings} ring pair(s) unmapped, ports unbound"),
        );
    }

    /// Close one device after a protocol violation; the others go on.
    pub(crate) fn fail(&mut self, k: (u32, u32), why: &str) -> Result<(), XsError> {
        let name = self.devices.get(&k).map(|d| d.name()).unwrap_or_default();
        log::warn!("{name}: protocol violation, closing the device: {why}");
        self.teardown(k);
        if let Some(be) = self.devices.get(&k).map(|d| d.be_path.clone()) {
            let _ = self.xs.write(&format!("{be}/error"), why);
        }
        self.set_state(k, STATE_CLOSING)
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
        self.finish_capture();
    }
}
