//! Helpers for Tether's end-to-end tests: start the real binaries, talk to them.
//!
//! Each module owns one piece: [`relay`] starts `tether-relay`, [`wrapper`]
//! drives `tether` (in a PTY or tmux), [`browser`] drives headless Chromium.

pub mod browser;
pub mod relay;
pub mod wrapper;
