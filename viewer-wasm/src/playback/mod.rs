//! Playback of a recording in the viewer's own xterm.js: the recording's
//! output is written to a terminal at its pace (times `speed`), a seek
//! resets the terminal and replays everything up to the new time at once.
//! The controls (Yew) only receive a [`PlayerStatus`].
//!
//! Tests read `window.__tetherPlayback` (`term`, `time`, `duration`,
//! `playing`, `speed`, `markers`).

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use gloo::timers::callback::Interval;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::HtmlElement;
use yew::Callback;

use crate::term::{fitting_font_size, Term};

pub mod cast;

pub use cast::{Cast, Step};

/// How often a playing recording advances (milliseconds).
const TICK_MS: u32 = 33;
/// The speeds offered.
pub const SPEEDS: [f64; 4] = [1.0, 2.0, 4.0, 16.0];

/// What the controls show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerStatus {
    /// Seconds played, on the idle-limited timeline.
    pub time: f64,
    /// The recording's length on that timeline.
    pub duration: f64,
    /// Whether it is playing.
    pub playing: bool,
    /// The speed factor.
    pub speed: f64,
}

/// A recording playing in a terminal; stops on drop.
pub struct Player {
    inner: Rc<RefCell<State>>,
}

struct State {
    this: Weak<RefCell<State>>,
    host: HtmlElement,
    term: Term,
    cast: Rc<Cast>,
    /// Index of the first step not yet written.
    next: usize,
    time: f64,
    speed: f64,
    /// `performance.now()` of the last advance while playing.
    last_tick: Option<f64>,
    ticker: Option<Interval>,
    on_status: Callback<PlayerStatus>,
    hook: Object,
}

impl Player {
    /// Opens a terminal in `host` showing `cast` at its start (paused).
    pub fn start(host: HtmlElement, cast: Rc<Cast>, on_status: Callback<PlayerStatus>) -> Self {
        let term = Term::closed();
        term.open(&host);
        term.set_read_only(true);
        let hook = Object::new();
        set(&hook, "term", term.js());
        let markers: Array = cast
            .markers
            .iter()
            .map(|m| {
                let marker = Object::new();
                set(&marker, "at", &m.at.into());
                set(&marker, "label", &m.label.as_str().into());
                JsValue::from(marker)
            })
            .collect();
        set(&hook, "markers", &markers);
        if let Some(window) = web_sys::window() {
            set(&window, "__tetherPlayback", &hook);
        }
        let inner = Rc::new_cyclic(|this| {
            RefCell::new(State {
                this: this.clone(),
                host,
                term,
                cast,
                next: 0,
                time: 0.0,
                speed: 1.0,
                last_tick: None,
                ticker: None,
                on_status,
                hook,
            })
        });
        let player = Self { inner };
        player.update(|state| state.seek(0.0));
        player
    }

    /// Plays from where it is (from the start when at the end).
    pub fn play(&self) {
        self.update(|state| {
            if state.time >= state.cast.duration {
                state.seek(0.0);
            }
            state.play();
        });
    }

    /// Pauses.
    pub fn pause(&self) {
        self.update(State::pause);
    }

    /// Plays or pauses.
    pub fn toggle(&self) {
        if self.inner.borrow().ticker.is_some() {
            self.pause();
        } else {
            self.play();
        }
    }

    /// Plays `speed` times as fast.
    pub fn set_speed(&self, speed: f64) {
        self.update(|state| {
            state.advance();
            state.speed = speed;
        });
    }

    /// Shows the screen at `time` seconds (playing on if it was playing).
    pub fn seek(&self, time: f64) {
        self.update(|state| state.seek(time));
    }

    /// The terminal's JS object (for the search bar).
    pub fn term_js(&self) -> JsValue {
        self.inner.borrow().term.js().clone()
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        with_state(&Rc::downgrade(&self.inner), f);
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        if let Ok(mut state) = self.inner.try_borrow_mut() {
            state.ticker = None;
        }
    }
}

fn with_state(weak: &Weak<RefCell<State>>, f: impl FnOnce(&mut State)) {
    let Some(rc) = weak.upgrade() else { return };
    let status = {
        let Ok(mut state) = rc.try_borrow_mut() else {
            return;
        };
        f(&mut state);
        state.publish()
    };
    status.0.emit(status.1);
}

impl State {
    fn play(&mut self) {
        if self.ticker.is_some() {
            return;
        }
        self.last_tick = Some(now_ms());
        let weak = self.this.clone();
        self.ticker = Some(Interval::new(TICK_MS, move || {
            with_state(&weak, State::advance);
        }));
    }

    fn pause(&mut self) {
        self.advance();
        self.ticker = None;
        self.last_tick = None;
    }

    /// Moves the time on by the real time since the last advance, times the
    /// speed, and writes what happened meanwhile; stops at the end.
    fn advance(&mut self) {
        let Some(last) = self.last_tick else { return };
        let now = now_ms();
        self.last_tick = Some(now);
        let time = (self.time + (now - last) / 1000.0 * self.speed).min(self.cast.duration);
        self.write_until(time);
        if time >= self.cast.duration {
            self.ticker = None;
            self.last_tick = None;
        }
    }

    fn seek(&mut self, time: f64) {
        let time = time.clamp(0.0, self.cast.duration);
        if time < self.time || self.next == 0 {
            self.term.reset();
            self.term.resize(self.cast.size);
            self.next = 0;
            self.refit();
        }
        self.write_until(time);
        if self.last_tick.is_some() {
            self.last_tick = Some(now_ms());
        }
    }

    /// Writes the steps up to `time` (output joined into one write).
    fn write_until(&mut self, time: f64) {
        let cast = Rc::clone(&self.cast);
        let end = cast.steps_until(time);
        let mut text = String::new();
        for (_, step) in &cast.steps[self.next.min(end)..end] {
            match step {
                Step::Output(output) => text.push_str(output),
                Step::Resize(size) => {
                    self.term.write_text(&std::mem::take(&mut text));
                    self.term.resize(*size);
                    self.refit();
                }
            }
        }
        self.term.write_text(&text);
        self.next = end;
        self.time = time;
    }

    /// The font that fits the recording's columns into the host.
    fn refit(&mut self) {
        let (grid, chrome) = self.term.grid_width();
        let available = f64::from(self.host.client_width()) - chrome;
        let font = fitting_font_size(self.term.font_size(), grid, available);
        self.term.set_font_size(font);
    }

    fn publish(&self) -> (Callback<PlayerStatus>, PlayerStatus) {
        let status = PlayerStatus {
            time: self.time,
            duration: self.cast.duration,
            playing: self.ticker.is_some(),
            speed: self.speed,
        };
        set(&self.hook, "time", &status.time.into());
        set(&self.hook, "duration", &status.duration.into());
        set(&self.hook, "playing", &status.playing.into());
        set(&self.hook, "speed", &status.speed.into());
        (self.on_status.clone(), status)
    }
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(target, &name.into(), value);
}
