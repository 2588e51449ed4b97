//! The owner's Share dialog: make a link (role, lifetime), show it with a
//! copy button and a QR code, and list the session's working links (role,
//! expiry, viewers now) with Revoke for each.

use gloo::timers::callback::Interval;
use protocol::api::{ShareInfo, ShareResponse};
use protocol::Role;
use wasm_bindgen::JsValue;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::platform::spawn_local;
use yew::prelude::*;

use super::QrCode;
use crate::api::{self, ApiError};
use crate::shares::{role_label, LinkLifetime, READ_WRITE_WARNING};

/// How often the list (and its viewer counts) is reloaded while open.
const LIST_REFRESH_MS: u32 = 3_000;

/// Props of [`ShareDialog`].
#[derive(Properties, PartialEq)]
pub struct ShareDialogProps {
    /// The session to share.
    pub session_id: AttrValue,
    /// The owner's API key.
    pub api_key: AttrValue,
    /// Called when the person closes the dialog.
    pub on_close: Callback<()>,
}

/// The Share dialog (owners only: it needs the API key).
#[function_component(ShareDialog)]
pub fn share_dialog(props: &ShareDialogProps) -> Html {
    let role = use_state(|| Role::ReadOnly);
    let lifetime = use_state(|| LinkLifetime::Day);
    let created = use_state(|| None::<ShareResponse>);
    let shares = use_state(Vec::<ShareInfo>::new);
    let error = use_state(|| None::<String>);
    let copied = use_state(|| None::<&'static str>);
    let busy = use_state(|| false);
    let url_field = use_node_ref();

    let reload = {
        let (key, id) = (props.api_key.to_string(), props.session_id.to_string());
        let (shares, error) = (shares.clone(), error.clone());
        Callback::from(move |()| {
            let (key, id, shares, error) = (key.clone(), id.clone(), shares.clone(), error.clone());
            spawn_local(async move {
                match api::list_shares(&key, &id).await {
                    Ok(list) if *shares != list => shares.set(list),
                    Ok(_) => {}
                    Err(e) => error.set(Some(describe(&e))),
                }
            });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with((), move |_| {
            reload.emit(());
            let interval = Interval::new(LIST_REFRESH_MS, move || reload.emit(()));
            move || drop(interval)
        });
    }

    let on_create = {
        let (key, id) = (props.api_key.to_string(), props.session_id.to_string());
        let (role, lifetime, created, error) = (
            role.clone(),
            lifetime.clone(),
            created.clone(),
            error.clone(),
        );
        let (copied, busy, reload) = (copied.clone(), busy.clone(), reload.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if *busy {
                return;
            }
            busy.set(true);
            let (key, id, role, secs) = (key.clone(), id.clone(), *role, lifetime.secs());
            let (created, error, copied, busy, reload) = (
                created.clone(),
                error.clone(),
                copied.clone(),
                busy.clone(),
                reload.clone(),
            );
            spawn_local(async move {
                match api::create_share(&key, &id, role, secs).await {
                    Ok(share) => {
                        created.set(Some(share));
                        error.set(None);
                        copied.set(None);
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(describe(&e))),
                }
                busy.set(false);
            });
        })
    };

    let on_revoke = {
        let key = props.api_key.to_string();
        let (created, error, reload) = (created.clone(), error.clone(), reload.clone());
        Callback::from(move |share_id: String| {
            let (key, created, error, reload) =
                (key.clone(), created.clone(), error.clone(), reload.clone());
            spawn_local(async move {
                match api::revoke_share(&key, &share_id).await {
                    Ok(()) => {
                        if created.as_ref().is_some_and(|c| c.id == share_id) {
                            created.set(None);
                        }
                        reload.emit(());
                    }
                    Err(e) => error.set(Some(describe(&e))),
                }
            });
        })
    };

    let on_copy = {
        let (url_field, copied, created) = (url_field.clone(), copied.clone(), created.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(share) = created.as_ref() else {
                return;
            };
            if let Some(field) = url_field.cast::<HtmlInputElement>() {
                field.select();
            }
            copied.set(Some(if copy_to_clipboard(&share.url) {
                "Copied"
            } else {
                "Selected: copy it from your device's menu"
            }));
        })
    };

    let pick_role = |pick: Role| {
        let role = role.clone();
        Callback::from(move |_: Event| role.set(pick))
    };
    let on_lifetime = {
        let lifetime = lifetime.clone();
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            if let Some(picked) = LinkLifetime::from_name(&select.value()) {
                lifetime.set(picked);
            }
        })
    };
    let on_close = props.on_close.reform(|_: MouseEvent| ());

    html! {
        <section class="share-dialog" role="dialog" aria-label="share this session">
            <header>
                <span>{ "Share this session" }</span>
                <button type="button" class="link-button close-share" onclick={on_close}>{ "Close" }</button>
            </header>
            <form class="share-form" onsubmit={on_create}>
                <fieldset class="share-role">
                    <legend>{ "Whoever opens the link may" }</legend>
                    <label>
                        <input type="radio" name="share-role" value="read-only"
                            checked={*role == Role::ReadOnly} onchange={pick_role(Role::ReadOnly)} />
                        { " watch (read-only)" }
                    </label>
                    <label>
                        <input type="radio" name="share-role" value="read-write"
                            checked={*role == Role::ReadWrite} onchange={pick_role(Role::ReadWrite)} />
                        { " watch and type (read-write)" }
                    </label>
                </fieldset>
                if *role == Role::ReadWrite {
                    <p class="warning" data-warning="read-write">{ READ_WRITE_WARNING }</p>
                }
                <label class="share-ttl">
                    { "Expires after " }
                    <select name="share-ttl" onchange={on_lifetime}>
                        { for LinkLifetime::ALL.iter().map(|l| html! {
                            <option value={l.name()} selected={*l == *lifetime}>{ l.label() }</option>
                        }) }
                    </select>
                </label>
                <button type="submit" class="create-share" disabled={*busy}>{ "Create link" }</button>
            </form>
            if let Some(message) = &*error {
                <p class="error" role="alert">{ message }</p>
            }
            if let Some(share) = &*created {
                <div class="share-result" data-share-id={share.id.clone()} data-role={role_label(share.role)}>
                    <p>{ format!("New {} link, until {}.", role_label(share.role), local_time(&share.expires_at)) }</p>
                    if share.role == Role::ReadWrite {
                        <p class="warning" data-warning="read-write">{ READ_WRITE_WARNING }</p>
                    }
                    <div class="share-url-row">
                        <input class="share-url" ref={url_field} readonly=true value={share.url.clone()}
                            aria-label="the share link" />
                        <button type="button" class="copy-share" onclick={on_copy}>{ "Copy" }</button>
                    </div>
                    if let Some(said) = *copied {
                        <p class="hint copied">{ said }</p>
                    }
                    <QrCode text={share.url.clone()} />
                </div>
            }
            <h3>{ "Active links" }</h3>
            if shares.is_empty() {
                <p class="muted">{ "No active links." }</p>
            }
            <ul class="share-list">
                { for shares.iter().map(|share| share_item(share, &on_revoke)) }
            </ul>
        </section>
    }
}

