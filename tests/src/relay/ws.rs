//! WebSocket links to the relay as raw frames: [`ws_connect`] opens one the
//! way a given client would, [`FrameSocket`] yields what arrives as decoded
//! [`Event`]s.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use protocol::Frame;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wait::DEADLINE;

/// A WebSocket client stream.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a WebSocket client presents itself.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// Credential sent as `X-API-Key`.
    pub header_key: Option<String>,
    /// Credential sent as subprotocol `omnara-key.{token}`.
    pub subprotocol_key: Option<String>,
    /// Append `protocol=tether.v1` (a Tether peer); `false` is a legacy client.
    pub tether: bool,
    /// Also offer the subprotocol `tether.v1`, before the key's (as the
    /// browser viewer does).
    pub tether_subprotocol: bool,
    /// The `Origin` header a browser page would send.
    pub origin: Option<String>,
    /// Append `compress=deflate`: ask for DEFLATED envelopes.
    pub compress: bool,
    /// Connect from a socket with this receive buffer (bytes; fixed, not
    /// grown by the kernel): with a small one, a client that does not read
    /// soon holds the sender back, as a stalled peer does.
    pub receive_buffer: Option<u32>,
}

impl Connect {
    /// A Tether agent (what `tether` is) with `key` in the `X-API-Key` header.
    pub fn tether_agent(key: &str) -> Self {
        Self {
            header_key: Some(key.to_string()),
            tether: true,
            ..Default::default()
        }
    }

    /// A Tether viewer with `credential` as subprotocol `omnara-key.…`.
    pub fn tether_viewer(credential: &str) -> Self {
        Self {
            subprotocol_key: Some(credential.to_string()),
            tether: true,
            ..Default::default()
        }
    }
}

/// Opens a WebSocket to `url` (path and query included). Returns the stream
/// and the subprotocol the server echoed.
pub async fn ws_connect(url: &str, how: &Connect) -> Result<(WsStream, Option<String>), String> {
    let url = if how.tether {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}protocol={}", protocol::PROTOCOL_NAME)
    } else {
        url.to_string()
    };
    let url = if how.compress {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{}", protocol::deflate::QUERY)
    } else {
        url
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(key) = &how.header_key {
        request.headers_mut().insert(
            "x-api-key",
            HeaderValue::from_str(key).map_err(|e| e.to_string())?,
        );
    }
    let mut offered = Vec::new();
    if how.tether_subprotocol {
        offered.push(protocol::PROTOCOL_NAME.to_string());
    }
    if let Some(token) = &how.subprotocol_key {
        offered.push(format!("omnara-key.{token}"));
    }
    if !offered.is_empty() {
        let value = HeaderValue::from_str(&offered.join(", ")).map_err(|e| e.to_string())?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", value);
    }
    if let Some(origin) = &how.origin {
        let value = HeaderValue::from_str(origin).map_err(|e| e.to_string())?;
        request.headers_mut().insert("origin", value);
    }
    let connect = async {
        let Some(size) = how.receive_buffer else {
            return tokio_tungstenite::connect_async_with_config(request, None, true).await;
        };
        let uri = request.uri();
        let addr = format!(
            "{}:{}",
            uri.host().unwrap_or_default(),
            uri.port_u16().unwrap_or(80)
        );
        let addr = tokio::net::lookup_host(addr)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(size)?;
        let stream = MaybeTlsStream::Plain(socket.connect(addr).await?);
        tokio_tungstenite::client_async_with_config(request, stream, None).await
    };
    let (ws, response) = tokio::time::timeout(DEADLINE, connect)
        .await
        .map_err(|_| "WebSocket connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let echoed = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((ws, echoed))
}

/// What a WebSocket delivered next, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One decoded frame (a message with several frames yields several events).
    Frame(Frame),
    /// A text message (only the legacy `ready`).
    Text(String),
    /// The server closed with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Gone,
}

/// A WebSocket that yields [`Event`]s, one frame at a time.
pub struct FrameSocket {
    ws: WsStream,
    pending: VecDeque<Event>,
    /// Pings received (legacy clients must get none).
    pub pings: usize,
    /// Binary messages received, and how many of them were DEFLATED envelopes.
    pub messages: usize,
    /// See [`messages`](Self::messages).
    pub deflated: usize,
    /// Bytes of binary messages as received (envelopes before inflating).
    pub received_bytes: u64,
}

impl FrameSocket {
    /// This end's address (the client's side of the TCP connection).
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self.ws.get_ref() {
            MaybeTlsStream::Plain(tcp) => tcp.local_addr(),
            _ => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }

    /// Wraps a connected stream.
    pub fn new(ws: WsStream) -> Self {
        Self {
            ws,
            pending: Default::default(),
            pings: 0,
            messages: 0,
            deflated: 0,
            received_bytes: 0,
        }
    }

    /// The next event, or `None` after `wait` without one.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match message {
                None | Some(Err(_)) => return Some(Event::Gone),
                Some(Ok(Message::Binary(bytes))) => {
                    let bytes = self.inflated(&bytes);
                    match protocol::decode_message(&bytes, usize::MAX >> 1) {
                        Ok(frames) => self.pending.extend(frames.into_iter().map(Event::Frame)),
                        Err(e) => panic!("relay sent an undecodable message: {e}"),
                    }
                }
                Some(Ok(Message::Text(text))) => return Some(Event::Text(text.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Event::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Event::Closed(1005, String::new()),
                    })
                }
                Some(Ok(Message::Ping(_))) => self.pings += 1,
                Some(Ok(_)) => {}
            }
        }
    }

    /// A received message as frames: envelopes inflated (and counted).
    fn inflated<'a>(&mut self, message: &'a [u8]) -> Cow<'a, [u8]> {
        self.messages += 1;
        self.received_bytes += message.len() as u64;
        if !protocol::deflate::is_deflated(message) {
            return Cow::Borrowed(message);
        }
        self.deflated += 1;
        let frames = protocol::deflate::inflate(message, protocol::deflate::MAX_INFLATED)
            .unwrap_or_else(|e| panic!("relay sent a bad DEFLATED envelope: {e}"));
        Cow::Owned(frames)
    }

    /// The next event; panics after [`DEADLINE`].
    pub async fn next_event(&mut self) -> Event {
        self.next_event_within(DEADLINE)
            .await
            .expect("an event from the relay in time")
    }

    /// Sends frames as one binary message.
    pub async fn send(&mut self, frames: &[Frame]) {
        let mut bytes = Vec::new();
        for frame in frames {
            frame.encode(&mut bytes);
        }
        self.send_raw(bytes).await;
    }

    /// Sends raw bytes as one binary message (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("WebSocket send");
    }

    /// Waits for the server's close and returns its code and reason
    /// (`None` if the connection ended without one). Frames are skipped.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            match self.next_event().await {
                Event::Closed(code, reason) => return Some((code, reason)),
                Event::Gone => return None,
                _ => {}
            }
        }
    }

    /// Closes from this side.
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
