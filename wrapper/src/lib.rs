//! `tether`: runs a coding agent in a pseudo-terminal, keeps the local
//! terminal working exactly as usual, and streams the session live to a
//! `tether-relay`, from which browsers watch, type and resize.
//!
//! Flow: [`cli`] parses the flags and [`app`] resolves the config and the
//! endpoints, then registers the session through the REST client (`api`).
//! `session` runs the agent in a `pty` and moves bytes between threads: the
//! agent's output goes to the local `terminal` and into the relay `link`'s
//! resend buffer; keys from stdin and viewers' INPUT (which the link puts in
//! the `inbox`) go through the `queries` arbiter into the PTY; SIGWINCH and
//! viewers' RESIZE go through the `resize` policy to the PTY and back to the
//! relay, and so do a key typed locally and the relay's `size_released`
//! (both give a viewer's size back to the local terminal). The link runs on
//! its own thread and reconnects on its own.
//!
//! | module | job |
//! |---|---|
//! | [`cli`] | flags: tether's own, and the agent's passed through in order |
//! | [`app`] | what the flags ask for: `--set-default`, `--auth`, a run (register, URL, exit report), or `tether share` |
//! | `api` | the REST client: register, check, end a session; check a key; share links |
//! | `agent` | which program runs as the agent, found on PATH |
//! | `session` | one run: spawns the agent and the output, input, resize and signal threads |
//! | `inbox` | what the link hands to the session: viewers' input and size requests |
//! | `keyboard` | the PTY's input end behind the query arbiter, shared by the input thread and the link |
//! | `pty` | the agent's pseudo-terminal: spawn, read, write, resize, exit code |
//! | `terminal` | the local terminal: raw mode, size, restore on any exit |
//! | `link` | the relay connection: resend buffer, handshake, reconnect, ACKs |
//! | `resize` | who decides the PTY's size and when (debounce, steps, giving it back) |
//! | `queries` | terminal queries: exactly one answer reaches the agent |
//! | `controls` | the control characters in the output, found a block at a time |
//! | `logging` | the run's log file (0600, in 0700 folders), throttled lines |
//! | `printable` | server text made safe for the person's terminal |
//! | `recorder` | `--record`: the session written as asciicast v3 while it runs |
#![warn(missing_docs)]
// The crate itself needs no `unsafe`: the PTY and termios layers are
// `portable-pty` and `rustix`.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;

mod agent;
mod api;
mod attention;
mod controls;
mod inbox;
mod keyboard;
mod link;
mod logging;
mod printable;
mod pty;
mod queries;
mod recorder;
mod resize;
mod session;
mod terminal;

// The checks of the `escape_sequences` fuzz target (`fuzz/`, which compiles
// this file and `queries/` into itself), also run here as unit tests.
#[cfg(test)]
mod fuzzing;

pub use terminal::{install_panic_hook, restore as restore_terminal};