/// One working link in the list.
fn share_item(share: &ShareInfo, on_revoke: &Callback<String>) -> Html {
    let revoke = {
        let (id, on_revoke) = (share.id.clone(), on_revoke.clone());
        Callback::from(move |_: MouseEvent| on_revoke.emit(id.clone()))
    };
    let viewers = match share.viewer_count {
        1 => "1 viewer now".to_owned(),
        n => format!("{n} viewers now"),
    };
    html! {
        <li class="share-item" data-share-id={share.id.clone()} data-role={role_label(share.role)}
            data-viewers={share.viewer_count.to_string()}>
            <span class={classes!("badge", (share.role == Role::ReadOnly).then_some("read-only"))}>
                { role_label(share.role) }
            </span>
            <span class="meta">{ format!("until {}", local_time(&share.expires_at)) }</span>
            <span class="viewers">{ viewers }</span>
            <button type="button" class="revoke-share" onclick={revoke}>{ "Revoke" }</button>
        </li>
    }
}

/// What a failed call tells the owner.
fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Unauthorized => "The relay refused this key.".to_owned(),
        ApiError::Failed(reason) => reason.clone(),
    }
}

/// `2026-01-02T03:04:05Z` as a local date and time.
fn local_time(timestamp: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_str(timestamp));
    if date.get_time().is_nan() {
        return timestamp.to_owned();
    }
    date.to_locale_string("default", &JsValue::UNDEFINED).into()
}

/// Puts `text` on the clipboard; `false` where the page may not (the
/// Clipboard API exists only in secure contexts: https or localhost).
fn copy_to_clipboard(text: &str) -> bool {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return false;
    };
    let available = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|clipboard| !clipboard.is_undefined() && !clipboard.is_null());
    if !available {
        return false;
    }
    // The promise settles later; a refusal leaves the text selected.
    let _ = navigator.clipboard().write_text(text);
    true
}
