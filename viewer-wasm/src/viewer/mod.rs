//! A live terminal viewer: ties one session's [`Link`] to an xterm [`Term`]
//! through the [`OutputStream`] (offsets, duplicates, flow control), and
//! reconnects on its own, resuming after the last received byte.
//!
//! The output path never goes through Yew: the page only receives a
//! [`Status`] whenever something it shows changes.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Timeout;
use protocol::{Frame, Role};
use web_sys::HtmlElement;
use yew::Callback;

use crate::auth::Credential;
use crate::keys::BarKey;
use crate::link::{terminal_url, Link};
use crate::stream::OutputStream;
use crate::term::{cell_width, fitting_font_size, Term, TermInput, BASE_FONT_SIZE};
use crate::test_hook::TestHook;
use crate::zoom::ZoomState;

mod frames;
mod gestures;
mod input;
mod join;
mod lifecycle;
mod status;

use lifecycle::link_events;
pub use status::{Connection, Status};

/// The terminal goes on the page once the joined screen is parsed, or at
/// the latest this long after the viewer started (a long raw replay shows
/// as it goes).
const SHOW_WITHIN_MS: u32 = 1_000;

/// A running viewer; stops (closes its link, disposes xterm) on drop.
pub struct Viewer {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    this: Weak<RefCell<Inner>>,
    session_id: String,
    credential: Credential,
    ws_origin: String,
    host: HtmlElement,
    term: Term,
    stream: OutputStream,
    link: Option<Link>,
    /// Link being replaced: dropped from a timer, never inside its own handler.
    retired: Vec<Link>,
    timer: Option<Timeout>,
    /// Puts the terminal on the page if the join has not by then.
    show_timer: Option<Timeout>,
    /// Milliseconds from navigation to the first rendered output.
    first_output_ms: Option<f64>,
    /// The session has no local terminal: this screen's size applies.
    follow_screen: bool,
    /// How big the grid is drawn (fit width, 1:1, pinched).
    zoom: ZoomState,
    /// Pinch and double-tap listeners on `host`.
    gestures: Vec<gloo::events::EventListener>,
    /// Number of the current link; events of older links are ignored.
    generation: u32,
    attempts: u32,
    connects: u32,
    /// The first link took over the page's early socket.
    early_link: bool,
    status: Status,
    status_dirty: bool,
    /// A microtask will give the page the status.
    status_due: bool,
    on_status: Callback<Status>,
    hook: TestHook,
}

impl Viewer {
    /// Opens xterm in `host` and connects to session `session_id` of the
    /// relay at `ws_origin` (`ws://host:port`).
    pub fn start(
        host: HtmlElement,
        ws_origin: String,
        session_id: String,
        credential: Credential,
        on_status: Callback<Status>,
    ) -> Self {
        let inner = Rc::new_cyclic(|this: &Weak<RefCell<Inner>>| {
            // The link first: its handshake and the join's bytes travel
            // while xterm sets itself up (hundreds of ms on a slow phone);
            // its events run only after this task, once `Inner` exists.
            let mut stream = OutputStream::new();
            stream.on_connect();
            let url = join::with_history(terminal_url(&ws_origin, &session_id, None));
            let link = Link::connect(&url, &credential, link_events(this.clone(), 1));
            let term = Term::closed();
            let show_timer = {
                let weak = this.clone();
                Timeout::new(SHOW_WITHIN_MS, move || with_inner(&weak, Inner::show))
            };
            let hook = TestHook::install(term.js());
            let mut status = Status::default();
            let early_link = link.as_ref().is_ok_and(Link::is_early);
            let link = match link {
                Ok(link) => Some(link),
                Err(reason) => {
                    status.connection = Connection::Refused(reason);
                    None
                }
            };
            RefCell::new(Inner {
                this: this.clone(),
                session_id,
                credential,
                ws_origin,
                host,
                term,
                stream,
                link,
                retired: Vec::new(),
                timer: None,
                show_timer: Some(show_timer),
                first_output_ms: None,
                follow_screen: false,
                zoom: ZoomState::default(),
                gestures: Vec::new(),
                generation: 1,
                attempts: 0,
                connects: 0,
                early_link,
                status,
                status_dirty: true,
                status_due: false,
                on_status,
                hook,
            })
        });
        {
            let weak = Rc::downgrade(&inner);
            let mut state = inner.borrow_mut();
            state.term.on_input(move |input| {
                with_inner(&weak, |inner| match input {
                    TermInput::Text(text) => inner.send_typed(&text),
                    TermInput::Binary(bytes) => inner.send_input(bytes),
                });
            });
            state.gestures = gestures::install(&state.host, Rc::downgrade(&inner));
            state.show_when_ready();
        }
        publish(&inner);
        mark("viewer-started");
        Self { inner }
    }

