//! `tether`: runs a coding agent in a pseudo-terminal, keeps the local
//! terminal working exactly as usual, and streams the session live to a
//! `tether-relay`, from which browsers watch, type and resize.
//!
//! Flow: [`cli`] parses flags, [`app`] resolves the [`protocol::config`] and registers
//! the session through the [`api`], then [`session`] runs the agent in a
//! [`pty`], wiring the local [`terminal`] and the relay [`link`]. Size and
//! terminal-query decisions are small pure policies: [`resize`] and [`queries`].
#![warn(missing_docs)]
// The crate itself needs no `unsafe`: the PTY and termios layers are
// `portable-pty` and `rustix`.
#![forbid(unsafe_code)]

pub mod agent;
pub mod api;
pub mod app;
pub mod cli;
pub mod link;
pub mod logging;
pub mod pty;
pub mod queries;
pub mod resize;
pub mod session;
pub mod terminal;
