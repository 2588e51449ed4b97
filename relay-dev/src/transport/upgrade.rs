//! The WebSocket upgrade: the credential a request carries, the peer's
//! dialect, message limits, and the echo of the accepted subprotocol:
//! `tether.v1` when the client offers it (the viewer offers it beside
//! `omnara-key.{key}`, so the 101 answer, which proxies log, never carries
//! the key); a legacy client that offers only `omnara-key.{key}` gets that
//! echoed, as browsers require an offered subprotocol to be chosen.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::Extension;

use crate::auth::{credential_header, credential_subprotocol, offered_subprotocols};

/// Which protocol a peer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Announced `protocol=tether.v1`: extension frames, control, pings.
    Tether,
    /// A legacy Omnara client: text `ready`, then frames 0–3 only, no pings.
    Legacy,
}

impl Dialect {
    /// The dialect a request's query (or offered subprotocols) announces.
    fn from_request(query: &HashMap<String, String>, headers: &HeaderMap) -> Self {
        let in_query = query.get("protocol").map(String::as_str) == Some(protocol::PROTOCOL_NAME);
        if in_query || offers_tether(headers) {
            Dialect::Tether
        } else {
            Dialect::Legacy
        }
    }
}

/// Whether the client offers the subprotocol `tether.v1`.
fn offers_tether(headers: &HeaderMap) -> bool {
    offered_subprotocols(headers).any(|p| p == protocol::PROTOCOL_NAME)
}

/// What an upgrade request carries: its credential and dialect.
#[derive(Debug, Clone)]
pub(super) struct LinkRequest {
    /// API key or share token (never logged).
    pub(super) token: Option<String>,
    /// The peer's dialect.
    pub(super) dialect: Dialect,
    /// The peer's address, for the log (when the server records it).
    pub(super) peer: Option<SocketAddr>,
    /// A Tether peer asked for DEFLATED envelopes (`compress=deflate`).
    pub(super) deflate: bool,
}

/// The peer address axum records when served with connect info.
pub(super) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// Read buffer of an agent link (which sends output in large messages).
pub(super) const AGENT_READ_BUFFER: usize = 8 << 10;
/// Read buffer of a viewer link: viewers send small messages (ACKs,
/// keystrokes), and tungstenite zero-fills the whole buffer before every
/// read, so a large one costs on every ACK. Larger messages (a paste) still
/// arrive, in more reads.
pub(super) const VIEWER_READ_BUFFER: usize = 1 << 10;

/// Reads the credential and dialect, and configures the upgrade: message
/// limits, the read buffer (`read_buffer` bytes), and the echo of the credential subprotocol the client offered.
pub(super) fn prepare_upgrade(
    upgrade: WebSocketUpgrade,
    peer: Peer,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    max_frame: usize,
    read_buffer: usize,
) -> (WebSocketUpgrade, LinkRequest) {
    let subprotocol = credential_subprotocol(headers);
    let token = credential_header(headers).or_else(|| subprotocol.as_ref().map(|s| s.1.clone()));
    let dialect = Dialect::from_request(query, headers);
    // One message may hold several frames; allow a little more than one frame.
    let max_message = max_frame.saturating_mul(2).saturating_add(64 << 10);
    // tungstenite preallocates its read buffer (128 KiB by default) for every
    // link; most links are idle, and bigger messages still grow it on demand.
    let mut upgrade = upgrade
        .read_buffer_size(read_buffer)
        .max_message_size(max_message)
        .max_frame_size(max_message);
    if offers_tether(headers) {
        upgrade = upgrade.protocols([protocol::PROTOCOL_NAME]);
    } else if let Some((offered, _)) = subprotocol {
        upgrade = upgrade.protocols([offered]);
    }
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    // Only a Tether peer knows the envelope (type 7); a legacy one never gets it.
    // The query is `protocol::deflate::QUERY`.
    let deflate =
        dialect == Dialect::Tether && query.get("compress").is_some_and(|c| c == "deflate");
    (
        upgrade,
        LinkRequest {
            token,
            dialect,
            peer,
            deflate,
        },
    )
}
