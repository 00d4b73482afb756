//! A para-virtual display backend for Xen (`vdispl`, displif protocol
//! version 2), built on xengnttab's safe API.
//!
//! Layers:
//! - [`protocol`]: the wire format of requests, responses and events;
//! - [`mem`], [`ring`]: shared memory and the request ring / event page;
//! - [`buffer`], [`display`], [`png`]: display buffers, framebuffers, the
//!   per-device request handler, frame capture;
//! - [`xenstore`], [`evtchn`], [`xen`]: the Xen plumbing (xenstore wire
//!   protocol, /dev/xen/evtchn, grant tables through xengnttab);
//! - [`backend`]: the xenbus state machine and event loop.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod backend;
pub mod buffer;
pub mod display;
pub mod evtchn;
pub mod frontend;
pub mod mem;
pub mod png;
pub mod protocol;
pub mod ring;
pub mod xen;
pub mod xenstore;
