//! Web Push for when no tab is open: the service worker (`/sw.js`, scope
//! `/`) and this browser's push subscription, made with the relay's VAPID
//! key and registered with the relay, which remembers it by id (kept here
//! in localStorage, so that turning notifications off deletes it).

use gloo::storage::{LocalStorage, Storage};
use js_sys::{Array, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{PushSubscription, PushSubscriptionOptionsInit, ServiceWorkerRegistration};

use crate::api::{self, ApiError};

/// The relay's id of this browser's subscription.
const SUBSCRIPTION_STORAGE: &str = "tether.push_subscription";
/// How long the browser's push service may take to subscribe (it answers
/// in a second or two; one that cannot be reached may never answer).
const SUBSCRIBE_TIMEOUT_MS: i32 = 10_000;

/// The service worker's registration (registering it if it is not yet),
/// once it is active; `Err` where the browser has none (service workers
/// need https or localhost).
pub async fn registration() -> Result<ServiceWorkerRegistration, String> {
    let window = web_sys::window().ok_or("no window")?;
    let navigator = window.navigator();
    if !Reflect::has(&navigator, &"serviceWorker".into()).unwrap_or(false) {
        return Err("this page cannot run a service worker (it needs https)".into());
    }
    let container = navigator.service_worker();
    JsFuture::from(container.register("/sw.js"))
        .await
        .map_err(|err| format!("the service worker did not start: {}", describe(&err)))?;
    let ready = container.ready().map_err(|err| describe(&err))?;
    let registration = JsFuture::from(ready).await.map_err(|err| describe(&err))?;
    Ok(registration.unchecked_into())
}

/// Subscribes this browser to pushes from the relay and registers the
/// subscription with it (once: a subscription the relay already has is
/// kept).
pub async fn subscribe(key: &str) -> Result<(), String> {
    let registration = registration().await?;
    if !Reflect::has(&registration, &"pushManager".into()).unwrap_or(false) {
        return Err("this browser has no Web Push".into());
    }
    let manager = registration.push_manager().map_err(|err| describe(&err))?;
    let existing = JsFuture::from(manager.get_subscription().map_err(|err| describe(&err))?)
        .await
        .map_err(|err| describe(&err))?;
    if !existing.is_null() && stored_id().is_some() {
        return Ok(());
    }
    let subscription = if existing.is_null() {
        let public_key = api::push_key(key).await.map_err(api_reason)?;
        let server_key =
            base64url_decode(&public_key).ok_or("the relay's push key is not base64url")?;
        let options = PushSubscriptionOptionsInit::new();
        options.set_user_visible_only(true);
        options.set_application_server_key(&Uint8Array::from(server_key.as_slice()).into());
        let subscribing = manager
            .subscribe_with_options(&options)
            .map_err(|err| describe(&err))?;
        let answer = JsFuture::from(within(subscribing, SUBSCRIBE_TIMEOUT_MS))
            .await
            .map_err(|err| format!("the push service refused: {}", describe(&err)))?;
        if answer.is_undefined() {
            return Err("the browser's push service does not answer".into());
        }
        answer
    } else {
        existing
    };
    let json = js_sys::JSON::stringify(&subscription)
        .map(String::from)
        .map_err(|err| describe(&err))?;
    let info = api::add_push_subscription(key, &json)
        .await
        .map_err(api_reason)?;
    // Full or disabled storage: the subscription stays at the relay until
    // its push service answers 410.
    let _ = LocalStorage::set(SUBSCRIPTION_STORAGE, info.id);
    Ok(())
}

/// Stops pushes to this browser: the relay forgets the subscription and
/// the browser drops it.
pub async fn unsubscribe(key: &str) -> Result<(), String> {
    if let Some(id) = stored_id() {
        match api::delete_push_subscription(key, &id).await {
            // Gone already (the relay dropped it after a 410): fine.
            Ok(()) => {}
            Err(ApiError::Failed(reason)) if reason.contains("unknown") => {}
            Err(err) => return Err(api_reason(err)),
        }
        LocalStorage::delete(SUBSCRIPTION_STORAGE);
    }
    let Ok(registration) = registration().await else {
        return Ok(());
    };
    let Ok(manager) = registration.push_manager() else {
        return Ok(());
    };
    let existing = match manager.get_subscription() {
        Ok(promise) => JsFuture::from(promise).await.unwrap_or(JsValue::NULL),
        Err(_) => JsValue::NULL,
    };
    if let Some(subscription) = existing.dyn_ref::<PushSubscription>() {
        if let Ok(promise) = subscription.unsubscribe() {
            let _ = JsFuture::from(promise).await;
        }
    }
    Ok(())
}

/// Whether the relay has a subscription of this browser.
pub fn stored_id() -> Option<String> {
    LocalStorage::get::<String>(SUBSCRIPTION_STORAGE).ok()
}

/// `promise`, or `undefined` if it has not settled after `ms`.
fn within(promise: Promise, ms: i32) -> Promise {
    let timeout = Promise::new(&mut |resolve, _reject| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    Promise::race(&Array::of2(&promise, &timeout))
}

fn api_reason(err: ApiError) -> String {
    match err {
        ApiError::Unauthorized => "the relay refused the key".into(),
        ApiError::Failed(reason) => reason,
    }
}

/// A JavaScript error's message.
fn describe(err: &JsValue) -> String {
    Reflect::get(err, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| err.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// Decodes base64url (RFC 4648 §5, padding optional) with the browser's
/// `atob`; `None` if malformed.
fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut standard: String = text
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while standard.len() % 4 != 0 {
        standard.push('=');
    }
    let binary = web_sys::window()?.atob(&standard).ok()?;
    binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}
