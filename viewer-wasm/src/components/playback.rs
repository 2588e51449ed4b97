//! A session's recording played back in the page ("Replay", and kept
//! recordings): fetched from the relay's recording endpoint, played by
//! [`crate::playback::Player`] in its own terminal, with play/pause, speeds,
//! a timeline with the markers (click to jump), search and download.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use crate::api::recording_text;
use crate::components::{use_find_shortcut, SearchBar};
use crate::playback::cast::{clock, IDLE_LIMIT_SECS};
use crate::playback::{Cast, Player, PlayerStatus, SPEEDS};

/// Props of [`Playback`].
#[derive(Properties, PartialEq)]
pub struct PlaybackProps {
    /// The session whose recording plays.
    pub session_id: AttrValue,
    /// The API key or read-write share token it is fetched with.
    pub secret: AttrValue,
    /// Called when the person closes playback (none: it cannot be closed).
    #[prop_or_default]
    pub on_close: Option<Callback<()>>,
}

#[derive(Clone, PartialEq)]
enum Load {
    Loading,
    Failed(String),
    Ready(Rc<Cast>, Rc<String>),
}

/// The player with its controls.
#[function_component(Playback)]
pub fn playback(props: &PlaybackProps) -> Html {
    let load = use_state(|| Load::Loading);
    let status = use_state(|| None::<PlayerStatus>);
    let player = use_mut_ref(|| None::<Player>);
    let host = use_node_ref();
    let search_open = use_state(|| false);
    {
        let load = load.clone();
        use_effect_with(
            (props.session_id.clone(), props.secret.clone()),
            move |(id, secret): &(AttrValue, AttrValue)| {
                let (id, secret) = (id.to_string(), secret.to_string());
                load.set(Load::Loading);
                spawn_local(async move {
                    let loaded = recording_text(&secret, &id).await.and_then(|text| {
                        let cast = Cast::parse(&text, IDLE_LIMIT_SECS)?;
                        Ok(Load::Ready(Rc::new(cast), Rc::new(text)))
                    });
                    load.set(loaded.unwrap_or_else(Load::Failed));
                });
            },
        );
    }
    {
        let (player, host, status) = (player.clone(), host.clone(), status.clone());
        // Keyed by the recording's address: comparing recordings on every
        // render would cost their size.
        let cast = match &*load {
            Load::Ready(cast, _) => Some(Rc::clone(cast)),
            _ => None,
        };
        let key = cast.as_ref().map(|c| Rc::as_ptr(c) as usize);
        use_effect_with(key, move |_| {
            if let (Some(cast), Some(element)) = (cast, host.cast::<HtmlElement>()) {
                let on_status = Callback::from(move |s| status.set(Some(s)));
                *player.borrow_mut() = Some(Player::start(element, cast, on_status));
            }
            move || drop(player.borrow_mut().take())
        });
    }
    let open_search = {
        let search_open = search_open.clone();
        Callback::from(move |()| search_open.set(true))
    };
    use_find_shortcut(matches!(*load, Load::Ready(..)), open_search.clone());

    let with_player = |f: fn(&Player)| {
        let player = player.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(player) = player.borrow().as_ref() {
                f(player);
            }
        })
    };
    let toggle = with_player(Player::toggle);
    let seek_to = {
        let player = player.clone();
        move |time: f64| {
            let player = player.clone();
            Callback::from(move |event: MouseEvent| {
                event.stop_propagation();
                if let Some(player) = player.borrow().as_ref() {
                    player.seek(time);
                }
            })
        }
    };
    let status_now = (*status).unwrap_or(PlayerStatus {
        time: 0.0,
        duration: 0.0,
        playing: false,
        speed: 1.0,
    });
    let on_timeline = {
        let player = player.clone();
        let duration = status_now.duration;
        Callback::from(move |event: MouseEvent| {
            let Some(bar) = event
                .current_target()
                .and_then(|t| t.dyn_into::<Element>().ok())
            else {
                return;
            };
            let rect = bar.get_bounding_client_rect();
            if rect.width() <= 0.0 {
                return;
            }
            let fraction =
                ((f64::from(event.client_x()) - rect.left()) / rect.width()).clamp(0.0, 1.0);
            if let Some(player) = player.borrow().as_ref() {
                player.seek(fraction * duration);
            }
        })
    };
    let term_js = player.borrow().as_ref().map(Player::term_js);
    let close_search = {
        let search_open = search_open.clone();
        Callback::from(move |()| search_open.set(false))
    };
    let (cast, text) = match &*load {
        Load::Ready(cast, text) => (Some(cast.clone()), Some(text.clone())),
        _ => (None, None),
    };
    let percent = |time: f64| {
        if status_now.duration > 0.0 {
            time / status_now.duration * 100.0
        } else {
            0.0
        }
    };
    let download = {
        let (text, id) = (text.clone(), props.session_id.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(text) = &text {
                save_file(&format!("tether-{id}.cast"), text);
            }
        })
    };

    html! {
        <section class="playback" aria-label="recording">
            <div class="playback-controls">
                <button type="button" class="play" onclick={toggle} disabled={cast.is_none()}
                    data-playing={status_now.playing.to_string()}>
                    { if status_now.playing { "Pause" } else { "Play" } }
                </button>
                <span class="speeds" role="group" aria-label="speed">
                    { for SPEEDS.iter().map(|&speed| {
                        let player = player.clone();
                        let onclick = Callback::from(move |_: MouseEvent| {
                            if let Some(player) = player.borrow().as_ref() {
                                player.set_speed(speed);
                            }
                        });
                        html! {
                            <button type="button" class="speed" data-speed={speed.to_string()} {onclick}
                                aria-pressed={(status_now.speed == speed).to_string()}>{ format!("{speed}×") }</button>
                        }
                    }) }
                </span>
                <span class="clock">{ format!("{} / {}", clock(status_now.time), clock(status_now.duration)) }</span>
                <span class="actions">
                    <button type="button" class="search-toggle" onclick={open_search.reform(|_: MouseEvent| ())}
                        disabled={cast.is_none()} title="find (Ctrl+F)">{ "Find" }</button>
                    <button type="button" class="download" onclick={download} disabled={cast.is_none()}>{ "Download" }</button>
                    if let Some(on_close) = &props.on_close {
                        <button type="button" class="close-playback" onclick={on_close.reform(|_: MouseEvent| ())}>{ "Live" }</button>
                    }
                </span>
                <div class="timeline" onclick={on_timeline} title="jump to a time">
                    <div class="progress" style={format!("width: {:.2}%", percent(status_now.time))}></div>
                    { for cast.iter().flat_map(|c| c.markers.clone()).map(|marker| html! {
                        <button type="button" class={classes!("marker", marker.is_gap().then_some("gap"))}
                            style={format!("left: {:.2}%", percent(marker.at))}
                            title={format!("{} {}", clock(marker.at), marker.label)}
                            data-at={marker.at.to_string()} aria-label={marker.label.clone()}
                            onclick={seek_to(marker.at)}></button>
                    }) }
                </div>
            </div>
            { match &*load {
                Load::Loading => html! { <p class="notice muted">{ "Loading the recording…" }</p> },
                Load::Failed(reason) => html! { <p class="notice error" role="alert">{ format!("Cannot play the recording: {reason}") }</p> },
                Load::Ready(cast, _) if cast.skipped > 0 => html! {
                    <p class="notice">{ format!("{} unreadable lines of the recording skipped", cast.skipped) }</p>
                },
                Load::Ready(..) => html! {},
            } }
            if let (true, Some(term)) = (*search_open, term_js) {
                <SearchBar {term} on_close={close_search} />
            }
            <div class="term-host playback-host" ref={host}></div>
        </section>
    }
}

/// Offers `text` as a file download named `name`.
fn save_file(name: &str, text: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(protocol::asciicast::MEDIA_TYPE);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(link) = document
        .create_element("a")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    {
        link.set_href(&url);
        link.set_download(name);
        link.click();
    }
    // The download has started by then.
    gloo::timers::callback::Timeout::new(60_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}
