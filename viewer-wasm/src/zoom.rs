//! How big the session's grid is drawn: fitted to the screen's width (the
//! default: a phone shows every column), at the base size (1:1, panned), or
//! at the size a pinch chose. The session's size never changes for this: a
//! phone zooming must not reflow the desktop.
//!
//! Pure logic (no browser types), driven by the gestures in
//! `viewer::gestures` and unit-tested natively.

use crate::term::{BASE_FONT_SIZE, MIN_FONT_SIZE};

/// Largest font a pinch can zoom to.
pub const MAX_FONT_SIZE: f64 = 32.0;
/// Longest time between the two taps of a double tap, in milliseconds.
const DOUBLE_TAP_MS: f64 = 300.0;
/// Farthest apart the two taps of a double tap may land, in CSS pixels.
const DOUBLE_TAP_SLOP: f64 = 30.0;

/// What decides the font size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zoom {
    /// As large as fits the screen's width, between the minimum and the base
    /// size (below the minimum the page scrolls).
    FitWidth,
    /// This font size, whatever the screen; the terminal pans.
    Font(f64),
}

impl Zoom {
    /// The font size to draw at, given the one that fits the width.
    pub fn font(self, fitting: f64) -> f64 {
        match self {
            Zoom::FitWidth => fitting,
            Zoom::Font(font) => font,
        }
    }

    /// A stable word for the test hook: `fit` or `manual`.
    pub fn label(self) -> &'static str {
        match self {
            Zoom::FitWidth => "fit",
            Zoom::Font(_) => "manual",
        }
    }
}

/// The zoom and the gesture in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoomState {
    zoom: Zoom,
    pinch: Option<Pinch>,
    last_tap: Option<Tap>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pinch {
    start_distance: f64,
    start_font: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    at_ms: f64,
    x: f64,
    y: f64,
}

impl Default for ZoomState {
    fn default() -> Self {
        Self {
            zoom: Zoom::FitWidth,
            pinch: None,
            last_tap: None,
        }
    }
}

impl ZoomState {
    /// The zoom in force.
    pub fn zoom(&self) -> Zoom {
        self.zoom
    }

    /// Two fingers went down `distance` pixels apart on a grid drawn at
    /// `font`.
    pub fn pinch_start(&mut self, distance: f64, font: f64) {
        if distance > 0.0 && distance.is_finite() {
            self.pinch = Some(Pinch {
                start_distance: distance,
                start_font: font,
            });
            self.last_tap = None;
        }
    }

    /// Whether a pinch is in progress.
    pub fn pinching(&self) -> bool {
        self.pinch.is_some()
    }

    /// While pinching, the scale to show the grid at (a cheap CSS
    /// transform, until the fingers lift) for fingers `distance` apart.
    pub fn pinch_scale(&self, distance: f64) -> Option<f64> {
        let pinch = self.pinch?;
        Some(self.pinch_font(pinch, distance) / pinch.start_font)
    }

    /// The fingers lifted `distance` apart: the grid takes the pinched font
    /// size from now on. Returns it.
    pub fn pinch_end(&mut self, distance: f64) -> Option<f64> {
        let pinch = self.pinch.take()?;
        let font = self.pinch_font(pinch, distance);
        self.zoom = Zoom::Font(font);
        Some(font)
    }

    fn pinch_font(&self, pinch: Pinch, distance: f64) -> f64 {
        let ratio = if distance > 0.0 && distance.is_finite() {
            distance / pinch.start_distance
        } else {
            1.0
        };
        round_quarter(pinch.start_font * ratio).clamp(MIN_FONT_SIZE, MAX_FONT_SIZE)
    }

    /// A one-finger tap at `(x, y)` at time `now_ms`. A second tap close in
    /// time and place is a double tap: it toggles between fitting the width
    /// and the base size (1:1). Returns whether the zoom changed.
    pub fn tap(&mut self, now_ms: f64, x: f64, y: f64) -> bool {
        let tap = Tap {
            at_ms: now_ms,
            x,
            y,
        };
        let double = self.last_tap.is_some_and(|last| {
            now_ms - last.at_ms <= DOUBLE_TAP_MS
                && (x - last.x).hypot(y - last.y) <= DOUBLE_TAP_SLOP
        });
        if !double {
            self.last_tap = Some(tap);
            return false;
        }
        self.last_tap = None;
        self.zoom = match self.zoom {
            Zoom::FitWidth => Zoom::Font(BASE_FONT_SIZE),
            Zoom::Font(_) => Zoom::FitWidth,
        };
        true
    }
}

fn round_quarter(font: f64) -> f64 {
    (font * 4.0).round() / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_the_width_until_told_otherwise() {
        let state = ZoomState::default();
        assert_eq!(state.zoom(), Zoom::FitWidth);
        assert_eq!(state.zoom().font(7.5), 7.5);
        assert_eq!(Zoom::Font(20.0).font(7.5), 20.0);
    }

    #[test]
    fn a_pinch_scales_the_font_and_keeps_it() {
        let mut state = ZoomState::default();
        state.pinch_start(100.0, 7.0);
        assert!(state.pinching());
        assert_eq!(state.pinch_scale(200.0), Some(2.0));
        assert_eq!(state.pinch_end(200.0), Some(14.0));
        assert!(!state.pinching());
        assert_eq!(state.zoom(), Zoom::Font(14.0));
        assert_eq!(
            state.zoom().font(7.0),
            14.0,
            "the fitted size no longer matters"
        );
    }

    #[test]
    fn a_pinch_stays_within_readable_bounds() {
        let mut state = ZoomState::default();
        state.pinch_start(100.0, 10.0);
        assert_eq!(state.pinch_end(1_000.0), Some(MAX_FONT_SIZE));
        state.pinch_start(100.0, 10.0);
        assert_eq!(state.pinch_end(1.0), Some(MIN_FONT_SIZE));
        state.pinch_start(0.0, 10.0);
        assert!(!state.pinching(), "fingers at one point are no pinch");
        assert_eq!(state.pinch_end(50.0), None);
    }

    #[test]
    fn a_double_tap_toggles_fit_width_and_one_to_one() {
        let mut state = ZoomState::default();
        assert!(!state.tap(1_000.0, 50.0, 50.0));
        assert!(state.tap(1_200.0, 55.0, 52.0));
        assert_eq!(state.zoom(), Zoom::Font(BASE_FONT_SIZE));
        assert!(!state.tap(2_000.0, 50.0, 50.0));
        assert!(state.tap(2_100.0, 50.0, 50.0));
        assert_eq!(state.zoom(), Zoom::FitWidth);
    }

    #[test]
    fn slow_or_distant_taps_are_single_taps() {
        let mut state = ZoomState::default();
        assert!(!state.tap(1_000.0, 50.0, 50.0));
        assert!(!state.tap(1_400.0, 50.0, 50.0), "too slow");
        assert!(!state.tap(1_500.0, 150.0, 50.0), "too far");
        assert_eq!(state.zoom(), Zoom::FitWidth);
    }
}
