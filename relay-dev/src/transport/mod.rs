//! WebSocket transports: the agent's link ([`agent`]) and viewers' links
//! ([`viewer`]), plus what both share — the two dialects, frame decoding with
//! close codes, sending frames and closing cleanly.

pub mod agent;
pub mod viewer;

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use protocol::{DecodeError, Decoder, Frame};

use crate::auth::{credential_header, credential_subprotocol};

/// Normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// The relay is shutting down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// A malformed frame.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Auth or policy refusal.
pub const CLOSE_POLICY: u16 = 1008;
/// A frame over the payload limit.
pub const CLOSE_TOO_BIG: u16 = 1009;

/// Which protocol a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Announced `protocol=tether.v1`: extension frames, control, pings.
    Tether,
    /// A legacy Omnara client: text `ready`, then frames 0–3 only, no pings.
    Legacy,
}

impl Dialect {
    /// The dialect a request's query (or offered subprotocols) announces.
    pub fn from_request(query: &HashMap<String, String>, headers: &HeaderMap) -> Self {
        let in_query = query.get("protocol").map(String::as_str) == Some(protocol::PROTOCOL_NAME);
        let in_subprotocols = headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == protocol::PROTOCOL_NAME);
        if in_query || in_subprotocols {
            Dialect::Tether
        } else {
            Dialect::Legacy
        }
    }
}

/// What an upgrade request carries: its credential and dialect.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// API key or share token (never logged).
    pub token: Option<String>,
    /// The peer's dialect.
    pub dialect: Dialect,
    /// The peer's address, for the log (when the server records it).
    pub peer: Option<std::net::SocketAddr>,
}

/// The peer address axum records when served with connect info.
pub type Peer = Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>;

/// Initial read buffer of each WebSocket link.
const READ_BUFFER_BYTES: usize = 8 << 10;

/// Reads the credential and dialect, and configures the upgrade: message
/// limits, and the echo of the credential subprotocol the client offered.
pub fn prepare_upgrade(
    upgrade: WebSocketUpgrade,
    peer: Peer,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    max_frame: usize,
) -> (WebSocketUpgrade, LinkRequest) {
    let subprotocol = credential_subprotocol(headers);
    let token = credential_header(headers).or_else(|| subprotocol.as_ref().map(|s| s.1.clone()));
    let dialect = Dialect::from_request(query, headers);
    // One message may hold several frames; allow a little more than one frame.
    let max_message = max_frame.saturating_mul(2).saturating_add(64 << 10);
    // tungstenite preallocates its read buffer (128 KiB by default) for every
    // link; most links are idle, and bigger messages still grow it on demand.
    let mut upgrade = upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(max_message)
        .max_frame_size(max_message);
    if let Some((offered, _)) = subprotocol {
        upgrade = upgrade.protocols([offered]);
    } else if dialect == Dialect::Tether {
        upgrade = upgrade.protocols([protocol::PROTOCOL_NAME]);
    }
    let peer = peer.map(|axum::Extension(axum::extract::ConnectInfo(addr))| addr);
    (
        upgrade,
        LinkRequest {
            token,
            dialect,
            peer,
        },
    )
}

/// Why a link must close: a WebSocket close code and a reason for the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// Close code.
    pub code: u16,
    /// Reason text (no secrets).
    pub reason: String,
}

impl CloseReason {
    /// A close with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// The close for a failed read: 1009 when the message was over the size
/// limit, else `None` (the connection is gone; nothing to send).
pub fn close_for_read_error(error: axum::Error) -> Option<CloseReason> {
    let inner = error.into_inner();
    match inner.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
        Some(tokio_tungstenite::tungstenite::Error::Capacity(e)) => Some(CloseReason::new(
            CLOSE_TOO_BIG,
            format!("message too big: {e}"),
        )),
        _ => None,
    }
}

