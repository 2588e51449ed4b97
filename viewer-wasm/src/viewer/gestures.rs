//! Touch gestures on the terminal ([`crate::zoom`]): two fingers pinch the
//! grid larger or smaller (shown as a CSS scale while the fingers move, then
//! applied as a font size), a double tap toggles fit-width and 1:1, and one
//! finger pans the terminal natively.

use std::cell::Cell;
use std::rc::{Rc, Weak};

use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, TouchEvent, TouchList};

use super::{with_inner, Inner};
use std::cell::RefCell;

/// Longest press that still counts as a tap, in milliseconds.
const TAP_MS: f64 = 250.0;
/// Farthest a finger may move during a tap, in CSS pixels.
const TAP_SLOP: f64 = 10.0;

/// A finger that went down and may become a tap.
#[derive(Clone, Copy)]
struct Press {
    at_ms: f64,
    x: f64,
    y: f64,
    moved: bool,
}

/// Listens for pinch and double tap on `host`; the listeners live as long as
/// the returned values.
pub(super) fn install(host: &HtmlElement, viewer: Weak<RefCell<Inner>>) -> Vec<EventListener> {
    let press: Rc<Cell<Option<Press>>> = Rc::default();
    let last_distance: Rc<Cell<f64>> = Rc::default();
    let options = EventListenerOptions::enable_prevent_default();

    let start = {
        let (viewer, press, last_distance) = (viewer.clone(), press.clone(), last_distance.clone());
        EventListener::new_with_options(host, "touchstart", options, move |event| {
            let Some(event) = event.dyn_ref::<TouchEvent>() else {
                return;
            };
            let touches = event.touches();
            match touches.length() {
                1 => {
                    let (x, y) = point(&touches, 0);
                    press.set(Some(Press {
                        at_ms: now_ms(),
                        x,
                        y,
                        moved: false,
                    }));
                }
                2 => {
                    press.set(None);
                    let distance = distance(&touches);
                    last_distance.set(distance);
                    with_inner(&viewer, |inner| {
                        let font = inner.term.font_size();
                        inner.zoom.pinch_start(distance, font);
                    });
                    event.prevent_default();
                }
                _ => press.set(None),
            }
        })
    };

    let moved = {
        let (viewer, press, last_distance) = (viewer.clone(), press.clone(), last_distance.clone());
        EventListener::new_with_options(host, "touchmove", options, move |event| {
            let Some(event) = event.dyn_ref::<TouchEvent>() else {
                return;
            };
            let touches = event.touches();
            if touches.length() == 2 {
                let distance = distance(&touches);
                last_distance.set(distance);
                with_inner(&viewer, |inner| {
                    if let Some(scale) = inner.zoom.pinch_scale(distance) {
                        inner.term.preview_scale(Some(scale));
                    }
                });
                event.prevent_default();
            } else if let Some(mut down) = press.get() {
                let (x, y) = point(&touches, 0);
                down.moved |= (x - down.x).hypot(y - down.y) > TAP_SLOP;
                press.set(Some(down));
            }
        })
    };

    let end = move |name: &'static str| {
        let (viewer, press, last_distance) = (viewer.clone(), press.clone(), last_distance.clone());
        EventListener::new_with_options(host, name, options, move |event| {
            let Some(event) = event.dyn_ref::<TouchEvent>() else {
                return;
            };
            let mut handled = false;
            with_inner(&viewer, |inner| {
                if inner.zoom.pinching() {
                    if event.touches().length() < 2 {
                        inner.zoom.pinch_end(last_distance.get());
                        inner.term.preview_scale(None);
                        inner.refit();
                    }
                    handled = true;
                } else if let Some(down) = press.take() {
                    let quick = now_ms() - down.at_ms <= TAP_MS;
                    if quick && !down.moved && inner.zoom.tap(now_ms(), down.x, down.y) {
                        inner.refit();
                        handled = true;
                    }
                }
            });
            if handled {
                // No synthetic click or page zoom after our own gesture.
                event.prevent_default();
            }
        })
    };

    vec![start, moved, end("touchend"), end("touchcancel")]
}

fn point(touches: &TouchList, index: u32) -> (f64, f64) {
    touches.item(index).map_or((0.0, 0.0), |t| {
        (f64::from(t.client_x()), f64::from(t.client_y()))
    })
}

fn distance(touches: &TouchList) -> f64 {
    let (a, b) = (point(touches, 0), point(touches, 1));
    (a.0 - b.0).hypot(a.1 - b.1)
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
