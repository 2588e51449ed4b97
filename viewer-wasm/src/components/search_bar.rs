//! Find in the terminal's history: a bar over the terminal (live or
//! playback) that highlights every match of what is typed, moves between
//! them (Enter, Shift+Enter, the arrows) and says how many there are.
//! Ctrl+F / Cmd+F opens it ([`use_find_shortcut`]), Esc closes it.

use gloo::events::{EventListener, EventListenerOptions, EventListenerPhase};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use web_sys::{HtmlInputElement, KeyboardEvent};
use yew::prelude::*;

use crate::search::{Results, TermSearch};

/// Props of [`SearchBar`].
#[derive(Properties, PartialEq)]
pub struct SearchBarProps {
    /// The xterm `Terminal` to search.
    pub term: JsValue,
    /// Called when the person closes the bar.
    pub on_close: Callback<()>,
}

/// The search bar; its search addon lives as long as it is shown.
#[function_component(SearchBar)]
pub fn search_bar(props: &SearchBarProps) -> Html {
    let results = use_state(Results::default);
    let text = use_state(String::new);
    let search = use_mut_ref(|| None::<TermSearch>);
    let input = use_node_ref();
    {
        let (search, results, input) = (search.clone(), results.clone(), input.clone());
        use_effect_with(props.term.clone(), move |term: &JsValue| {
            let on_results = results.clone();
            *search.borrow_mut() = Some(TermSearch::attach(term, move |r| on_results.set(r)));
            results.set(Results::default());
            if let Some(input) = input.cast::<HtmlInputElement>() {
                let _ = input.focus();
            }
            move || drop(search.borrow_mut().take())
        });
    }
    let step = {
        let (search, text, results) = (search.clone(), text.clone(), results.clone());
        Callback::from(move |(forward, incremental): (bool, bool)| {
            let search = search.borrow();
            let Some(search) = search.as_ref() else {
                return;
            };
            if text.is_empty() {
                search.clear();
                results.set(Results::default());
            } else if forward {
                search.next(&text, incremental);
            } else {
                search.previous(&text);
            }
        })
    };
    let oninput = {
        let (search, text, results) = (search.clone(), text.clone(), results.clone());
        Callback::from(move |event: InputEvent| {
            let Some(value) = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .map(|i| i.value())
            else {
                return;
            };
            let search = search.borrow();
            if let Some(search) = search.as_ref() {
                if value.is_empty() {
                    search.clear();
                    results.set(Results::default());
                } else {
                    search.next(&value, true);
                }
            }
            text.set(value);
        })
    };
    let onkeydown = {
        let (step, on_close) = (step.clone(), props.on_close.clone());
        Callback::from(move |event: KeyboardEvent| match event.key().as_str() {
            "Enter" => {
                event.prevent_default();
                step.emit((!event.shift_key(), false));
            }
            "Escape" => {
                event.prevent_default();
                on_close.emit(());
            }
            _ => {}
        })
    };
    let previous = step.reform(|_: MouseEvent| (false, false));
    let next = step.reform(|_: MouseEvent| (true, false));
    let close = props.on_close.reform(|_: MouseEvent| ());
    let count = match (*results, text.is_empty()) {
        (_, true) => String::new(),
        (Results { count: 0, .. }, false) => "no matches".into(),
        (
            Results {
                index: Some(i),
                count,
            },
            false,
        ) => format!("{} of {count}", i + 1),
        (Results { index: None, count }, false) => format!("{count} matches"),
    };
    html! {
        <div class="search-bar" role="search">
            <input ref={input} type="search" class="search-input" placeholder="Find in history"
                aria-label="find in the terminal's history" {oninput} {onkeydown} />
            <span class="search-count" data-count={results.count.to_string()}
                data-index={results.index.map_or(String::new(), |i| (i + 1).to_string())}>{ count }</span>
            <button type="button" class="search-previous" onclick={previous} title="previous (Shift+Enter)">{ "↑" }</button>
            <button type="button" class="search-next" onclick={next} title="next (Enter)">{ "↓" }</button>
            <button type="button" class="search-close" onclick={close} title="close (Esc)">{ "×" }</button>
        </div>
    }
}

/// Calls `on_open` when Ctrl+F or Cmd+F is pressed anywhere on the page
/// while `enabled` (instead of the browser's find, and before xterm would
/// send it to the agent as Ctrl-F).
#[hook]
pub fn use_find_shortcut(enabled: bool, on_open: Callback<()>) {
    use_effect_with(enabled, move |enabled: &bool| {
        let listener = (*enabled).then(web_sys::window).flatten().map(|window| {
            let options = EventListenerOptions {
                phase: EventListenerPhase::Capture,
                passive: false,
            };
            EventListener::new_with_options(&window, "keydown", options, move |event| {
                let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                    return;
                };
                if (key.ctrl_key() || key.meta_key()) && key.key().eq_ignore_ascii_case("f") {
                    key.prevent_default();
                    key.stop_propagation();
                    on_open.emit(());
                }
            })
        });
        move || drop(listener)
    });
}
