//! `window.__tether`: a small read-only view of the viewer for end-to-end
//! tests (and curious people): the xterm `Terminal` (`term`, whose
//! `buffer.active` holds the screen text) and the viewer's state. It carries
//! no secrets.

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

/// The values published on the hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Connection kind (`connecting`, `live`, `offline`, `reconnecting`, `ended`, `refused`).
    pub state: &'static str,
    /// `read-only`, `read-write`, or empty before the relay said.
    pub role: &'static str,
    /// Whether history is still being replayed.
    pub replaying: bool,
    /// Offset just past the last byte xterm rendered.
    pub rendered: u64,
    /// Bytes received but not yet handed to xterm.
    pub queued: usize,
    /// Bytes skipped because the relay no longer had them.
    pub lost: u64,
    /// Milliseconds from navigation to the first rendered output.
    pub first_output_ms: Option<f64>,
    /// How many times the link opened.
    pub connects: u32,
    /// The first link took over the socket the page opened early.
    pub early_link: bool,
    /// How many snapshots the terminal was rebuilt from (joins by snapshot).
    pub snapshots: u32,
    /// Terminal columns.
    pub cols: u16,
    /// Terminal rows.
    pub rows: u16,
    /// Current font size in CSS pixels.
    pub font_size: f64,
    /// `fit` (the grid fits the width) or `manual` (1:1 or pinched).
    pub zoom: &'static str,
}

/// The `window.__tether` object.
pub struct TestHook {
    object: Object,
}

impl TestHook {
    /// Creates `window.__tether` holding `term`.
    pub fn install(term: &JsValue) -> Self {
        let object = Object::new();
        set(&object, "term", term);
        if let Some(window) = web_sys::window() {
            set(&window, "__tether", &object);
        }
        Self { object }
    }

    /// Publishes `snapshot`.
    pub fn update(&self, snapshot: &Snapshot) {
        let o = &self.object;
        set(o, "state", &snapshot.state.into());
        set(o, "role", &snapshot.role.into());
        set(o, "replaying", &snapshot.replaying.into());
        // Offsets stay far below 2^53 in any real session.
        set(o, "rendered", &(snapshot.rendered as f64).into());
        set(o, "queued", &(snapshot.queued as f64).into());
        set(o, "lost", &(snapshot.lost as f64).into());
        if let Some(ms) = snapshot.first_output_ms {
            set(o, "firstOutputMs", &ms.into());
        }
        set(o, "connects", &snapshot.connects.into());
        set(o, "earlyLink", &snapshot.early_link.into());
        set(o, "snapshots", &snapshot.snapshots.into());
        set(o, "cols", &snapshot.cols.into());
        set(o, "rows", &snapshot.rows.into());
        set(o, "fontSize", &snapshot.font_size.into());
        set(o, "zoom", &snapshot.zoom.into());
    }
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(target, &name.into(), value);
}
