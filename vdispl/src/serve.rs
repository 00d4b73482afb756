//! The running side of the backend: servicing request rings with a budget
//! counted in work (not requests), sending flip-done events, taking the
//! screen's flip completions, and how long the loop may sleep.
//!
//! Fairness: every ring gets at most [`REQUEST_BUDGET`] cost units per turn
//! (a plain request is 1; mapping, copying and mode sets cost more) and at
//! most [`TURN_TIME`] of work, whichever ends first, then every other busy
//! ring, the card's completions and the events get their turn. (Cost units
//! alone do not bound a turn's time: under the rig's emulated CPU mapping a
//! buffer's grants takes milliseconds for 2 units.) One request still runs
//! to its end: its worst case is one buffer of the largest size allowed.
//!
//! Share: round-robin bounds how long one ring waits for the others, not how
//! much of dom0 one guest takes. Each domain's request handling may use at
//! most `max_domain_cpu` percent of one CPU (a token bucket of time, with a
//! burst of [`SHARE_BURST`]); beyond that its rings wait, unanswered, until
//! the share refills. (In the rig, with one emulated CPU for every domain, a
//! guest flooding buffer creations doubled another guest's flip latency with
//! or without the share: the grant hypercalls and the card's kernel worker
//! compete there too. BENCHMARKS.md, fairness.)
//!
//! A guest that never consumes its events gets its event page retried every
//! [`STUCK_RETRY`], not in a busy loop, and is cut off after [`STUCK_LIMIT`].

use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::display::Ctx;
use crate::evtchn::EventChannels;
use crate::protocol::Response;
use crate::xenstore::XsError;

/// Cost units one ring may use before the others get a turn.
pub const REQUEST_BUDGET: u32 = 64;
/// Time one ring may take before the others get a turn.
pub const TURN_TIME: Duration = Duration::from_millis(2);
/// How often a full event page is looked at again.
pub const STUCK_RETRY: Duration = Duration::from_millis(20);
/// How long a frontend may leave its event page full before it is cut off.
pub const STUCK_LIMIT: Duration = Duration::from_secs(10);
/// Rejected requests logged per device; later ones are only counted.
pub const MAX_REJECTIONS_LOGGED: u32 = 32;
/// Time a domain may spend at once before its share applies.
pub const SHARE_BURST: Duration = Duration::from_millis(50);

/// One domain's share of the backend's time: a token bucket. Credit is kept
/// in nanoseconds times 100, so that refilling at `percent` of the elapsed
/// time is exact however often it is asked (rounding each small refill down
/// would starve a ring that is looked at every few microseconds).
#[derive(Debug, Clone, Copy)]
pub struct Share {
    credit: i64,
    last: Instant,
}

const CENTI: i64 = 100;

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / (2 * CENTI))
}

impl Share {
    pub fn new(now: Instant) -> Share {
        Share { credit: nanos(SHARE_BURST) * CENTI, last: now }
    }
    /// Refill at `percent` of wall time, up to the burst.
    pub fn refill(&mut self, now: Instant, percent: u32) {
        let el = nanos(now.saturating_duration_since(self.last)).min(nanos(SHARE_BURST) * CENTI);
        self.last = self.last.max(now);
        self.credit = self.credit.saturating_add(el * percent as i64).min(nanos(SHARE_BURST) * CENTI);
    }
    pub fn spend(&mut self, d: Duration) {
        self.credit = self.credit.saturating_sub(nanos(d).saturating_mul(CENTI));
    }
    /// When the credit is positive again (None: it is now).
    pub fn ready_at(&self, now: Instant, percent: u32) -> Option<Instant> {
        if self.credit > 0 || percent == 0 {
            return None;
        }
        let wait = ((1 - self.credit) as u64).div_ceil(percent as u64);
        Some(now + Duration::from_nanos(wait))
    }
}

