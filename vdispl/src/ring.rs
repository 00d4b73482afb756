//! The two shared pages of a connector: the request ring (Xen's
//! `DEFINE_RING_TYPES` ring, back end) and the event page (backend produces,
//! frontend consumes). Both work over any [`SharedMem`], so they are tested
//! in memory.
//!
//! The guest owns `req_prod`, `rsp_event` and `in_cons` and may write
//! anything there. Each is read once per use; requests are copied out of the
//! ring before they are decoded; our own indexes (`req_cons`, `rsp_prod`,
//! `in_prod`) are kept privately and never read back from the page.

use std::sync::atomic::{fence, Ordering};

use crate::mem::{OutOfBounds, SharedMem};
use crate::protocol::{off, Event, Request, Response, EVT_RING_LEN, PACKET_SIZE, REQ_RING_SIZE, XEN_PAGE_SIZE};

/// A ring the guest broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("shared page too small")]
    TooSmall,
    #[error("request producer index {prod} is more than a ring ({size}) ahead of our responses at {rsp}")]
    Overflow { prod: u32, rsp: u32, size: u32 },
    #[error("access outside the shared page")]
    OutOfBounds,
}

impl From<OutOfBounds> for RingError {
    fn from(_: OutOfBounds) -> Self {
        RingError::OutOfBounds
    }
}

/// The backend's end of a request/response ring.
pub struct BackRing<M: SharedMem> {
    mem: M,
    req_cons: u32,
    rsp_prod: u32,
}

impl<M: SharedMem> std::fmt::Debug for BackRing<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackRing").field("req_cons", &self.req_cons).field("rsp_prod", &self.rsp_prod).finish()
    }
}

impl<M: SharedMem> BackRing<M> {
    /// Attach to a ring the frontend initialised (`SHARED_RING_INIT`: all
    /// indexes 0). Like `BACK_RING_INIT`, our indexes start at 0.
    pub fn new(mem: M) -> Result<Self, RingError> {
        if mem.size() < XEN_PAGE_SIZE {
            return Err(RingError::TooSmall);
        }
        Ok(BackRing { mem, req_cons: 0, rsp_prod: 0 })
    }

    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Requests waiting, validated: a producer index more than a ring ahead
    /// of our responses is an error (the guest can set any value).
    fn unconsumed(&self) -> Result<u32, RingError> {
        let prod = self.mem.load_u32(off::SRING_REQ_PROD)?;
        fence(Ordering::Acquire); // RING_GET_REQUEST after reading req_prod
        if prod.wrapping_sub(self.rsp_prod) > REQ_RING_SIZE {
            return Err(RingError::Overflow { prod, rsp: self.rsp_prod, size: REQ_RING_SIZE });
        }
        Ok(prod.wrapping_sub(self.req_cons))
    }

