//! The dashboard's notifications switch: **Enable notifications** asks the
//! browser's permission (only from this click) and subscribes to Web Push;
//! **Turn off** stops both.

use yew::platform::spawn_local;
use yew::prelude::*;

use crate::notify;

/// Props of [`NotifyToggle`].
#[derive(Properties, PartialEq)]
pub struct NotifyToggleProps {
    /// The API key (push subscriptions belong to its user).
    pub api_key: AttrValue,
}

#[derive(Clone, PartialEq)]
enum Switch {
    /// Off; with why, when turning it on failed.
    Off(Option<String>),
    Busy,
    On(Push),
}

/// Web Push, while notifications are on.
#[derive(Clone, PartialEq)]
enum Push {
    Subscribing,
    Subscribed,
    /// Not available; why (the open dashboard still notifies).
    Off(String),
}

/// The switch and what it achieved.
#[function_component(NotifyToggle)]
pub fn notify_toggle(props: &NotifyToggleProps) -> Html {
    let switch = use_state(|| {
        if !notify::enabled() {
            Switch::Off(None)
        } else if notify::push::stored_id().is_some() {
            Switch::On(Push::Subscribed)
        } else {
            Switch::On(Push::Off("Web Push is not set up".into()))
        }
    });
    use_effect_with((), |_| {
        // Keep the service worker current (registering is cheap when it is).
        if notify::enabled() {
            spawn_local(async {
                let _ = notify::push::registration().await;
            });
        }
    });
    let turn_on = {
        let (switch, key) = (switch.clone(), props.api_key.to_string());
        Callback::from(move |_| {
            let permission = match notify::request_permission() {
                Ok(permission) => permission,
                Err(why) => return switch.set(Switch::Off(Some(why))),
            };
            switch.set(Switch::Busy);
            let (switch, key) = (switch.clone(), key.clone());
            spawn_local(async move {
                if let Err(why) = notify::enable(permission).await {
                    return switch.set(Switch::Off(Some(why)));
                }
                // The dashboard notifies from now on; a push service that
                // is slow to answer only delays Web Push.
                switch.set(Switch::On(Push::Subscribing));
                switch.set(Switch::On(match notify::push::subscribe(&key).await {
                    Ok(()) => Push::Subscribed,
                    Err(why) => Push::Off(why),
                }));
            });
        })
    };
    let turn_off = {
        let (switch, key) = (switch.clone(), props.api_key.to_string());
        Callback::from(move |_| {
            switch.set(Switch::Busy);
            let (switch, key) = (switch.clone(), key.clone());
            spawn_local(async move {
                let result = notify::disable(&key).await;
                switch.set(Switch::Off(result.err()));
            });
        })
    };
    match &*switch {
        Switch::Off(why) => html! {
            <span class="notify" data-notify="off">
                <button type="button" class="notify-toggle" onclick={turn_on}>{ "Enable notifications" }</button>
                if let Some(why) = why { <span class="notify-error error" role="alert">{ why }</span> }
            </span>
        },
        Switch::Busy => html! {
            <span class="notify" data-notify="busy">
                <button type="button" class="notify-toggle" disabled=true>{ "Notifications…" }</button>
            </span>
        },
        Switch::On(push) => {
            let (kind, text) = match push {
                Push::Subscribing => (
                    "subscribing",
                    "Notifications on (setting up Web Push…)".to_owned(),
                ),
                Push::Subscribed => (
                    "subscribed",
                    "Notifications on, also when closed".to_owned(),
                ),
                Push::Off(why) => (
                    "off",
                    format!("Notifications on while this page is open ({why})"),
                ),
            };
            html! {
                <span class="notify" data-notify="on" data-push={kind}>
                    <span class="muted">{ text }</span>
                    <button type="button" class="notify-toggle link-button" onclick={turn_off}>{ "Turn off" }</button>
                </span>
            }
        }
    }
}
