//! A notification from the open dashboard for a session that started
//! waiting: the session's name and the agent's text; a click brings the tab
//! forward on that session.

use protocol::api::SessionInfo;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Notification, NotificationOptions};
use yew::platform::spawn_local;

use crate::link::encode_path_segment;

/// Shows the notification for `session`'s new wait.
pub fn raise(session: &SessionInfo) {
    let url = format!("/s/{}", encode_path_segment(&session.id));
    let title = session.display_name().to_string();
    let text = session.attention.as_ref().and_then(|a| a.text.clone());
    let options = NotificationOptions::new();
    options.set_body(text.as_deref().unwrap_or("waiting for you"));
    // The service worker's push for the same session has the same tag: one
    // notification, not two.
    options.set_tag(&format!("tether-wait-{}", session.id));
    options.set_icon("/icons/icon-192.png");
    let data = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&data, &"url".into(), &JsValue::from_str(&url));
    options.set_data(&data);
    match Notification::new_with_options(&title, &options) {
        Ok(notification) => {
            let open = Closure::once_into_js(move || {
                if let Some(window) = web_sys::window() {
                    let _ = window.focus();
                    let _ = window.location().assign(&url);
                }
            });
            notification.set_onclick(Some(open.unchecked_ref()));
        }
        // Chrome on Android shows notifications only through a service
        // worker (whose click handler opens `data.url`).
        Err(_) => spawn_local(async move {
            if let Ok(registration) = super::push::registration().await {
                let _ = registration.show_notification_with_options(&title, &options);
            }
        }),
    }
}
