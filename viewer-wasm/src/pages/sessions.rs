//! `/`: the signed-in user's sessions, refreshed every few seconds, and a
//! notification when one starts waiting (if the person turned them on).

use gloo::timers::callback::Interval;
use yew::platform::spawn_local;
use yew::prelude::*;

use protocol::api::SessionInfo;
use protocol::AttentionState;

use crate::api::{list_sessions, ApiError};
use crate::auth;
use crate::components::{ApiKeyForm, KeptList, NotifyToggle};
use crate::link::encode_path_segment;
use crate::notify::{self, waits::WaitTracker};

/// How often the list is reloaded.
const REFRESH_MS: u32 = 3_000;

#[derive(Clone, PartialEq)]
enum ListState {
    Loading,
    Loaded(Vec<SessionInfo>),
    Failed(String),
}

/// The session list, or the sign-in form when no key is known.
#[function_component(SessionList)]
pub fn session_list() -> Html {
    let key = use_state(|| match auth::current() {
        Some(auth::Credential::ApiKey(key)) => Some(key),
        _ => None,
    });
    let key_error = use_state(|| None::<String>);
    let list = use_state(|| ListState::Loading);
    let waits = use_mut_ref(WaitTracker::default);

    {
        let (key_state, key_error, list) = (key.clone(), key_error.clone(), list.clone());
        let waits = waits.clone();
        use_effect_with((*key).clone(), move |key: &Option<String>| {
            let interval = key.clone().map(|key| {
                let load = move || {
                    // A tab in the background polls only to notify (the
                    // browser then runs the timer at most once a second,
                    // after five hidden minutes once a minute).
                    let hidden = web_sys::window()
                        .and_then(|w| w.document())
                        .is_some_and(|d| d.hidden());
                    if hidden && !notify::enabled() {
                        return;
                    }
                    let (key, key_state, key_error, list, waits) = (
                        key.clone(),
                        key_state.clone(),
                        key_error.clone(),
                        list.clone(),
                        waits.clone(),
                    );
                    spawn_local(async move {
                        match list_sessions(&key).await {
                            Ok(sessions) => {
                                let notifying = notify::enabled();
                                for session in waits.borrow_mut().new_waits(&sessions) {
                                    if notifying {
                                        notify::alert::raise(session);
                                    }
                                }
                                list.set(ListState::Loaded(sessions));
                            }
                            Err(ApiError::Unauthorized) => {
                                auth::forget_key();
                                key_error.set(Some("The relay refused this key.".into()));
                                key_state.set(None);
                            }
                            Err(ApiError::Failed(reason)) => list.set(ListState::Failed(reason)),
                        }
                    });
                };
                load();
                Interval::new(REFRESH_MS, load)
            });
            move || drop(interval)
        });
    }

    let Some(api_key) = &*key else {
        let on_submit = {
            let (key, key_error) = (key.clone(), key_error.clone());
            Callback::from(move |entered: String| {
                auth::store_key(&entered);
                key_error.set(None);
                key.set(Some(entered));
            })
        };
        return html! {
            <main class="page sessions">
                <h1>{ "Tether" }</h1>
                <ApiKeyForm {on_submit} error={(*key_error).clone()} />
            </main>
        };
    };
    let sign_out = {
        let key = key.clone();
        Callback::from(move |_| {
            auth::forget_key();
            key.set(None);
        })
    };

    html! {
        <main class="page sessions">
            <header class="list-header">
                <h1>{ "Sessions" }</h1>
                <NotifyToggle api_key={api_key.clone()} />
                <button type="button" class="link-button" onclick={sign_out}>{ "Sign out" }</button>
            </header>
            { match &*list {
                ListState::Loading => html! { <p class="muted">{ "Loading…" }</p> },
                ListState::Failed(reason) => html! {
                    <p class="error">{ format!("Cannot load sessions: {reason}") }</p>
                },
                ListState::Loaded(sessions) if sessions.is_empty() => html! {
                    <p class="muted">{ "No sessions yet. Start one with " }<code>{ "tether --agent claude" }</code>{ "." }</p>
                },
                ListState::Loaded(sessions) => html! {
                    <ul class="session-list">
                        { for sessions.iter().map(session_row) }
                    </ul>
                },
            } }
            <KeptList api_key={api_key.clone()} />
        </main>
    }
}

fn session_row(session: &SessionInfo) -> Html {
    let href = format!("/s/{}", encode_path_segment(&session.id));
    let status = session.status.to_ascii_lowercase();
    html! {
        <li class="session" data-session-id={session.id.clone()}>
            <a href={href}>
                <span class="name">{ session.display_name() }</span>
                <span class={classes!("badge", format!("status-{status}"))}>
                    { &session.status }
                    if let Some(code) = session.exit_status { { format!(" (exit {code})") } }
                </span>
                { waiting_badge(session) }
                <span class="meta">
                    { &session.agent_type }
                    if !session.created_at.is_empty() { { " · started " }{ short_time(&session.created_at) } }
                    { viewer_count(session.viewer_count) }
                </span>
            </a>
        </li>
    }
}

/// "waiting for you" and the agent's text, for a session that waits.
fn waiting_badge(session: &SessionInfo) -> Html {
    match &session.attention {
        Some(attention) if attention.state == AttentionState::Waiting => html! {
            <span class="attention-waiting">
                <span class="badge waiting">{ "waiting for you" }</span>
                if let Some(text) = &attention.text { <span class="attention-text">{ text }</span> }
            </span>
        },
        _ => html! {},
    }
}

/// " · N viewers".
fn viewer_count(viewers: u64) -> String {
    format!(" · {viewers} viewer{}", if viewers == 1 { "" } else { "s" })
}

/// An RFC 3339 timestamp in the browser's locale and time zone (as given
/// when the browser cannot parse it).
fn short_time(timestamp: &str) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(timestamp));
    if date.get_time().is_nan() {
        return timestamp.to_owned();
    }
    let options = js_sys::Object::new();
    for (name, value) in [("dateStyle", "medium"), ("timeStyle", "short")] {
        let _ = js_sys::Reflect::set(&options, &name.into(), &value.into());
    }
    date.to_locale_string("default", &options).into()
}
