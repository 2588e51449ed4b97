//! The socket `index.html` opens before the wasm has loaded (a terminal
//! page's first link): taken over by the first [`Link`](super::Link) that
//! would open the very same one, so the join's bytes have travelled while
//! the viewer was still loading.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

/// The global the page's early script sets.
const GLOBAL: &str = "__tetherEarlyLink";

/// The early socket, taken from the page (once).
pub(super) struct EarlySocket {
    holder: JsValue,
    /// The socket, opening, open or already closed.
    pub(super) socket: WebSocket,
}

impl EarlySocket {
    /// Takes the page's early socket if it was opened to `url` offering
    /// exactly `offered`; one opened to anything else is closed. Either
    /// way it is gone from the page afterwards.
    pub(super) fn take(url: &str, offered: &Array) -> Option<Self> {
        let window: JsValue = web_sys::window()?.into();
        let holder = Reflect::get(&window, &GLOBAL.into()).ok()?;
        if holder.is_undefined() || holder.is_null() {
            return None;
        }
        let _ = Reflect::delete_property(window.unchecked_ref::<js_sys::Object>(), &GLOBAL.into());
        let socket: WebSocket = Reflect::get(&holder, &"socket".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let same_url = Reflect::get(&holder, &"url".into())
            .ok()
            .and_then(|v| v.as_string())
            .is_some_and(|early| early == url);
        let same_protocols = Reflect::get(&holder, &"protocols".into())
            .ok()
            .and_then(|v| v.dyn_into::<Array>().ok())
            .is_some_and(|early| {
                early.length() == offered.length()
                    && early.iter().zip(offered.iter()).all(|(a, b)| a == b)
            });
        if !(same_url && same_protocols) {
            socket.set_onopen(None);
            socket.set_onmessage(None);
            socket.set_onclose(None);
            let _ = socket.close();
            return None;
        }
        Some(Self { holder, socket })
    }

    /// Hands what the socket received so far to the handlers now set on
    /// it, in order and before any later event.
    pub(super) fn replay(self) {
        if let Ok(replay) = Reflect::get(&self.holder, &"replay".into()) {
            if let Some(replay) = replay.dyn_ref::<Function>() {
                let _ = replay.call0(&self.holder);
            }
        }
    }
}