    /// The terminal's JS object (for the search bar).
    pub fn term_js(&self) -> wasm_bindgen::JsValue {
        self.inner.borrow().term.js().clone()
    }

    /// Sends a key from the phone key bar (Ctrl arms the modifier).
    pub fn press(&self, key: BarKey) {
        with_inner(&Rc::downgrade(&self.inner), |inner| {
            if key == BarKey::Ctrl {
                inner.status.ctrl_armed = !inner.status.ctrl_armed;
                inner.status_dirty = true;
                // The modified key comes from the keyboard: bring it up.
                inner.term.focus();
            } else if let Some(bytes) = key.sequence(inner.term.application_cursor()) {
                inner.send_input(bytes.to_vec());
            }
        });
    }

    /// Asks the agent's PTY to take the size that fills this screen
    /// (read-write viewers only).
    pub fn fit_session_to_screen(&self) {
        with_inner(&Rc::downgrade(&self.inner), |inner| {
            inner.fit_session_to_screen(true);
        });
    }

    /// Reconnects now instead of waiting for the next retry (the browser
    /// says it is back online).
    pub fn retry_now(&self) {
        with_inner(&Rc::downgrade(&self.inner), |inner| {
            if matches!(inner.status.connection, Connection::Reconnecting(_))
                && inner.link.is_none()
            {
                inner.retired.clear();
                inner.connect();
            }
        });
    }

    /// The screen changed size: fit the session's grid into it again, and
    /// when no local terminal owns the size, ask for this screen's size.
    pub fn refit(&self) {
        with_inner(&Rc::downgrade(&self.inner), |inner| {
            inner.refit();
            if inner.follow_screen {
                inner.fit_session_to_screen(false);
            }
        });
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.timer = None;
            inner.link = None;
            inner.retired.clear();
        }
    }
}

/// Runs `f` on the viewer's state if it still exists and is not borrowed,
/// then [`publish`]es what changed.
fn with_inner(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&mut Inner)) {
    let Some(rc) = weak.upgrade() else { return };
    {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            return;
        };
        f(&mut inner);
    }
    publish(&rc);
}

/// Notes a step of the first join on the page's performance timeline
/// (`tether:…`), where `scripts/bench phone` reads it.
fn mark(step: &str) {
    if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
        let _ = performance.mark(&format!("tether:{step}"));
    }
}

/// Updates the test hook, and has the page drawn again if its status
/// changed: once, after what is being handled now (a message's frames, say,
/// each of which may change it), in a microtask, before the next event.
fn publish(rc: &Rc<RefCell<Inner>>) {
    let Ok(mut inner) = rc.try_borrow_mut() else {
        return;
    };
    inner.hook.update(&inner.snapshot());
    if !inner.status_dirty || inner.status_due {
        return;
    }
    inner.status_due = true;
    let weak = Rc::downgrade(rc);
    wasm_bindgen_futures::spawn_local(async move {
        let Some(rc) = weak.upgrade() else { return };
        // Nothing is borrowed between tasks, so this borrow succeeds.
        let update = {
            let Ok(mut inner) = rc.try_borrow_mut() else {
                return;
            };
            inner.status_due = false;
            inner.status_dirty = false;
            (inner.on_status.clone(), inner.status.clone())
        };
        // Yew may draw synchronously: outside the borrow.
        update.0.emit(update.1);
    });
}

