//! xterm.js glue: the `xterm-js-rs` bindings (written for xterm 4) plus the
//! xterm 6 methods they lack, declared on [`Xterm`], a local extern type
//! that `extends` their `Terminal`.
//!
//! xterm writes asynchronously, so output is always passed as a *copied*
//! `Uint8Array`, never as a view into wasm memory.

use js_sys::{Function, Object, Reflect, Uint8Array};
use protocol::Size;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;
use xterm_js_rs::addons::fit::FitAddon;
use xterm_js_rs::{Terminal, TerminalOptions};

/// Font size at which a session fits its columns without scaling.
pub const BASE_FONT_SIZE: f64 = 14.0;
/// Smallest font the viewer scales to before it scrolls instead.
pub const MIN_FONT_SIZE: f64 = 6.0;
/// Widest grid the viewer draws.
pub const MAX_COLS: u16 = 1_000;
/// Tallest grid the viewer draws.
pub const MAX_ROWS: u16 = 500;
/// The terminal's fonts, first found wins.
const FONT_FAMILY: &str = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";

#[wasm_bindgen(module = "xterm")]
extern "C" {
    /// xterm 6's `Terminal`, with the members `xterm-js-rs` does not bind.
    #[wasm_bindgen(extends = Terminal, js_name = Terminal)]
    pub type Xterm;

    /// `write(data: Uint8Array, callback)`: the callback runs once xterm has
    /// parsed the bytes.
    #[wasm_bindgen(method, js_name = write)]
    fn write_bytes(this: &Xterm, data: &Uint8Array, callback: &Function);

    /// The live options object (xterm 5+ replaced `setOption`).
    #[wasm_bindgen(method, getter)]
    fn options(this: &Xterm) -> Object;

    /// Terminal modes such as `applicationCursorKeysMode`.
    #[wasm_bindgen(method, getter)]
    fn modes(this: &Xterm) -> Object;

    /// `loadAddon(addon)`.
    #[wasm_bindgen(method, js_name = loadAddon)]
    fn load_addon(this: &Xterm, addon: &JsValue);
}

#[wasm_bindgen(module = "xterm-addon-fit")]
extern "C" {
    /// The fit addon, for the dimensions that fill its parent element.
    #[wasm_bindgen(js_name = FitAddon)]
    type FitAddonExt;

    /// `proposeDimensions()`: `{cols, rows}` or `undefined` before the
    /// terminal is laid out.
    #[wasm_bindgen(method, js_name = proposeDimensions)]
    fn propose_dimensions(this: &FitAddonExt) -> JsValue;
}

/// Input from the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermInput {
    /// Typed or pasted text, or a textual reply (sent as UTF-8).
    Text(String),
    /// Raw bytes (xterm's `onBinary`).
    Binary(Vec<u8>),
}

/// The bytes of a JavaScript "binary string" (one character per byte).
pub fn binary_string_bytes(text: &str) -> Vec<u8> {
    text.chars().map(|c| (u32::from(c) & 0xff) as u8).collect()
}

/// One xterm.js terminal on the page, with its fit addon.
///
/// It is created closed: it parses what it is given, but draws nothing
/// until [`Term::open`] puts it on the page. A joined screen is parsed
/// before that (xterm 6 updates its scroll bar for every line that scrolls
/// while it is open, a good share of parsing a snapshot's scrollback), and
/// drawn once.
pub struct Term {
    xterm: Xterm,
    fit: FitAddon,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
    /// Whether it is on the page.
    opened: std::cell::Cell<bool>,
}

impl Term {
    /// Creates a terminal with the session's look, not yet on the page.
    pub fn closed() -> Self {
        let options: TerminalOptions = Object::new().unchecked_into();
        set(&options, "fontSize", &BASE_FONT_SIZE.into());
        set(&options, "fontFamily", &FONT_FAMILY.into());
        set(&options, "scrollback", &10_000.into());
        set(&options, "cursorBlink", &true.into());
        // The search addon highlights matches with decorations, which xterm
        // 6 still calls a proposed API.
        set(&options, "allowProposedApi", &true.into());
        let theme = Object::new();
        set(&theme, "background", &"#0f1115".into());
        set(&theme, "foreground", &"#e6e6e6".into());
        set(&options, "theme", &theme);
        let xterm: Xterm = Terminal::construct(Some(&options)).unchecked_into();
        let fit = FitAddon::new();
        xterm.load_addon(&fit);
        Self {
            xterm,
            fit,
            _handlers: Vec::new(),
            opened: std::cell::Cell::new(false),
        }
    }

