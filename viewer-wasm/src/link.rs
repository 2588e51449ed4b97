//! The viewer link: one WebSocket to `/terminal/{id}` speaking the `protocol`
//! crate's frames. Incoming binary messages are decoded into [`Frame`]s;
//! outgoing frames are encoded by the same crate.
//!
//! The link offers two subprotocols: `tether.v1`, which the relay echoes,
//! and `omnara-key.{secret}`, which carries the credential (browsers cannot
//! set headers on a WebSocket) but so never comes back in the answer, where
//! proxies would log it.

use std::rc::Rc;

use js_sys::{Array, ArrayBuffer, Uint8Array};
use protocol::{deflate, Decoder, Frame, DEFAULT_MAX_PAYLOAD, PROTOCOL_NAME};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::auth::Credential;

mod early;

/// Something that happened on the link.
#[derive(Debug)]
pub enum LinkEvent {
    /// The relay accepted the connection.
    Open,
    /// A decoded frame.
    Frame(Frame),
    /// The relay sent bytes that are not valid frames; the link is closed.
    Malformed(String),
    /// The connection closed (`code` per RFC 6455; 1008 means refused).
    Closed {
        /// Close code.
        code: u16,
        /// Close reason the relay gave.
        reason: String,
    },
}

/// The WebSocket address of a session's terminal, for the page's origin.
/// It asks for DEFLATED envelopes (`compress=deflate`), which
/// [`message_frames`] inflates.
///
/// `from` resumes after the last received byte.
pub fn terminal_url(origin_ws: &str, session_id: &str, from: Option<u64>) -> String {
    let mut url = format!(
        "{origin_ws}/terminal/{}?protocol={PROTOCOL_NAME}&{}",
        encode_path_segment(session_id),
        deflate::QUERY
    );
    if let Some(from) = from {
        url.push_str(&format!("&from={from}"));
    }
    url
}

/// The subprotocols the link offers: `tether.v1` (what the relay echoes)
/// and the one carrying `credential`.
pub fn subprotocols(credential: &Credential) -> [String; 2] {
    [PROTOCOL_NAME.to_owned(), credential.subprotocol()]
}

/// The frames of one binary message: a DEFLATED envelope inflated, any
/// other message as it is.
pub fn message_frames(message: Vec<u8>) -> Result<Vec<u8>, deflate::InflateError> {
    if deflate::is_deflated(&message) {
        deflate::inflate(&message, deflate::MAX_INFLATED)
    } else {
        Ok(message)
    }
}

/// `ws://host` or `wss://host` for an `http(s)://host` origin.
pub fn websocket_origin(http_origin: &str) -> String {
    if let Some(rest) = http_origin.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = http_origin.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        http_origin.to_owned()
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_path_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An open (or opening) WebSocket; closing it on drop.
pub struct Link {
    socket: WebSocket,
    /// It took over the page's early socket.
    early: bool,
    _on_open: Closure<dyn FnMut(JsValue)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Link {
    /// Connects to `url` offering [`subprotocols`] for `credential` (or takes
    /// over the page's early socket to the same, with what it received so
    /// far); every event goes to `on_event`. Errors only when the URL or
    /// subprotocol is refused by the browser itself.
    pub fn connect(
        url: &str,
        credential: &Credential,
        on_event: Rc<dyn Fn(LinkEvent)>,
    ) -> Result<Self, String> {
        let offered: Array = subprotocols(credential)
            .iter()
            .map(|p| JsValue::from_str(p))
            .collect();
        let early = early::EarlySocket::take(url, &offered);
        let socket = match &early {
            Some(early) => early.socket.clone(),
            None => WebSocket::new_with_str_sequence(url, &offered)
                .map_err(|err| format!("cannot open the connection: {err:?}"))?,
        };
        socket.set_binary_type(BinaryType::Arraybuffer);

        let on_open = {
            let on_event = on_event.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |_| on_event(LinkEvent::Open))
        };
        let on_message = {
            let on_event = on_event.clone();
            let socket = socket.clone();
            let mut decoder = Decoder::new(DEFAULT_MAX_PAYLOAD);
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let Ok(buffer) = event.data().dyn_into::<ArrayBuffer>() else {
                    return; // text messages are for legacy clients only
                };
                match message_frames(Uint8Array::new(&buffer).to_vec()) {
                    Ok(frames) => decoder.push(&frames),
                    Err(err) => {
                        let _ = socket.close_with_code_and_reason(1002, "malformed frame");
                        on_event(LinkEvent::Malformed(err.to_string()));
                        return;
                    }
                }
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => on_event(LinkEvent::Frame(frame)),
                        Ok(None) => break,
                        Err(err) if err.is_recoverable() => continue,
                        Err(err) => {
                            let _ = socket.close_with_code_and_reason(1002, "malformed frame");
                            on_event(LinkEvent::Malformed(err.to_string()));
                            return;
                        }
                    }
                }
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_event(LinkEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            })
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        let took_early = early.is_some();
        if let Some(early) = early {
            early.replay();
        }
        Ok(Self {
            socket,
            early: took_early,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    /// Whether it took over the socket the page opened before the viewer
    /// ran (see `index.html`).
    pub fn is_early(&self) -> bool {
        self.early
    }

    /// Sends one frame; false when the socket is not open.
    pub fn send(&self, frame: &Frame) -> bool {
        if self.socket.ready_state() != WebSocket::OPEN {
            return false;
        }
        self.socket.send_with_u8_array(&frame.to_bytes()).is_ok()
    }
}

impl Link {
    /// Stops delivering events and closes the socket. Safe to call from
    /// inside this link's own event handler (unlike dropping it).
    pub fn detach(&self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.detach();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_urls() {
        assert_eq!(
            terminal_url("ws://h:1", "abc-1", None),
            "ws://h:1/terminal/abc-1?protocol=tether.v1&compress=deflate"
        );
        assert_eq!(
            terminal_url("wss://h", "a/b", Some(42)),
            "wss://h/terminal/a%2Fb?protocol=tether.v1&compress=deflate&from=42"
        );
        assert_eq!(websocket_origin("https://x.y"), "wss://x.y");
        assert_eq!(websocket_origin("http://127.0.0.1:9"), "ws://127.0.0.1:9");
    }

    #[test]
    fn deflated_messages_are_inflated_and_others_pass_as_they_are() {
        let plain = Frame::Output(b"line of output\r\n".repeat(100)).to_bytes();
        let envelope = deflate::Deflater::default().deflate(&plain).unwrap();
        assert_eq!(message_frames(envelope).unwrap(), plain);
        assert_eq!(message_frames(plain.clone()).unwrap(), plain);
        assert!(message_frames(vec![deflate::DEFLATED, 0, 0, 0, 2, 1, 2]).is_err());
    }

    #[test]
    fn the_link_offers_tether_first_and_the_key_beside_it() {
        assert_eq!(
            subprotocols(&Credential::ApiKey("k".into())),
            ["tether.v1".to_owned(), "omnara-key.k".to_owned()]
        );
    }
}
