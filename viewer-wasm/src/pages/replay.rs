//! `/s/{id}/replay`: a session's recording on its own page (from the
//! dashboard's kept recordings), with the stored API key.

use yew::prelude::*;

use super::sign_in::sign_in_page;
use crate::auth;
use crate::components::Playback;

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
    let Some(secret) = credential.as_ref().map(|c| c.secret().to_owned()) else {
        return sign_in_page(&credential);
    };
    html! {
        <main class="page terminal">
            <header class="term-header">
                <a class="back" href="/" aria-label="all sessions">{ "‹" }</a>
                <span class="title">{ "Recording " }{ props.id.chars().take(8).collect::<String>() }</span>
            </header>
            <Playback session_id={props.id.clone()} secret={AttrValue::from(secret)} />
        </main>
    }
}
