//! Sign-in: the API key, entered once and kept in this browser.

use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Props of [`ApiKeyForm`].
#[derive(Properties, PartialEq)]
pub struct ApiKeyFormProps {
    /// Called with the entered key.
    pub on_submit: Callback<String>,
    /// Why the key is asked for again, if it was refused.
    #[prop_or_default]
    pub error: Option<String>,
}

/// A one-field form asking for the API key.
#[function_component(ApiKeyForm)]
pub fn api_key_form(props: &ApiKeyFormProps) -> Html {
    let input = use_node_ref();
    let onsubmit = {
        let input = input.clone();
        let on_submit = props.on_submit.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(field) = input.cast::<HtmlInputElement>() {
                let key = field.value().trim().to_owned();
                if !key.is_empty() {
                    on_submit.emit(key);
                }
            }
        })
    };
    html! {
        <form class="key-form" {onsubmit}>
            <label for="api-key">{ "API key" }</label>
            <input id="api-key" ref={input} type="password" autocomplete="off"
                placeholder="paste the key tether-relay printed" />
            <button type="submit">{ "Sign in" }</button>
            if let Some(error) = &props.error {
                <p class="error">{ error }</p>
            }
            <p class="hint">{ "The key stays in this browser (localStorage)." }</p>
        </form>
    }
}
