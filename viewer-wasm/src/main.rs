//! Tether's browser viewer: the session list and a live xterm.js terminal
//! per session, built by `trunk` from the top-level `index.html`.
//!
//! Output flows `link` (WebSocket, `protocol` frames) → `stream` (offsets,
//! duplicates, flow control) → `term` (xterm.js), driven by `viewer`; Yew
//! (`app`, `pages`, `components`) only draws the chrome around it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod app;
mod auth;
mod components;
mod keys;
mod link;
mod notify;
mod pages;
mod playback;
mod search;
mod shares;
mod stream;
mod term;
mod test_hook;
mod viewer;
mod zoom;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
