//! "Waiting for you" on the session page: the agent asked for the person
//! (CONTROL `attention` `waiting`), with the notification's text.

use yew::prelude::*;

use protocol::Attention;

/// Props of [`AttentionBanner`].
#[derive(Properties, PartialEq)]
pub struct AttentionBannerProps {
    /// The wait to show.
    pub waiting: Attention,
}

/// A banner under the header while the agent waits; gone when it works.
#[function_component(AttentionBanner)]
pub fn attention_banner(props: &AttentionBannerProps) -> Html {
    html! {
        <p class="attention-banner" role="alert">
            <span class="badge waiting">{ "waiting for you" }</span>
            if let Some(text) = &props.waiting.text {
                <span class="attention-text">{ text }</span>
            }
        </p>
    }
}
