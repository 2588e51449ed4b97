//! "Needs you" in the browser: the open dashboard's notifications for
//! sessions that start waiting ([`waits`], [`alert`]) and Web Push through
//! the service worker for when no tab is open ([`push`]). The person turns
//! them on with a click (the only time permission is asked) and off again;
//! the choice is kept in localStorage.

pub mod alert;
pub mod push;
pub mod waits;

use gloo::storage::{LocalStorage, Storage};
use js_sys::{Promise, Reflect};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Notification, NotificationPermission};

/// "on" while the person wants notifications.
const ENABLED_STORAGE: &str = "tether.notifications";

/// Whether this browser has notifications at all (iOS Safari only in an
/// installed web app).
pub fn supported() -> bool {
    web_sys::window().is_some_and(|w| Reflect::has(&w, &"Notification".into()).unwrap_or(false))
}

/// Whether notifications are on: chosen here and allowed by the browser.
pub fn enabled() -> bool {
    supported()
        && Notification::permission() == NotificationPermission::Granted
        && LocalStorage::get::<String>(ENABLED_STORAGE).is_ok_and(|v| v == "on")
}

/// Asks for permission; call it in the click handler itself, where the
/// browser allows the prompt. Finish with [`enable`].
pub fn request_permission() -> Result<Promise, String> {
    if !supported() {
        return Err("This browser has no notifications (on an iPhone: add Tether to the Home Screen first).".into());
    }
    Notification::request_permission().map_err(|_| "The browser refused to ask.".to_string())
}

/// Turns notifications on once `permission` (from [`request_permission`])
/// is granted; Web Push is [`push::subscribe`], after it.
pub async fn enable(permission: Promise) -> Result<(), String> {
    let answer = JsFuture::from(permission)
        .await
        .ok()
        .and_then(|a| a.as_string());
    if answer.as_deref() != Some("granted") {
        return Err(
            "Notifications are blocked for this site: allow them in the browser's site settings."
                .into(),
        );
    }
    let _ = LocalStorage::set(ENABLED_STORAGE, "on");
    Ok(())
}

/// Turns notifications off, and Web Push with them.
pub async fn disable(key: &str) -> Result<(), String> {
    LocalStorage::delete(ENABLED_STORAGE);
    push::unsubscribe(key).await
}