    /// Puts the terminal on the page in `parent` and focuses it (once;
    /// later calls do nothing).
    pub fn open(&self, parent: &HtmlElement) {
        if !self.opened.replace(true) {
            self.xterm.open(parent.clone());
            self.xterm.focus();
        }
    }

    /// Whether it is on the page.
    pub fn is_open(&self) -> bool {
        self.opened.get()
    }

    /// The JS `Terminal` object (for the test hook).
    pub fn js(&self) -> &JsValue {
        &self.xterm
    }

    /// Calls `on_input` with what the person types or pastes and with the
    /// terminal's answers to queries: `onData` gives text, `onBinary` a
    /// string whose characters are bytes (some mouse reports).
    pub fn on_input(&mut self, on_input: impl Fn(TermInput) + 'static) {
        let on_input = std::rc::Rc::new(on_input);
        for binary in [false, true] {
            let on_input = on_input.clone();
            let handler = Closure::<dyn FnMut(JsValue)>::new(move |data: JsValue| {
                let Some(text) = data.as_string() else { return };
                on_input(if binary {
                    TermInput::Binary(binary_string_bytes(&text))
                } else {
                    TermInput::Text(text)
                });
            });
            let function = handler.as_ref().unchecked_ref();
            if binary {
                self.xterm.on_binary(function);
            } else {
                self.xterm.on_data(function);
            }
            self._handlers.push(handler);
        }
    }

    /// Writes output bytes; `done` runs once xterm has processed them.
    pub fn write(&self, data: &[u8], done: impl FnOnce() + 'static) {
        let bytes = Uint8Array::from(data);
        let callback = Closure::once_into_js(done);
        self.xterm.write_bytes(&bytes, callback.unchecked_ref());
    }

    /// Writes output text (for playback: no flow control needed).
    pub fn write_text(&self, text: &str) {
        if !text.is_empty() {
            self.xterm.write(text);
        }
    }

    /// Back to a blank terminal (scrollback and modes too).
    pub fn reset(&self) {
        self.xterm.reset();
    }

    /// The grid's size.
    pub fn size(&self) -> Size {
        let clamp = |n: u32| u16::try_from(n).unwrap_or(u16::MAX);
        Size::new(clamp(self.xterm.get_rows()), clamp(self.xterm.get_cols()))
    }

    /// Sets the grid to `size` (the session's), within [`MAX_COLS`] ×
    /// [`MAX_ROWS`]: a size from the network must not make xterm allocate
    /// without bound.
    pub fn resize(&self, size: Size) {
        let size = Size::new(size.rows.min(MAX_ROWS), size.cols.min(MAX_COLS));
        if self.size() != size && !size.is_empty() {
            self.xterm.resize(size.cols.into(), size.rows.into());
        }
    }

