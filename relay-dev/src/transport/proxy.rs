//! Viewers of a session another node owns (`--redis-url`): the link is
//! relayed, message for message, to the owner's `/terminal/{id}` at its
//! `--node-url`, with the viewer's own query and credential. The owner
//! authorizes, joins, pages and closes it exactly as a viewer of its own;
//! this node only moves bytes, pings its side, and closes with the owner's
//! close (1012 when the owner goes away: the viewer reconnects and resumes).
//!
//! One extra hop of the same frames keeps offsets, ACK pacing, snapshots
//! and compression in one place, the owner's session (README, "Several
//! nodes", says why this and not Redis pub/sub).

use std::time::Duration;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use super::close_watch::CloseWatch;
use super::link::Link;
use super::upgrade::LinkRequest;
use super::{close_after, link_timing, CloseReason, CLOSE_NORMAL, CLOSE_SERVICE_RESTART};
use crate::cluster::Owner;
use crate::metrics::{add, dec};
use crate::state::{AppState, Shared};

/// The link to the owner node.
type Upstream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for the owner node to accept the link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The request headers the owner needs: the offered subprotocols (the
/// credential may be one) and the credential headers.
const FORWARDED_HEADERS: [&str; 3] = ["sec-websocket-protocol", "x-api-key", "authorization"];

/// The node that owns session `id`, if it is another one.
pub(super) async fn remote_owner(state: &Shared, id: &str) -> Option<Owner> {
    let cluster = state.cluster.as_ref()?;
    let id = Uuid::parse_str(id).ok()?;
    cluster
        .owner(id)
        .await
        .filter(|owner| owner.node != cluster.node_id())
}

/// Opens the viewer's link on the owner node; `Err` (with why) when it
/// cannot be reached, and the viewer is served here instead.
pub(super) async fn connect(
    state: &Shared,
    owner: &Owner,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Upstream, String> {
    let authority = owner.url.trim_start_matches("http://");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = format!("ws://{authority}{path}")
        .into_client_request()
        .map_err(|e| format!("bad node URL: {e}"))?;
    for name in FORWARDED_HEADERS {
        for value in headers.get_all(name) {
            request.headers_mut().append(name, value.clone());
        }
    }
    let max_message = state
        .config
        .max_frame
        .saturating_mul(2)
        .saturating_add(64 << 10);
    // Small first read buffer, as on every link (tungstenite's default
    // preallocates 128 KiB per link); it grows for big messages.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 << 10)
        .max_message_size(Some(max_message.max(64 << 20)))
        .max_frame_size(Some(max_message.max(64 << 20)));
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((upstream, _))) => Ok(upstream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Accepts the viewer's upgrade and relays it to `upstream` (the subprotocol
/// echoed is the one the owner picks: both choose it the same way).
pub(super) fn relay(
    state: AppState,
    upgrade: WebSocketUpgrade,
    request: LinkRequest,
    upstream: Upstream,
) -> Response {
    upgrade.on_upgrade(move |ws| run(state, ws, request, upstream))
}

async fn run(state: AppState, ws: WebSocket, request: LinkRequest, mut upstream: Upstream) {
    let mut link = Link::new(ws, request.dialect, link_timing(&state.config));
    let mut watch = CloseWatch::new(&state, None, None);
    add(&state.metrics.proxied_viewers, 1);
    tracing::debug!(peer = ?request.peer, "viewer relayed to the session's owner");
    let why = pump(&state, &mut link, &mut upstream, &mut watch).await;
    if let Some(why) = why {
        link.close(why).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), upstream.close(None)).await;
    dec(&state.metrics.proxied_viewers);
}

/// Moves messages both ways until one side ends; returns the close for the
/// viewer, if any.
async fn pump(
    state: &Shared,
    link: &mut Link,
    upstream: &mut Upstream,
    watch: &mut CloseWatch,
) -> Option<CloseReason> {
    let owner_lost = || {
        CloseReason::new(
            CLOSE_SERVICE_RESTART,
            "lost the node serving this session: reconnect",
        )
    };
    let send_timeout = state.config.send_timeout();
    let mut ping = tokio::time::interval(link.ping_every());
    ping.tick().await;
    loop {
        tokio::select! {
            message = link.recv_binary() => {
                let bytes = match message {
                    Ok(bytes) => bytes,
                    Err(close) => return close,
                };
                let sent = tokio::time::timeout(send_timeout, upstream.send(Message::Binary(bytes))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return Some(owner_lost());
                }
            }
            message = upstream.next() => {
                let sent = match message {
                    Some(Ok(Message::Binary(bytes))) => link.send_binary(bytes, watch).await,
                    Some(Ok(Message::Text(text))) => link.send_text(text.as_str(), watch).await,
                    Some(Ok(Message::Close(frame))) => {
                        return Some(frame.map_or_else(
                            || CloseReason::new(CLOSE_NORMAL, ""),
                            |f| CloseReason::new(f.code.into(), f.reason.as_str()),
                        ))
                    }
                    Some(Ok(_)) => Ok(()),
                    Some(Err(_)) | None => return Some(owner_lost()),
                };
                if let Err(failure) = sent {
                    return close_after(state, failure, "relayed viewer");
                }
            }
            _ = ping.tick() => {
                if let Err(failure) = link.keepalive(watch).await {
                    return close_after(state, failure, "relayed viewer");
                }
            }
            why = watch.wait() => return Some(why),
        }
    }
}
