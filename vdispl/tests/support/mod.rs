//! Test doubles, shared by the unit tests (included with `#[path]` under
//! `cfg(test)` in `src/lib.rs`) and the integration tests (`mod support;`):
//! in-memory grants, an in-memory xenstored, a fake screen. Never part of
//! the shipped crate.
#![allow(dead_code)]

pub mod fake_grants;
pub mod fake_screen;
pub mod fake_xenstored;
pub mod frames;
