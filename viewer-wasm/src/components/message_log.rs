//! The session's message log, shown beside the terminal.

use yew::prelude::*;

use protocol::api::MessageInfo;

/// Props of [`MessageLog`].
#[derive(Properties, PartialEq)]
pub struct MessageLogProps {
    /// Messages, oldest first.
    pub messages: Vec<MessageInfo>,
    /// Called when the person closes the panel.
    pub on_close: Callback<()>,
}

/// A panel listing the session's messages ("started", exit notices,
/// anything the agent posted), newest at the bottom.
#[function_component(MessageLog)]
pub fn message_log(props: &MessageLogProps) -> Html {
    let on_close = props.on_close.reform(|_: MouseEvent| ());
    html! {
        <aside class="message-log" aria-label="session messages">
            <header>
                <span>{ "Messages" }</span>
                <button type="button" class="link-button" onclick={on_close}>{ "Close" }</button>
            </header>
            if props.messages.is_empty() {
                <p class="muted">{ "No messages yet." }</p>
            }
            <ol>
                { for props.messages.iter().map(|message| html! {
                    <li class={classes!("message", message.requires_user_input.then_some("needs-input"))}>
                        <span class="meta">{ format!("{} · {}", message.sender_type, clock(&message.created_at)) }</span>
                        <span class="content">{ &message.content }</span>
                    </li>
                }) }
            </ol>
        </aside>
    }
}

/// `2026-01-02T03:04:05Z` → the local time of day.
fn clock(timestamp: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(timestamp));
    if date.get_time().is_nan() {
        return timestamp.to_owned();
    }
    date.to_locale_time_string("default").into()
}
