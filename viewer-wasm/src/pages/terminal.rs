//! `/s/{id}`: one session's terminal, with its status bar and key bar.

use gloo::events::EventListener;
use gloo::timers::callback::Interval;
use web_sys::HtmlElement;
use yew::platform::spawn_local;
use yew::prelude::*;

use protocol::api::MessageInfo;

use super::sign_in::sign_in_page;
use crate::api::session_messages;
use crate::auth::{self, Credential};
use crate::components::{
    use_find_shortcut, AttentionBanner, KeyBar, MessageLog, Playback, SearchBar, ShareDialog,
    StatusBadge,
};
use crate::keys::BarKey;
use crate::link::websocket_origin;
use crate::shares::{role_label, ShareRefusal};
use crate::viewer::{Connection, Status, Viewer};

/// How often the message log is reloaded.
const MESSAGES_REFRESH_MS: u32 = 5_000;

/// Props of [`TerminalPage`].
#[derive(Properties, PartialEq)]
pub struct TerminalPageProps {
    /// The session id from the URL.
    pub id: AttrValue,
}

/// The terminal page. Without a key or share token it asks for a key.
#[function_component(TerminalPage)]
pub fn terminal_page(props: &TerminalPageProps) -> Html {
    let credential = use_state(auth::current);
    let status = use_state(Status::default);
    let host = use_node_ref();
    let viewer = use_mut_ref(|| None::<Viewer>);

    {
        let (host, viewer, status) = (host.clone(), viewer.clone(), status.clone());
        let id = props.id.to_string();
        use_effect_with(
            (*credential).clone(),
            move |credential: &Option<Credential>| {
                let mut listeners = Vec::new();
                if let (Some(credential), Some(element)) =
                    (credential.clone(), host.cast::<HtmlElement>())
                {
                    let on_status = Callback::from(move |s: Status| status.set(s));
                    *viewer.borrow_mut() = Some(Viewer::start(
                        element,
                        relay_ws_origin(),
                        id,
                        credential,
                        on_status,
                    ));
                    if let Some(window) = web_sys::window() {
                        let on_resize = viewer.clone();
                        let on_online = viewer.clone();
                        listeners = vec![
                            EventListener::new(&window, "resize", move |_| {
                                if let Some(viewer) = on_resize.borrow().as_ref() {
                                    viewer.refit();
                                }
                            }),
                            // Back online: retry at once.
                            EventListener::new(&window, "online", move |_| {
                                if let Some(viewer) = on_online.borrow().as_ref() {
                                    viewer.retry_now();
                                }
                            }),
                        ];
                        // A phone brought the tab back to the front: same.
                        if let Some(document) = window.document() {
                            let on_visible = viewer.clone();
                            listeners.push(EventListener::new(
                                &document,
                                "visibilitychange",
                                move |_| {
                                    let visible = web_sys::window()
                                        .and_then(|w| w.document())
                                        .is_some_and(|d| !d.hidden());
                                    if let (true, Some(viewer)) =
                                        (visible, on_visible.borrow().as_ref())
                                    {
                                        viewer.retry_now();
                                    }
                                },
                            ));
                        }
                    }
                }
                move || {
                    drop(listeners);
                    viewer.borrow_mut().take();
                }
            },
        );
    }

    // The message log needs the API (a key, not a share token).
    let messages = use_state(Vec::<MessageInfo>::new);
    let show_messages = use_state(|| false);
    let show_share = use_state(|| false);
    // Replay (the recording, "rewind") and find in the live history.
    let replay = use_state(|| false);
    let search_open = use_state(|| false);
    {
        let search_open = search_open.clone();
        let live = credential.is_some() && !*replay;
        use_find_shortcut(live, Callback::from(move |()| search_open.set(true)));
    }
    {
        let messages = messages.clone();
        let id = props.id.to_string();
        use_effect_with(
            (*credential).clone(),
            move |credential: &Option<Credential>| {
                let interval = match credential {
                    Some(Credential::ApiKey(key)) => {
                        let key = key.clone();
                        let load = move || {
                            let (key, id, messages) = (key.clone(), id.clone(), messages.clone());
                            spawn_local(async move {
                                if let Ok(list) = session_messages(&key, &id).await {
                                    if *messages != list {
                                        messages.set(list);
                                    }
                                }
                            });
                        };
                        load();
                        Some(Interval::new(MESSAGES_REFRESH_MS, load))
                    }
                    _ => None,
                };
                move || drop(interval)
            },
        );
    }

    {
        // The panel takes width from the terminal: fit the session again.
        let viewer = viewer.clone();
        use_effect_with(*show_messages, move |_| {
            if let Some(viewer) = viewer.borrow().as_ref() {
                viewer.refit();
            }
        });
    }

    {
        // The banner takes height from the terminal: fit the session again.
        let viewer = viewer.clone();
        use_effect_with(status.waiting.is_some(), move |_| {
            if let Some(viewer) = viewer.borrow().as_ref() {
                viewer.refit();
            }
        });
    }

    {
        // A waiting session says so in its tab's title too.
        let title = (status.title.clone(), status.waiting.is_some());
        use_effect_with(title, |(title, waiting): &(Option<String>, bool)| {
            if let Some(document) = web_sys::window().and_then(|w| w.document()) {
                let mark = if *waiting { "(waiting) " } else { "" };
                match title {
                    Some(title) => document.set_title(&format!("{mark}{title} · Tether")),
                    None => document.set_title(&format!("{mark}Tether")),
                }
            }
        });
    }

    if credential.is_none() {
        return sign_in_page(&credential);
    }

    let on_press = {
        let viewer = viewer.clone();
        Callback::from(move |key: BarKey| {
            if let Some(viewer) = viewer.borrow().as_ref() {
                viewer.press(key);
            }
        })
    };
    let on_fit = {
        let viewer = viewer.clone();
        Callback::from(move |_| {
            if let Some(viewer) = viewer.borrow().as_ref() {
                viewer.fit_session_to_screen();
            }
        })
    };
    let sign_in_again = {
        let credential = credential.clone();
        Callback::from(move |_| {
            auth::forget_key();
            credential.set(None);
        })
    };
    let refused_key = matches!(&status.connection, Connection::Refused(reason) if is_key_refusal(reason))
        && !credential.as_ref().is_some_and(Credential::is_share_token);
    let toggle_messages = {
        let show_messages = show_messages.clone();
        Callback::from(move |_| show_messages.set(!*show_messages))
    };
    let close_messages = {
        let show_messages = show_messages.clone();
        Callback::from(move |_| show_messages.set(false))
    };
    let toggle_share = {
        let show_share = show_share.clone();
        Callback::from(move |_| show_share.set(!*show_share))
    };
    let close_share = {
        let show_share = show_share.clone();
        Callback::from(move |_| show_share.set(false))
    };
    let read_only = status.role == Some(protocol::Role::ReadOnly);
    let toggle_replay = {
        let replay = replay.clone();
        Callback::from(move |_| replay.set(!*replay))
    };
    let open_search = {
        let search_open = search_open.clone();
        Callback::from(move |_| search_open.set(true))
    };
    let close_search = {
        let search_open = search_open.clone();
        Callback::from(move |()| search_open.set(false))
    };
    let close_replay = {
        let replay = replay.clone();
        Callback::from(move |()| replay.set(false))
    };
    let live_term = viewer.borrow().as_ref().map(Viewer::term_js);
    // The recording is for the owner and read-write links.
    let may_replay = status.role == Some(protocol::Role::ReadWrite)
        || matches!(credential.as_ref(), Some(Credential::ApiKey(_)));
    let shared = credential.as_ref().is_some_and(Credential::is_share_token);
    let owner_key = match credential.as_ref() {
        Some(Credential::ApiKey(key)) => Some(key.clone()),
        _ => None,
    };
    // A share link that no longer works says why, not just "refused".
    let share_refusal = match &status.connection {
        Connection::Refused(reason) if shared => ShareRefusal::from_reason(reason),
        _ => None,
    };
    let title = status.title.clone().unwrap_or_else(|| short_id(&props.id));

    html! {
        <main class="page terminal">
            <header class="term-header">
                if !shared { <a class="back" href="/" aria-label="all sessions">{ "‹" }</a> }
                <span class="title">{ title }</span>
                <StatusBadge connection={status.connection.clone()} />
                if read_only { <span class="badge read-only" data-role="read-only">{ "read-only" }</span> }
                if let (Some(by), Some(role)) = (&status.shared_by, status.role) {
                    <span class="shared-by" data-shared-by={by.clone()} data-role={role_label(role)}>
                        { format!("shared by {by} · {}", role_label(role)) }
                    </span>
                }
                if let Some(size) = status.session_size {
                    <span class="size" title="the session's size">{ format!("{}×{}", size.cols, size.rows) }</span>
                }
                if status.lost > 0 {
                    <span class="lost">{ format!("{} bytes skipped", status.lost) }</span>
                }
                <span class="actions">
                    if !*replay {
                        <button type="button" class="search-toggle" onclick={open_search}
                            title="find in the history (Ctrl+F)">{ "Find" }</button>
                    }
                    if may_replay {
                        <button type="button" class="replay-toggle" onclick={toggle_replay}
                            aria-pressed={replay.to_string()}>{ "Replay" }</button>
                    }
                    if !shared {
                        <button type="button" class="messages-toggle" onclick={toggle_messages}
                            aria-pressed={show_messages.to_string()}>
                            { match messages.len() { 0 => "Messages".to_owned(), n => format!("Messages {n}") } }
                        </button>
                    }
                    if owner_key.is_some() {
                        <button type="button" class="share-toggle" onclick={toggle_share}
                            aria-pressed={show_share.to_string()}>{ "Share" }</button>
                    }
                    if !read_only {
                        <button type="button" class="fit" onclick={on_fit} disabled={!status.can_type()}
                            title="resize the session to fill this screen">{ "Fit to screen" }</button>
                    }
                </span>
            </header>
            if refused_key {
                <p class="notice" role="alert">
                    { "The relay refused this key. " }
                    <button type="button" class="link-button" onclick={sign_in_again}>{ "Sign in again" }</button>
                </p>
            }
            if let Some(refusal) = share_refusal {
                <p class="notice share-refused" role="alert" data-refusal={refusal.kind()}>
                    { refusal.message() }
                </p>
            }
            if let Some(waiting) = &status.waiting {
                <AttentionBanner waiting={waiting.clone()} />
            }
            if let Some(notice) = &status.notice {
                <p class="notice" role="alert">{ notice }</p>
            }
            if let (true, Some(key)) = (*show_share, owner_key.clone()) {
                <ShareDialog session_id={props.id.clone()} api_key={key} on_close={close_share} />
            }
            if let (true, Some(credential)) = (*replay, credential.as_ref()) {
                <Playback session_id={props.id.clone()} secret={AttrValue::from(credential.secret().to_owned())}
                    on_close={close_replay} />
            }
            if let (true, false, Some(term)) = (*search_open, *replay, live_term) {
                <SearchBar {term} on_close={close_search} />
            }
            <div class="term-area" hidden={*replay}>
                <div class="term-host" ref={host}></div>
                if *show_messages {
                    <MessageLog messages={(*messages).clone()} on_close={close_messages} />
                }
            </div>
            if !read_only && !*replay {
                <KeyBar {on_press} ctrl_armed={status.ctrl_armed}
                    disabled={status.connection != Connection::Live} />
            }
        </main>
    }
}

/// Where the terminal WebSocket goes: this page's origin, unless the build
/// names a relay in `TETHER_RELAY_WS` (for `trunk serve`, whose proxy drops
/// the WebSocket subprotocol that carries the key).
fn relay_ws_origin() -> String {
    if let Some(relay) = option_env!("TETHER_RELAY_WS") {
        return relay.to_owned();
    }
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    websocket_origin(&origin)
}

/// Whether the relay refused the credential itself (not, say, an unknown
/// session): then another key may help.
fn is_key_refusal(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("key") || reason.contains("token")
}

fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}
