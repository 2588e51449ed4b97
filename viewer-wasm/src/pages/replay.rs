//! `/s/{id}/replay`: a session's recording on its own page (from the
//! dashboard's kept recordings), with the stored API key.

use yew::prelude::*;

use crate::auth::{self, Credential};
use crate::components::{ApiKeyForm, Playback};

/// Props of [`ReplayPage`].
#[derive(Properties, PartialEq)]
pub struct ReplayPageProps {
    /// The session id from the URL.
    pub id: AttrValue,
}

/// The replay page. Without a key it asks for one.
#[function_component(ReplayPage)]
pub fn replay_page(props: &ReplayPageProps) -> Html {
    let credential = use_state(auth::current);
    let Some(credential) = (*credential).clone() else {
        let on_submit = {
            let credential = credential.clone();
            Callback::from(move |key: String| {
                auth::store_key(&key);
                credential.set(Some(Credential::ApiKey(key)));
            })
        };
        return html! {
            <main class="page sessions">
                <h1>{ "Tether" }</h1>
                <ApiKeyForm {on_submit} />
            </main>
        };
    };
    html! {
        <main class="page terminal">
            <header class="term-header">
                <a class="back" href="/" aria-label="all sessions">{ "‹" }</a>
                <span class="title">{ "Recording " }{ props.id.chars().take(8).collect::<String>() }</span>
            </header>
            <Playback session_id={props.id.clone()} secret={AttrValue::from(credential.secret().to_owned())} />
        </main>
    }
}
