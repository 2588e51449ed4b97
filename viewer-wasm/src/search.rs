//! xterm's search addon (`@xterm/addon-search`, the bare specifier
//! `xterm-addon-search` in the import map): finds text in a terminal's
//! scrollback and screen, highlights every match (decorations) and the
//! current one, and reports how many there are.

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "xterm-addon-search")]
extern "C" {
    /// The addon; one per terminal while the search bar is open.
    pub type SearchAddon;

    /// `new SearchAddon()`.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SearchAddon;

    /// `findNext(term, options)`: selects the next match; whether found.
    #[wasm_bindgen(method, js_name = findNext)]
    fn find_next_with(this: &SearchAddon, term: &str, options: &JsValue) -> bool;

    /// `findPrevious(term, options)`.
    #[wasm_bindgen(method, js_name = findPrevious)]
    fn find_previous_with(this: &SearchAddon, term: &str, options: &JsValue) -> bool;

    /// `clearDecorations()`: removes the highlights and the selection.
    #[wasm_bindgen(method, js_name = clearDecorations)]
    pub fn clear_decorations(this: &SearchAddon);

    /// `onDidChangeResults(listener)`: `{resultIndex, resultCount}`.
    #[wasm_bindgen(method, js_name = onDidChangeResults)]
    fn on_did_change_results(this: &SearchAddon, listener: &Function) -> JsValue;

    /// `dispose()`: unloads the addon from its terminal.
    #[wasm_bindgen(method)]
    pub fn dispose(this: &SearchAddon);
}

#[wasm_bindgen]
extern "C" {
    /// Any xterm `Terminal` (the live one or a playback's).
    type AnyTerminal;

    #[wasm_bindgen(method, js_name = loadAddon)]
    fn load_addon(this: &AnyTerminal, addon: &SearchAddon);
}

/// Where the current match is among all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Results {
    /// 0-based index of the current match (`None` when there is none, or
    /// when there are too many to number).
    pub index: Option<u32>,
    /// How many matches there are.
    pub count: u32,
}

/// A search addon loaded into one terminal, reporting results to a callback.
pub struct TermSearch {
    addon: SearchAddon,
    _listener: Closure<dyn FnMut(JsValue)>,
}

impl TermSearch {
    /// Loads the addon into `term` (an xterm `Terminal`).
    pub fn attach(term: &JsValue, on_results: impl Fn(Results) + 'static) -> Self {
        let addon = SearchAddon::new();
        term.unchecked_ref::<AnyTerminal>().load_addon(&addon);
        let listener = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let number = |name: &str| {
                Reflect::get(&event, &name.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(-1.0)
            };
            let (index, count) = (number("resultIndex"), number("resultCount"));
            on_results(Results {
                index: (index >= 0.0).then_some(index as u32),
                count: count.max(0.0) as u32,
            });
        });
        addon.on_did_change_results(listener.as_ref().unchecked_ref());
        Self {
            addon,
            _listener: listener,
        }
    }

    /// Moves to the next match of `text` (`incremental`: the current one
    /// grows while typing instead of moving on).
    pub fn next(&self, text: &str, incremental: bool) -> bool {
        self.addon
            .find_next_with(text, &options(incremental).into())
    }

    /// Moves to the previous match of `text`.
    pub fn previous(&self, text: &str) -> bool {
        self.addon.find_previous_with(text, &options(false).into())
    }

    /// Removes the highlights.
    pub fn clear(&self) {
        self.addon.clear_decorations();
    }
}

impl Drop for TermSearch {
    fn drop(&mut self) {
        self.addon.clear_decorations();
        self.addon.dispose();
    }
}

/// Search options: every match highlighted, the current one brighter.
fn options(incremental: bool) -> Object {
    let decorations = Object::new();
    for (name, value) in [
        ("matchBackground", "#5a4a00"),
        ("matchOverviewRuler", "#d29922"),
        ("activeMatchBackground", "#d29922"),
        ("activeMatchColorOverviewRuler", "#f5b82e"),
    ] {
        let _ = Reflect::set(&decorations, &name.into(), &value.into());
    }
    let options = Object::new();
    let _ = Reflect::set(&options, &"decorations".into(), &decorations);
    let _ = Reflect::set(&options, &"incremental".into(), &incremental.into());
    options
}
