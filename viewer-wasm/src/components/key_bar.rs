//! The phone key bar: keys a soft keyboard lacks (shown on narrow screens).

use yew::prelude::*;

use crate::keys::BarKey;

/// Props of [`KeyBar`].
#[derive(Properties, PartialEq)]
pub struct KeyBarProps {
    /// Called with the pressed key.
    pub on_press: Callback<BarKey>,
    /// Whether the sticky Ctrl modifier is armed (the Ctrl key shows pressed).
    pub ctrl_armed: bool,
    /// Whether the keys do nothing (read-only, offline, ended).
    pub disabled: bool,
}

/// A row of buttons: Esc, Tab, Ctrl, arrows, Enter, Ctrl-C.
///
/// Buttons act on `pointerdown` with the default prevented, so the
/// terminal keeps focus and the soft keyboard stays open.
#[function_component(KeyBar)]
pub fn key_bar(props: &KeyBarProps) -> Html {
    html! {
        <nav class="key-bar" aria-label="terminal keys">
            { for BarKey::ALL.iter().map(|&key| {
                let on_press = props.on_press.clone();
                let onpointerdown = Callback::from(move |event: PointerEvent| {
                    event.prevent_default();
                    on_press.emit(key);
                });
                let pressed = key == BarKey::Ctrl && props.ctrl_armed;
                html! {
                    <button type="button" class={classes!("key", pressed.then_some("armed"))}
                        data-key={key.name()} aria-label={key.name()} aria-pressed={pressed.to_string()}
                        disabled={props.disabled} {onpointerdown}>
                        { key.label() }
                    </button>
                }
            }) }
        </nav>
    }
}