/// Decodes one binary message into frames. Unknown frame types are skipped
/// (counted in `skipped`); malformed frames give 1002, oversize ones 1009.
pub fn decode_frames(
    message: &[u8],
    max_frame: usize,
    skipped: &mut u64,
) -> Result<Vec<Frame>, CloseReason> {
    let mut decoder = Decoder::new(max_frame);
    decoder.push(message);
    let mut frames = Vec::new();
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break,
            Err(DecodeError::UnknownType { .. }) => *skipped += 1,
            Err(e @ DecodeError::Oversize { .. }) => {
                return Err(CloseReason::new(CLOSE_TOO_BIG, e.to_string()))
            }
            Err(e) => {
                return Err(CloseReason::new(
                    CLOSE_PROTOCOL_ERROR,
                    format!("malformed frame: {e}"),
                ))
            }
        }
    }
    decoder
        .finish()
        .map_err(|e| CloseReason::new(CLOSE_PROTOCOL_ERROR, format!("malformed frame: {e}")))?;
    Ok(frames)
}

/// A WebSocket with its peer's dialect.
pub struct Link {
    ws: WebSocket,
    dialect: Dialect,
    /// When the peer last sent anything (a pong counts).
    last_heard: std::time::Instant,
}

impl Link {
    /// Wraps an upgraded socket.
    pub fn new(ws: WebSocket, dialect: Dialect) -> Self {
        Self {
            ws,
            dialect,
            last_heard: std::time::Instant::now(),
        }
    }

    /// The peer's dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Sends frames as one message, leaving out the types a legacy peer does
    /// not know. Sends nothing when nothing is left.
    pub async fn send_frames(&mut self, frames: &[Frame]) -> Result<(), axum::Error> {
        let mut bytes = Vec::new();
        for frame in frames {
            if self.dialect == Dialect::Tether || frame.frame_type().is_legacy() {
                frame.encode(&mut bytes);
            }
        }
        self.send_encoded(bytes).await
    }

    /// Sends already-encoded frames as one binary message (none if empty).
    pub async fn send_encoded(&mut self, bytes: Vec<u8>) -> Result<(), axum::Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.ws.send(Message::Binary(Bytes::from(bytes))).await
    }

    /// Sends a text message (only the legacy `ready`).
    pub async fn send_text(&mut self, text: &str) -> Result<(), axum::Error> {
        self.ws.send(Message::Text(text.into())).await
    }

    /// Pings a Tether peer (never a legacy one) every `interval`; `false`
    /// when the peer has been silent for three intervals or the send failed.
    pub async fn keepalive(&mut self, interval: Duration) -> bool {
        if self.dialect == Dialect::Legacy {
            return true;
        }
        if self.last_heard.elapsed() > interval * 3 {
            return false;
        }
        self.ws.send(Message::Ping(Bytes::new())).await.is_ok()
    }

    /// The next message from the peer.
    pub async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        let message = self.ws.recv().await;
        self.last_heard = std::time::Instant::now();
        message
    }

    /// The next binary message from the peer; other messages (pings, pongs,
    /// text) are skipped. `Err` when the link has ended: with the close to
    /// send (1009 for a message over the limit), or `None` when the peer
    /// closed or the connection is gone. Cancel-safe, like [`recv`](Self::recv).
    pub async fn recv_binary(&mut self) -> Result<Bytes, Option<CloseReason>> {
        loop {
            match self.recv().await {
                Some(Ok(Message::Binary(bytes))) => return Ok(bytes),
                Some(Err(e)) => return Err(close_for_read_error(e)),
                Some(Ok(Message::Close(_))) | None => return Err(None),
                Some(Ok(_)) => {}
            }
        }
    }

    /// Sends a close frame and waits (briefly) for the peer's close.
    pub async fn close(mut self, why: CloseReason) {
        let frame = CloseFrame {
            code: why.code,
            reason: truncate_reason(&why.reason).into(),
        };
        // A peer that stopped reading gets two seconds, then the socket is dropped.
        let close = async {
            if self.ws.send(Message::Close(Some(frame))).await.is_ok() {
                while let Some(Ok(_)) = self.ws.recv().await {}
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
    }
}

/// Close reasons must fit a control frame (123 bytes).
fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