    /// The current font size.
    pub fn font_size(&self) -> f64 {
        Reflect::get(&self.xterm.options(), &"fontSize".into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(BASE_FONT_SIZE)
    }

    /// Changes the font size (xterm re-measures and redraws).
    pub fn set_font_size(&self, size: f64) {
        if (self.font_size() - size).abs() > 0.01 {
            set(&self.xterm.options(), "fontSize", &size.into());
        }
    }

    /// Read-only: typing does nothing, the cursor does not blink.
    pub fn set_read_only(&self, read_only: bool) {
        let options = self.xterm.options();
        set(&options, "disableStdin", &read_only.into());
        set(&options, "cursorBlink", &(!read_only).into());
    }

    /// Whether the program asked for application cursor keys (DECCKM).
    pub fn application_cursor(&self) -> bool {
        Reflect::get(&self.xterm.modes(), &"applicationCursorKeysMode".into())
            .map(|v| v.is_truthy())
            .unwrap_or(false)
    }

    /// The size that would fill the terminal's parent element at the base
    /// font size, or `None` before layout.
    pub fn proposed_size(&self) -> Option<Size> {
        if !self.is_open() {
            return None;
        }
        let font = self.font_size();
        self.set_font_size(BASE_FONT_SIZE);
        let fit: &FitAddonExt = self.fit.unchecked_ref();
        let dims = fit.propose_dimensions();
        self.set_font_size(font);
        let get = |name: &str| {
            Reflect::get(&dims, &name.into())
                .ok()
                .and_then(|v| v.as_f64())
                .filter(|n| n.is_finite() && *n >= 1.0)
                .map(|n| n.min(f64::from(u16::MAX)) as u16)
        };
        Some(Size::new(get("rows")?, get("cols")?))
    }

    /// The rendered width of the grid in CSS pixels, and the width the
    /// terminal element adds around it (padding, scrollbar).
    pub fn grid_width(&self) -> (f64, f64) {
        if !self.is_open() {
            return (0.0, 0.0);
        }
        let element = self.xterm.get_element();
        let grid = element
            .query_selector(".xterm-screen")
            .ok()
            .flatten()
            .map(|screen| screen.get_bounding_client_rect().width())
            .unwrap_or(0.0);
        let total = element.get_bounding_client_rect().width();
        (grid, (total - grid).max(0.0))
    }

    /// Shows the grid scaled by `scale` (a CSS transform, cheap during a
    /// pinch), or as drawn with `None`.
    pub fn preview_scale(&self, scale: Option<f64>) {
        if !self.is_open() {
            return;
        }
        let style = self.xterm.get_element().style();
        let _ = match scale {
            Some(scale) => style
                .set_property("transform", &format!("scale({scale})"))
                .and_then(|()| style.set_property("transform-origin", "0 0")),
            None => style.remove_property("transform").map(|_| ()),
        };
    }

    /// Moves keyboard focus to the terminal (brings up a soft keyboard),
    /// once it is on the page.
    pub fn focus(&self) {
        if self.is_open() {
            self.xterm.focus();
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        self.xterm.dispose();
    }
}

/// The width of the terminal's character cell at `font_size`, measured in
/// `parent` as xterm does (a run of `W`s), or `None` before layout: what
/// fitting a grid takes before xterm has drawn it.
pub fn cell_width(parent: &HtmlElement, font_size: f64) -> Option<f64> {
    const RUN: u32 = 32;
    let document = parent.owner_document()?;
    let probe: HtmlElement = document.create_element("span").ok()?.dyn_into().ok()?;
    let style = probe.style();
    for (name, value) in [
        ("position", "absolute"),
        ("visibility", "hidden"),
        ("white-space", "pre"),
        ("font-family", FONT_FAMILY),
        ("font-size", &format!("{font_size}px")),
    ] {
        let _ = style.set_property(name, value);
    }
    probe.set_text_content(Some(&"W".repeat(RUN as usize)));
    parent.append_child(&probe).ok()?;
    let width = probe.get_bounding_client_rect().width() / f64::from(RUN);
    probe.remove();
    (width > 0.0).then_some(width)
}

/// The font size at which a grid measured `grid_width` pixels wide at
/// `font` fits into `available` pixels, between [`MIN_FONT_SIZE`] and
/// [`BASE_FONT_SIZE`]. Below the minimum the page scrolls instead.
pub fn fitting_font_size(font: f64, grid_width: f64, available: f64) -> f64 {
    if grid_width <= 0.0 || available <= 0.0 || !font.is_finite() {
        return BASE_FONT_SIZE;
    }
    // Cell width grows about linearly with the font size; round down to a
    // quarter pixel so that the grid never overflows by a hair.
    let ideal = font * available / grid_width;
    ((ideal * 4.0).floor() / 4.0).clamp(MIN_FONT_SIZE, BASE_FONT_SIZE)
}

fn set(target: &JsValue, name: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(target, &name.into(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_strings_are_bytes() {
        assert_eq!(
            binary_string_bytes("\u{1b}[M\u{ff}\u{80}"),
            [0x1b, b'[', b'M', 0xff, 0x80]
        );
    }

    #[test]
    fn font_shrinks_to_fit_and_stops_at_the_minimum() {
        assert_eq!(fitting_font_size(14.0, 700.0, 1400.0), BASE_FONT_SIZE);
        assert_eq!(fitting_font_size(14.0, 700.0, 350.0), 7.0);
        assert_eq!(fitting_font_size(14.0, 1400.0, 350.0), MIN_FONT_SIZE);
        assert_eq!(fitting_font_size(14.0, 0.0, 350.0), BASE_FONT_SIZE);
    }
}
