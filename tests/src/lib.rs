//! Helpers for Tether's end-to-end tests: start the real binaries, talk to
//! them, and wait for what they do.
//!
//! Each module owns one piece: [`relay`] starts `tether-relay` and speaks
//! its REST API and WebSockets, [`wrapper`] drives `tether` through pipes,
//! [`tmux`] gives it a real terminal, [`browser`] drives headless Chromium,
//! [`screens`] compares the two screens, [`services`] runs Redis and
//! HAProxy for the multi-node tests,
//! [`workload`] makes agent-like output by the megabyte,
//! [`fake_relay`] stands in for relays that misbehave ([`hostile_relay`]
//! for one that cannot be trusted), [`services`] starts
//! the real servers of the multi-node tests (PostgreSQL), [`asciicast`]
//! reads recordings and checks them with asciinema. Every wait goes
//! through [`wait`] (one deadline), and every test that needs a program
//! from outside the workspace asks [`tools`] first: without it the test is
//! skipped with a note, or fails under `TETHER_REQUIRE_TOOLS=1`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod asciicast;
pub mod browser;
pub mod fake_relay;
pub mod hostile_relay;
pub mod push_service;
pub mod relay;
pub mod screens;
pub mod services;
pub mod test_cert;
pub mod tmux;
pub mod tools;
pub mod wait;
pub mod workload;
pub mod wrapper;