impl<E: EventChannels> Backend<'_, E> {
    /// Event channel ports that fired.
    pub fn on_ports(&mut self, ports: &[u32], now: Instant) -> Result<(), XsError> {
        for p in ports {
            if let Some(&(k, c)) = self.ports.get(p) {
                self.busy.insert((k, c));
            }
        }
        self.service(now)
    }

    /// Service every connector marked busy (woken, or with work left over),
    /// unless its domain has used up its share for now.
    pub fn service(&mut self, now: Instant) -> Result<(), XsError> {
        let ready: Vec<_> = self.throttled.iter().filter(|(_, t)| **t <= now).map(|(k, _)| *k).collect();
        for k in ready {
            self.throttled.remove(&k);
            self.busy.insert(k);
        }
        let work: Vec<_> = std::mem::take(&mut self.busy).into_iter().collect();
        let pct = self.cfg.max_domain_cpu;
        for (k, c) in work {
            if pct > 0 {
                let share = self.work.entry(k.0).or_insert_with(|| Share::new(now));
                share.refill(now, pct);
                if let Some(t) = share.ready_at(now, pct) {
                    self.throttled.insert((k, c), t);
                    continue;
                }
            }
            let t0 = Instant::now();
            let r = self.service_one(k, c, now);
            if pct > 0 {
                if let Some(s) = self.work.get_mut(&k.0) {
                    s.spend(t0.elapsed());
                }
            }
            match r {
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
        let logged = &mut dev.rejections_logged;
        let Some(conn) = dev.conn.as_mut() else { return Ok(false) };
        let Some(rings) = conn.rings.get_mut(c) else { return Ok(false) };
        // A guest's rejected requests are logged up to a cap, so that a
        // flood of them cannot flood the log.
        let mut log = |m: &str| {
            if !m.contains("(status -") {
                log::info!("{name}: {m}");
            } else if *logged < MAX_REJECTIONS_LOGGED {
                *logged += 1;
                log::warn!("{name}: {m}");
                if *logged == MAX_REJECTIONS_LOGGED {
                    log::warn!("{name}: {MAX_REJECTIONS_LOGGED} rejected requests logged; further ones are not");
                }
            }
        };
        let mut ctx = Ctx { grants: self.grants, log: &mut log, cfg: &self.cfg, shared: &mut self.shared, screen: self.screen.as_deref_mut() };
        let mut notify = false;
        let mut spent = 0;
        let t0 = Instant::now();
        let more = loop {
            if spent >= REQUEST_BUDGET || t0.elapsed() >= TURN_TIME {
                break true;
            }
            match rings.req.next_request().map_err(|e| e.to_string())? {
                Some(req) => {
                    let resp: Response = conn.display.handle(c, &req, now, &mut ctx);
                    spent += conn.display.take_cost();
                    notify |= rings.req.push_response(&resp).map_err(|e| e.to_string())?;
                }
                None => {
                    if !rings.req.final_check().map_err(|e| e.to_string())? {
                        break false;
                    }
                }
            }
        };
        if notify {
            let _ = self.evtchn.notify(rings.req_port);
        }
        Ok(more)
    }

    /// The screen's completed flips: their events become due, and each
    /// connector's next flip goes to the screen.
    pub fn on_screen(&mut self, now: Instant) -> Result<(), XsError> {
        let Some(screen) = self.screen.as_deref_mut() else { return Ok(()) };
        let done = match screen.completed() {
            Ok(d) => d,
            Err(e) => {
                log::warn!("reading the screen's events: {e}");
                return Ok(());
            }
        };
        for (_out, owner) in done {
            let Some(dev) = self.devices.get_mut(&owner.dev) else { continue };
            let name = dev.name();
            let Some(conn) = dev.conn.as_mut() else { continue };
            let mut log = |m: &str| log::info!("{name}: {m}");
            let mut ctx = Ctx { grants: self.grants, log: &mut log, cfg: &self.cfg, shared: &mut self.shared, screen: self.screen.as_deref_mut() };
            conn.display.screen_flip_done(owner.conn, now, &mut ctx);
        }
        self.tick(now)
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
                            rings.stuck_since = None;
                            sent = true;
                        }
                        Ok(false) => {
                            // page full: retried every STUCK_RETRY
                            let since = *rings.stuck_since.get_or_insert(now);
                            if now.saturating_duration_since(since) >= STUCK_LIMIT {
                                failed.push((*k, format!("event page of connector {c} full for {} s: the frontend does not consume events", STUCK_LIMIT.as_secs())));
                            }
                            break;
                        }
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

    /// Rings waiting for their domain's CPU share (diagnostics, tests).
    pub fn throttled_rings(&self) -> usize {
        self.throttled.len()
    }

    /// How long the event loop may sleep.
    pub fn timeout(&self, now: Instant) -> Duration {
        if !self.busy.is_empty() || self.xs.has_events() {
            return Duration::ZERO;
        }
        let mut t = Duration::from_millis(500);
        if let Some(w) = self.throttled.values().min() {
            t = t.min(w.saturating_duration_since(now));
        }
        for dev in self.devices.values() {
            let Some(conn) = &dev.conn else { continue };
            for (c, rings) in conn.display.connectors.iter().zip(&conn.rings) {
                let Some(due) = c.next_due() else { continue };
                let wait = match rings.stuck_since {
                    Some(_) => STUCK_RETRY,
                    None => due.saturating_duration_since(now),
                };
                t = t.min(wait);
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut s = Share::new(t0);
        assert!(s.ready_at(t0, 50).is_none(), "a burst to start with");
        s.spend(Duration::from_millis(150)); // 50 ms of burst, 100 ms owed
        let at = s.ready_at(t0, 50).expect("owes time");
        // at 50 %, 100 ms owed take 200 ms of wall time
        assert!(at >= t0 + Duration::from_millis(200) && at <= t0 + Duration::from_millis(201), "{:?}", at - t0);
        s.refill(t0 + Duration::from_millis(199), 50);
        assert!(s.ready_at(t0 + Duration::from_millis(199), 50).is_some());
        s.refill(t0 + Duration::from_millis(201), 50);
        assert!(s.ready_at(t0 + Duration::from_millis(201), 50).is_none());
        // never more than the burst
        s.refill(t0 + Duration::from_secs(60), 50);
        s.spend(SHARE_BURST);
        assert!(s.ready_at(t0 + Duration::from_secs(60), 50).is_some());
    }

    #[test]
    fn share_refills_even_when_asked_every_microsecond() {
        let t0 = Instant::now();
        let mut s = Share::new(t0);
        s.spend(SHARE_BURST + Duration::from_micros(100)); // 100 us owed
        // at 20 %: 500 us of wall time, asked for every microsecond
        let mut t = t0;
        for _ in 0..499 {
            t += Duration::from_micros(1);
            s.refill(t, 20);
            assert!(s.ready_at(t, 20).is_some());
        }
        t += Duration::from_micros(2);
        s.refill(t, 20);
        assert!(s.ready_at(t, 20).is_none(), "{s:?}");
    }
}