impl Inner {
    /// Puts the terminal on the page once there is something to see: the
    /// joined screen parsed (no longer replaying), or the link gone.
    fn show_when_ready(&mut self) {
        if !self.stream.is_replaying() || self.link.is_none() {
            self.show();
        }
    }

    /// Puts the terminal on the page (once) and fits it; without a local
    /// terminal, asks for this screen's size (which needs it laid out).
    fn show(&mut self) {
        if !self.term.is_open() {
            self.show_timer = None;
            // Drawn once at the fitted size, not drawn then fitted (each
            // font size has xterm measure and draw every row again).
            if let Some(cell) = cell_width(&self.host, BASE_FONT_SIZE) {
                let grid = cell * f64::from(self.term.size().cols);
                self.fit_font(BASE_FONT_SIZE, grid, 0.0);
            }
            self.term.open(&self.host);
            mark("terminal-opened");
            self.refit();
            if self.follow_screen {
                self.fit_session_to_screen(false);
            }
        }
    }

    /// Hands queued output to xterm up to the high watermark.
    fn pump(&mut self) {
        while let Some(chunk) = self.stream.next_write() {
            let weak = self.this.clone();
            let (end, len) = (chunk.end, chunk.data.len());
            self.term.write(&chunk.data, move || {
                with_inner(&weak, |inner| {
                    let replaying = inner.stream.is_replaying();
                    inner.stream.on_rendered(end, len);
                    if replaying && !inner.stream.is_replaying() && inner.connects == 1 {
                        mark("screen-parsed");
                    }
                    if let Some(offset) = inner.stream.ack_due() {
                        inner.send(&Frame::Ack(offset));
                    }
                    inner.show_when_ready();
                    // Output on the page (parsed before the terminal was
                    // put there counts once it is).
                    if inner.first_output_ms.is_none() && inner.term.is_open() {
                        inner.first_output_ms = web_sys::window()
                            .and_then(|w| w.performance())
                            .map(|p| p.now());
                    }
                    inner.pump();
                });
            });
        }
    }

    /// Sizes the font by the zoom: by default so that the session's columns
    /// fit the screen (below the minimum font size the page scrolls), else
    /// the size a double tap or a pinch chose (the terminal pans).
    fn refit(&mut self) {
        if !self.term.is_open() {
            return; // fitted when it is put on the page
        }
        let (grid, chrome) = self.term.grid_width();
        self.fit_font(self.term.font_size(), grid, chrome);
    }

    /// Sets the font by the zoom for a grid `grid` pixels wide at `font`,
    /// inside the host less `chrome` pixels.
    fn fit_font(&self, font: f64, grid: f64, chrome: f64) {
        let available = f64::from(self.host.client_width()) - chrome;
        let fitting = fitting_font_size(font, grid, available);
        self.term.set_font_size(self.zoom.zoom().font(fitting));
    }

    fn snapshot(&self) -> crate::test_hook::Snapshot {
        let size = self.term.size();
        crate::test_hook::Snapshot {
            state: self.status.connection.kind(),
            role: match self.status.role {
                Some(Role::ReadOnly) => "read-only",
                Some(Role::ReadWrite) => "read-write",
                None => "",
            },
            replaying: self.stream.is_replaying(),
            rendered: self.stream.rendered(),
            queued: self.stream.queued(),
            lost: self.stream.lost(),
            first_output_ms: self.first_output_ms,
            connects: self.connects,
            early_link: self.early_link,
            snapshots: self.stream.snapshots(),
            cols: size.cols,
            rows: size.rows,
            font_size: self.term.font_size(),
            zoom: self.zoom.zoom().label(),
        }
    }
}
