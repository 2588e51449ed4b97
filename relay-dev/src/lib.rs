//! `tether-relay`: streams terminal sessions from `tether` wrappers to browsers.
//!
//! How a frame flows: the wrapper's link (`transport::agent`, `/agent`)
//! decodes OUTPUT and hands it to its `session::Session`, which appends it to
//! the session's log (a bounded ring with absolute offsets) and wakes the
//! viewers; the link then acknowledges what the log holds. Each viewer's
//! link (`transport::viewer`, `/terminal/{id}`) owns a `session::ViewerFeed`
//! that reads the shared log through the viewer's own cursor — join, history
//! replay, live output, size changes and the end in stream order, gaps, ACK
//! pacing — and sends what the feed yields. INPUT and RESIZE go back the
//! same way, through the session to the agent's link.
//!
//! Keys, share grants, sessions and messages live in the store (SQLite,
//! called off the async runtime); terminal bytes stay in memory. The REST
//! API (`api`) and the viewer's files (`web`) share the listener.
//! [`Server`] is the whole relay: `main.rs` parses flags into a [`Config`]
//! and runs it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod alerts;
mod api;
mod auth;
mod cluster;
mod cluster_upkeep;
pub mod config;
mod input_rate;
mod kept_recordings;
mod keys_command;
mod lifecycle;
mod listen;
mod local_key;
mod metrics;
mod persistence;
mod private_files;
mod push;
mod server;
mod session;
mod state;
mod store;
mod time;
mod transport;
mod web;

pub use config::Config;
pub use keys_command::run_keys_command;
pub use local_key::LocalKey;
pub use server::{Server, ShutdownHandle};