    /// Take the next request, if any. The 64 bytes are copied out once.
    /// One request must be answered before the next is given out (so our
    /// response slots can never be overrun): until then this returns None.
    pub fn next_request(&mut self) -> Result<Option<Request>, RingError> {
        if self.unconsumed()? == 0 || self.req_cons != self.rsp_prod {
            return Ok(None);
        }
        let slot = (self.req_cons % REQ_RING_SIZE) as usize;
        let mut b = [0u8; PACKET_SIZE];
        self.mem.read_at(off::SRING_RING + slot * PACKET_SIZE, &mut b)?;
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(Request::decode(&b)))
    }

    /// Put a response and publish it (`RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`).
    /// Returns whether the frontend asked to be notified.
    pub fn push_response(&mut self, r: &Response) -> Result<bool, RingError> {
        let slot = (self.rsp_prod % REQ_RING_SIZE) as usize;
        self.mem.write_at(off::SRING_RING + slot * PACKET_SIZE, &r.encode())?;
        let old = self.rsp_prod;
        let new = old.wrapping_add(1);
        self.rsp_prod = new;
        fence(Ordering::Release); // the response before the index
        self.mem.store_u32(off::SRING_RSP_PROD, new)?;
        fence(Ordering::SeqCst); // the index before reading rsp_event
        let event = self.mem.load_u32(off::SRING_RSP_EVENT)?;
        Ok(new.wrapping_sub(event) < new.wrapping_sub(old))
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`: true if requests are waiting;
    /// otherwise asks for a notification at the next one and checks again.
    pub fn final_check(&mut self) -> Result<bool, RingError> {
        if self.unconsumed()? > 0 {
            return Ok(true);
        }
        self.mem.store_u32(off::SRING_REQ_EVENT, self.req_cons.wrapping_add(1))?;
        fence(Ordering::SeqCst);
        Ok(self.unconsumed()? > 0)
    }
}

/// The backend's end of the event page.
pub struct EventRing<M: SharedMem> {
    mem: M,
    in_prod: u32,
    next_id: u16,
}

impl<M: SharedMem> std::fmt::Debug for EventRing<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRing").field("in_prod", &self.in_prod).field("next_id", &self.next_id).finish()
    }
}

impl<M: SharedMem> EventRing<M> {
    pub fn new(mem: M) -> Result<Self, RingError> {
        if mem.size() < XEN_PAGE_SIZE {
            return Err(RingError::TooSmall);
        }
        Ok(EventRing { mem, in_prod: 0, next_id: 0 })
    }

    pub fn mem(&self) -> &M {
        &self.mem
    }

    /// Whether there is room for an event. A consumer index the guest set
    /// beyond what we produced reads as "full", never as room.
    pub fn has_room(&self) -> Result<bool, RingError> {
        let cons = self.mem.load_u32(off::EVPAGE_IN_CONS)?;
        Ok(self.in_prod.wrapping_sub(cons) < EVT_RING_LEN)
    }

    /// Publish a page-flip-done event with the next id (ids run 0, 1, 2, ...
    /// without gaps: an event that does not fit is not given an id).
    /// Returns false if the page is full.
    pub fn push_pg_flip(&mut self, fb_cookie: u64) -> Result<bool, RingError> {
        if !self.has_room()? {
            return Ok(false);
        }
        let ev = Event::pg_flip(self.next_id, fb_cookie);
        let slot = (self.in_prod % EVT_RING_LEN) as usize;
        self.mem.write_at(off::EVPAGE_RING + slot * PACKET_SIZE, &ev.encode())?;
        fence(Ordering::Release);
        self.in_prod = self.in_prod.wrapping_add(1);
        self.mem.store_u32(off::EVPAGE_IN_PROD, self.in_prod)?;
        self.next_id = self.next_id.wrapping_add(1);
        Ok(true)
    }
}

/// The frontend's end of both pages, for tests and the hostile frontend.
pub mod front {
    use super::*;

    /// `SHARED_RING_INIT` + `FRONT_RING_INIT`.
    pub struct FrontRing<M: SharedMem> {
        pub mem: M,
        pub req_prod: u32,
        pub rsp_cons: u32,
    }

    impl<M: SharedMem> std::fmt::Debug for FrontRing<M> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FrontRing").field("req_prod", &self.req_prod).field("rsp_cons", &self.rsp_cons).finish()
        }
    }

    impl<M: SharedMem> FrontRing<M> {
        pub fn init(mem: M) -> Result<Self, OutOfBounds> {
            mem.write_at(0, &[0u8; 64])?;
            mem.store_u32(off::SRING_REQ_EVENT, 1)?;
            mem.store_u32(off::SRING_RSP_EVENT, 1)?;
            Ok(FrontRing { mem, req_prod: 0, rsp_cons: 0 })
        }

        /// Queue a request and publish it.
        pub fn push(&mut self, r: &Request) -> Result<(), OutOfBounds> {
            self.push_raw(&r.encode())
        }

        pub fn push_raw(&mut self, b: &[u8; PACKET_SIZE]) -> Result<(), OutOfBounds> {
            let slot = (self.req_prod % REQ_RING_SIZE) as usize;
            self.mem.write_at(off::SRING_RING + slot * PACKET_SIZE, b)?;
            fence(Ordering::Release);
            self.req_prod = self.req_prod.wrapping_add(1);
            self.mem.store_u32(off::SRING_REQ_PROD, self.req_prod)
        }

        /// Take every published response.
        pub fn responses(&mut self) -> Result<Vec<Response>, OutOfBounds> {
            let prod = self.mem.load_u32(off::SRING_RSP_PROD)?;
            fence(Ordering::Acquire);
            let mut out = Vec::new();
            while self.rsp_cons != prod && out.len() < REQ_RING_SIZE as usize {
                let slot = (self.rsp_cons % REQ_RING_SIZE) as usize;
                let mut b = [0u8; PACKET_SIZE];
                self.mem.read_at(off::SRING_RING + slot * PACKET_SIZE, &mut b)?;
                out.push(Response::decode(&b));
                self.rsp_cons = self.rsp_cons.wrapping_add(1);
            }
            self.mem.store_u32(off::SRING_RSP_EVENT, self.rsp_cons.wrapping_add(1))?;
            Ok(out)
        }
    }

    /// Read every event on an event page and consume it.
    pub fn take_events<M: SharedMem>(mem: &M) -> Result<Vec<Event>, OutOfBounds> {
        let prod = mem.load_u32(off::EVPAGE_IN_PROD)?;
        fence(Ordering::Acquire);
        let mut cons = mem.load_u32(off::EVPAGE_IN_CONS)?;
        let mut out = Vec::new();
        while cons != prod && out.len() < EVT_RING_LEN as usize {
            let slot = (cons % EVT_RING_LEN) as usize;
            let mut b = [0u8; PACKET_SIZE];
            mem.read_at(off::EVPAGE_RING + slot * PACKET_SIZE, &mut b)?;
            out.push(Event::decode(&b));
            cons = cons.wrapping_add(1);
        }
        mem.store_u32(off::EVPAGE_IN_CONS, cons)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::front::*;
    use super::*;
    use crate::mem::MemBuf;
    use crate::protocol::{status, Op};

    fn pair() -> (FrontRing<MemBuf>, BackRing<MemBuf>) {
        let page = MemBuf::new(XEN_PAGE_SIZE);
        (FrontRing::init(page.clone()).unwrap(), BackRing::new(page).unwrap())
    }

    #[test]
    fn request_response_roundtrip_and_wrap() {
        let (mut f, mut b) = pair();
        for round in 0..200u32 {
            let req = Request::new(round as u16, Op::PgFlip { fb_cookie: round as u64 });
            f.push(&req).unwrap();
            assert!(b.final_check().unwrap());
            let got = b.next_request().unwrap().unwrap();
            assert_eq!(got, req);
            assert!(b.next_request().unwrap().is_none());
            b.push_response(&Response::to(&got, 0)).unwrap();
            let resps = f.responses().unwrap();
            assert_eq!(resps.len(), 1);
            assert_eq!((resps[0].id, resps[0].operation), (round as u16, crate::protocol::OP_PG_FLIP));
        }
        assert!(!b.final_check().unwrap());
    }

    #[test]
    fn notify_only_when_asked() {
        let (mut f, mut b) = pair();
        f.push(&Request::new(1, Op::PgFlip { fb_cookie: 1 })).unwrap();
        let r = b.next_request().unwrap().unwrap();
        // rsp_event = 1 after init: the first response notifies
        assert!(b.push_response(&Response::to(&r, 0)).unwrap());
        f.push(&Request::new(2, Op::PgFlip { fb_cookie: 1 })).unwrap();
        let r = b.next_request().unwrap().unwrap();
        // frontend has not re-armed rsp_event: no notification
        assert!(!b.push_response(&Response::to(&r, 0)).unwrap());
    }

    #[test]
    fn hostile_producer_index_is_an_error_not_a_loop() {
        let (f, mut b) = pair();
        for prod in [REQ_RING_SIZE + 1, 1000, u32::MAX, 0x8000_0000] {
            f.mem.store_u32(off::SRING_REQ_PROD, prod).unwrap();
            assert!(matches!(b.next_request(), Err(RingError::Overflow { .. })), "prod {prod}");
            assert!(b.final_check().is_err());
        }
        // exactly a full ring is legal
        f.mem.store_u32(off::SRING_REQ_PROD, REQ_RING_SIZE).unwrap();
        let mut n = 0;
        while let Some(r) = b.next_request().unwrap() {
            b.push_response(&Response::to(&r, status::EINVAL)).unwrap();
            n += 1;
            assert!(n <= REQ_RING_SIZE);
        }
        assert_eq!(n, REQ_RING_SIZE);
    }

    #[test]
    fn guest_scribbling_response_indexes_does_not_matter() {
        let (mut f, mut b) = pair();
        f.mem.store_u32(off::SRING_RSP_PROD, 12345).unwrap();
        f.mem.store_u32(off::SRING_RSP_EVENT, 0xdead_beef).unwrap();
        f.push(&Request::new(9, Op::PgFlip { fb_cookie: 1 })).unwrap();
        let r = b.next_request().unwrap().unwrap();
        b.push_response(&Response::to(&r, 0)).unwrap();
        assert_eq!(f.mem.load_u32(off::SRING_RSP_PROD).unwrap(), 1);
    }

    #[test]
    fn short_page_refused() {
        assert_eq!(BackRing::new(MemBuf::new(100)).err(), Some(RingError::TooSmall));
        assert_eq!(EventRing::new(MemBuf::new(4095)).err(), Some(RingError::TooSmall));
    }

    #[test]
    fn events_ids_without_gaps_and_full_page() {
        let page = MemBuf::new(XEN_PAGE_SIZE);
        let mut e = EventRing::new(page.clone()).unwrap();
        for i in 0..EVT_RING_LEN {
            assert!(e.push_pg_flip(100 + i as u64).unwrap());
        }
        // full: refused, and the id is not used up
        assert!(!e.push_pg_flip(1).unwrap());
        let evs = take_events(&page).unwrap();
        assert_eq!(evs.len(), EVT_RING_LEN as usize);
        for (i, ev) in evs.iter().enumerate() {
            assert_eq!((ev.id, ev.kind, ev.fb_cookie), (i as u16, crate::protocol::EVT_PG_FLIP, 100 + i as u64));
        }
        assert!(e.push_pg_flip(7).unwrap());
        let evs = take_events(&page).unwrap();
        assert_eq!(evs[0].id, EVT_RING_LEN as u16);
    }

    #[test]
    fn hostile_event_consumer_index_reads_as_full() {
        let page = MemBuf::new(XEN_PAGE_SIZE);
        let mut e = EventRing::new(page.clone()).unwrap();
        page.store_u32(off::EVPAGE_IN_CONS, 5000).unwrap();
        assert!(!e.push_pg_flip(1).unwrap());
        page.store_u32(off::EVPAGE_IN_CONS, 0).unwrap();
        assert!(e.push_pg_flip(1).unwrap());
    }
}
