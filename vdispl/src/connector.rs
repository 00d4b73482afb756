//! One guest connector: its resolution, what it shows, the flips waiting for
//! their flip-done event, and statistics.
//!
//! A flip's event is due either at a paced time (no screen: `--refresh-hz`)
//! or when the screen completes the flip (a KMS connector): then the flip is
//! queued, submitted to the card when the previous one completed, and due
//! the moment the card's flip event arrives.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::screen::OutputId;

/// Most flips that may wait for their event (a well-behaved frontend has
/// one); SET_CONFIG counts against it too.
pub const MAX_PENDING_FLIPS: usize = 32;

/// A flip answered but whose flip-done event is not sent yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingFlip {
    pub fb_cookie: u64,
    pub requested: Instant,
    /// When the event may be sent; None while the screen has not shown it.
    pub due: Option<Instant>,
    /// Handed to the screen (and not completed yet if `due` is None).
    pub submitted: bool,
}

/// Rolling statistics of one connector.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub frames: u64,
    pub pngs: u64,
    pub window_start: Option<Instant>,
    pub window_frames: u32,
    pub window_latency_sum: Duration,
    pub window_latency_max: Duration,
    pub window_flips: u32,
}

/// One connector's state.
#[derive(Debug)]
pub struct Connector {
    pub index: usize,
    /// The resolution the toolstack set (`<frontend>/N/resolution`).
    pub width: u32,
    pub height: u32,
    /// The screen output showing this connector, if any.
    pub out: Option<OutputId>,
    /// fb shown, with the SET_CONFIG width/height.
    pub current: Option<(u64, u32, u32)>,
    pub pending: VecDeque<PendingFlip>,
    last_due: Option<Instant>,
    /// A screen flip failed: said once per connector.
    pub flip_error_logged: bool,
    pub stats: Stats,
}

impl Connector {
    pub fn new(index: usize, width: u32, height: u32) -> Connector {
        Connector { index, width, height, out: None, current: None, pending: VecDeque::new(), last_due: None, flip_error_logged: false, stats: Stats::default() }
    }

    /// Queue a flip whose event is paced to `refresh_hz` (0: at once).
    pub fn push_paced(&mut self, fb_cookie: u64, now: Instant, refresh_hz: u32) {
        let period = if refresh_hz == 0 { Duration::ZERO } else { Duration::from_secs(1) / refresh_hz };
        let due = match self.last_due {
            Some(last) if last + period > now => last + period,
            _ => now,
        };
        self.last_due = Some(due);
        self.pending.push_back(PendingFlip { fb_cookie, requested: now, due: Some(due), submitted: false });
    }

    /// Queue a flip for the screen.
    pub fn push_screen(&mut self, fb_cookie: u64, now: Instant) {
        self.pending.push_back(PendingFlip { fb_cookie, requested: now, due: None, submitted: false });
    }

    /// Whether a flip is on the screen's hands now.
    pub fn in_flight(&self) -> bool {
        self.pending.iter().any(|p| p.submitted && p.due.is_none())
    }

    /// The next flip to hand to the screen (index), if none is in flight.
    pub fn next_to_submit(&self) -> Option<usize> {
        if self.in_flight() {
            return None;
        }
        self.pending.iter().position(|p| !p.submitted && p.due.is_none())
    }

    /// The screen completed the flip in flight: its event is due now.
    pub fn screen_done(&mut self, now: Instant) -> bool {
        match self.pending.iter_mut().find(|p| p.submitted && p.due.is_none()) {
            Some(p) => {
                p.due = Some(now);
                true
            }
            None => false,
        }
    }

    /// When the next flip-done event is due (None: none, or waiting for the
    /// screen).
    pub fn next_due(&self) -> Option<Instant> {
        self.pending.front().and_then(|p| p.due)
    }

    /// The first pending flip if its event is due (the caller sends it and
    /// calls `flip_done`; events go out in order).
    pub fn due(&self, now: Instant) -> Option<PendingFlip> {
        self.pending.front().copied().filter(|p| p.due.is_some_and(|d| d <= now))
    }

    /// The event for the first pending flip was sent at `now`.
    pub fn flip_done(&mut self, now: Instant) {
        if let Some(p) = self.pending.pop_front() {
            let lat = now.saturating_duration_since(p.requested);
            self.stats.window_latency_sum += lat;
            self.stats.window_latency_max = self.stats.window_latency_max.max(lat);
            self.stats.window_flips += 1;
        }
    }

    /// A new frame is shown: count it.
    pub fn count_frame(&mut self, now: Instant) {
        self.stats.frames += 1;
        self.stats.window_frames += 1;
        self.stats.window_start.get_or_insert(now);
    }

    /// A line of statistics once a second of activity has passed.
    pub fn stats_line(&mut self, now: Instant) -> Option<String> {
        let start = self.stats.window_start?;
        let el = now.saturating_duration_since(start);
        if el < Duration::from_secs(1) {
            return None;
        }
        let s = &mut self.stats;
        let fps = s.window_frames as f64 / el.as_secs_f64();
        let line = if s.window_flips > 0 {
            format!(
                "connector {}: {:.1} fps, flip latency avg {:.1} ms max {:.1} ms ({} flips), {} frames, {} png total",
                self.index,
                fps,
                s.window_latency_sum.as_secs_f64() * 1000.0 / s.window_flips as f64,
                s.window_latency_max.as_secs_f64() * 1000.0,
                s.window_flips,
                s.frames,
                s.pngs
            )
        } else {
            format!("connector {}: {:.1} fps, {} frames, {} png total", self.index, fps, s.frames, s.pngs)
        };
        s.window_start = if s.window_frames > 0 || s.window_flips > 0 { Some(now) } else { None };
        s.window_frames = 0;
        s.window_flips = 0;
        s.window_latency_sum = Duration::ZERO;
        s.window_latency_max = Duration::ZERO;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_flips_one_at_a_time_in_order() {
        let mut c = Connector::new(0, 64, 48);
        let t0 = Instant::now();
        c.push_screen(1, t0);
        c.push_screen(2, t0);
        assert_eq!(c.next_to_submit(), Some(0));
        c.pending[0].submitted = true;
        assert_eq!(c.next_to_submit(), None, "one in flight");
        assert!(c.due(t0 + Duration::from_secs(9)).is_none(), "not due before the screen shows it");
        assert!(c.screen_done(t0 + Duration::from_millis(3)));
        assert_eq!(c.due(t0 + Duration::from_millis(3)).map(|p| p.fb_cookie), Some(1));
        assert_eq!(c.next_to_submit(), Some(1));
        c.flip_done(t0 + Duration::from_millis(3));
        assert_eq!(c.pending.len(), 1);
        assert!(!c.screen_done(t0), "nothing in flight");
    }
}
