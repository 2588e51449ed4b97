//! The connection state badge, always visible on the terminal page.

use yew::prelude::*;

use crate::viewer::Connection;

/// Props of [`StatusBadge`].
#[derive(Properties, PartialEq)]
pub struct StatusBadgeProps {
    /// The state to show.
    pub connection: Connection,
}

/// A coloured badge: connecting, live, agent offline, reconnecting, ended
/// (with exit status), refused (with the reason).
#[function_component(StatusBadge)]
pub fn status_badge(props: &StatusBadgeProps) -> Html {
    let kind = props.connection.kind();
    html! {
        <span class={classes!("badge", format!("state-{kind}"))} data-state={kind} role="status">
            { props.connection.label() }
        </span>
    }
}
