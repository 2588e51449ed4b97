//! The link thread: connect, serve, and reconnect until the agent exits.
//!
//! Each attempt registers the session when it still needs it, opens the
//! WebSocket, does the handshake (METADATA and size out; `ready` and the
//! ACK of what the relay holds in), works out where to resume, then hands
//! over to a [`Connection`].

use super::connection::{Connection, Served};
use super::incoming::{read_handshake, Incoming};
use super::{tls, AgentFeed, LinkConfig, LinkError, LinkSummary, Ws, RETRY_INTERVAL};
use crate::inbox::AgentInbox;
use futures_util::{SinkExt, StreamExt};
use protocol::{Frame, PROTOCOL_NAME};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// Time allowed for TCP + TLS + WebSocket upgrade.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for the relay's `ready` and first ACK.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer of the link. The relay sends small messages (ACKs, viewers'
/// keystrokes), and tungstenite zero-fills its whole read buffer (128 KiB by
/// default) before every read: 4 KiB keeps that cheap; larger messages (a
/// paste) arrive in more reads.
const READ_BUFFER: usize = 4 << 10;

/// Runs the link on the current thread (with its own small runtime) until
/// the agent exits and the link is done; returns how it went.
pub(super) fn run_thread(config: LinkConfig, feed: AgentFeed, inbox: AgentInbox) -> LinkSummary {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(%err, "cannot start the link runtime");
            return LinkSummary {
                lost: true,
                ..LinkSummary::default()
            };
        }
    };
    let linker = Linker {
        needs_registration: config.needs_registration,
        config,
        feed,
        inbox,
        summary: LinkSummary::default(),
        first_connection: true,
        run_start: 0,
        sent_until: 0,
        up_since: None,
    };
    runtime.block_on(linker.run())
}

/// The link's state across connections.
struct Linker {
    config: LinkConfig,
    feed: AgentFeed,
    inbox: AgentInbox,
    summary: LinkSummary,
    needs_registration: bool,
    first_connection: bool,
    /// The stream offset of this run's first output byte: 0, or for a
    /// `--resume` run the end of what the relay held when the link first
    /// came up. The attention rule counts from 0; this turns its offsets
    /// into stream offsets.
    run_start: u64,
    /// Offset after the last OUTPUT byte handed to a connection (for legacy
    /// relays, which acknowledge nothing).
    sent_until: u64,
    /// When the current (or last) link completed its handshake.
    up_since: Option<Instant>,
}

impl Linker {
    /// Connects, serves and reconnects: at once after a drop, then every
    /// [`RETRY_INTERVAL`], until the agent has exited and its end is
    /// delivered (or cannot be).
    async fn run(mut self) -> LinkSummary {
        let mut attempt: u64 = 0;
        let mut wait_first = false;
        let mut retried_at_once = false;
        loop {
            if wait_first && self.feed.exit_code().is_none() {
                // Wait out the retry interval, or stop waiting when the agent exits.
                tokio::select! {
                    () = tokio::time::sleep(RETRY_INTERVAL) => {}
                    changed = self.feed.exit_rx.changed() => {
                        if changed.is_err() {
                            return self.summary;
                        }
                    }
                }
            }
            let final_attempt = self.feed.exit_code().is_some();
            attempt += 1;
            tracing::info!(attempt, url = %self.config.relay_url, "connecting to the relay");
            match self.try_once().await {
                Ok(Served::Finished { acked }) => {
                    self.summary.fully_delivered = acked;
                    self.summary.lost |= !self.summary.ever_connected;
                    return self.summary;
                }
                Ok(Served::Dropped(reason)) => {
                    self.summary.lost = true;
                    if self.feed.exit_code().is_some() {
                        // The agent is gone and its end could not be delivered: stop.
                        tracing::warn!(%reason, "relay link dropped while finishing; giving up");
                        return self.summary;
                    }
                    // At once after a drop; but a link that drops again
                    // right after such an immediate reconnect (e.g. another
                    // wrapper on the same session) waits like a failed attempt.
                    let short_lived = self.up_since.is_some_and(|t| t.elapsed() < RETRY_INTERVAL);
                    wait_first = retried_at_once && short_lived;
                    retried_at_once = !wait_first;
                    if wait_first {
                        tracing::warn!(%reason, "relay link dropped soon after connecting; retrying in 5 s");
                    } else {
                        tracing::warn!(%reason, "relay link dropped; reconnecting at once");
                    }
                }
                Err(reason) => {
                    tracing::warn!(attempt, %reason, "relay connection failed; retrying in 5 s");
                    self.summary.lost = true;
                    self.summary.last_error = Some(reason.to_string());
                    wait_first = true;
                    retried_at_once = false;
                }
            }
            if final_attempt {
                tracing::warn!("agent exited while the relay was unreachable; giving up");
                return self.summary;
            }
        }
    }

    /// One attempt: registers if needed, connects and serves. An `Err` is a
    /// connection that could not be made (or failed before the handshake
    /// completed).
    async fn try_once(&mut self) -> Result<Served, LinkError> {
        if self.needs_registration {
            self.register().await?;
        }
        let ws = self.connect().await?;
        self.serve(ws).await
    }

    /// Registers the session (the API was unreachable when tether started).
    async fn register(&mut self) -> Result<(), LinkError> {
        let api = self.config.api.clone();
        let agent = self.config.metadata.agent.clone();
        let name = self.config.metadata.agent_display_name.clone();
        let id = self.config.session_id.clone();
        tokio::task::spawn_blocking(move || api.register(&agent, name.as_deref(), Some(&id)))
            .await?
            .map_err(LinkError::Registration)?;
        tracing::info!("session registered");
        self.needs_registration = false;
        Ok(())
    }

    /// Opens the WebSocket to the relay, with the key in `Authorization`.
    async fn connect(&mut self) -> Result<Ws, LinkError> {
        let url = agent_url(&self.config.relay_url, &self.config.session_id);
        let mut request =
            url.as_str()
                .into_client_request()
                .map_err(|source| LinkError::BadUrl {
                    url: self.config.relay_url.clone(),
                    source,
                })?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.config.api_key))
            .map_err(|_| LinkError::KeyNotAHeader)?;
        request.headers_mut().insert("Authorization", auth);
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            tls::connector(self.config.insecure),
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Err(_) => Err(LinkError::ConnectTimeout),
            Ok(Err(err)) => {
                let err = LinkError::Connect(err);
                if err.is_unknown_session() {
                    // The relay lost the session (e.g. a new data dir): register it again.
                    self.needs_registration = true;
                }
                Err(err)
            }
            Ok(Ok((ws, _response))) => Ok(ws),
        }
    }

    /// Does the handshake, then runs the connection until it drops or the
    /// agent exits. A connection that fails before the relay's `ready` and
    /// ACK is an `Err`, like one that could not be opened.
    async fn serve(&mut self, ws: Ws) -> Result<Served, LinkError> {
        let (mut sink, mut stream) = ws.split();

        // METADATA first, then the PTY's size.
        let mut hello = Frame::Metadata(self.config.metadata.clone()).to_bytes();
        Frame::Resize(*self.feed.size_rx.borrow_and_update()).encode(&mut hello);
        sink.send(Message::binary(hello))
            .await
            .map_err(LinkError::Send)?;

        // The relay's `ready` and the end of its log.
        let relay_end =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream, &self.inbox))
                .await
                .map_err(|_| LinkError::HandshakeTimeout)??;
        let start = self.resume_offset(relay_end);
        tracing::info!(relay_end = ?relay_end, resend_from = start, "relay link up");
        self.summary.ever_connected = true;
        self.up_since = Some(Instant::now());
        let tether_peer = relay_end.is_some();
        if tether_peer {
            let offset = Message::binary(Frame::StreamOffset(start).to_bytes());
            if let Err(err) = sink.send(offset).await {
                return Ok(Served::Dropped(LinkError::Send(err)));
            }
        }
        self.first_connection = false;

        let incoming = Incoming::spawn(stream, self.feed.shared.clone(), self.inbox.clone());
        // The attention the relay may have missed (it ignores a wait it has seen).
        let attention = self.feed.attention_rx.borrow_and_update().clone();
        let mut connection = Connection::new(
            &mut self.feed,
            sink,
            incoming,
            tether_peer,
            start,
            self.run_start,
        );
        if let Some(attention) = attention.filter(|_| tether_peer) {
            if let Err(err) = connection.send_attention(attention).await {
                return Ok(Served::Dropped(err));
            }
        }
        let served = connection.run().await;
        self.sent_until = connection.sent_until();
        Ok(served)
    }

    /// Where to resume sending, given the end of the relay's log (`None` for a
    /// legacy relay, which sends no offsets).
    fn resume_offset(&mut self, relay_end: Option<u64>) -> u64 {
        let mut buffer = self.feed.shared.buffer();
        let Some(relay_end) = relay_end else {
            // A legacy relay appends what it gets: send what it has not been
            // sent yet (everything kept, on the first connection).
            return self.sent_until.max(buffer.start());
        };
        if self.first_connection && self.config.resumed && relay_end > 0 {
            // A resumed session: this run's output continues the relay's
            // stream (output the buffer dropped before the link came up
            // leaves a gap right after it).
            buffer.continue_after(relay_end);
            self.run_start = relay_end;
        }
        if buffer.holds(relay_end) {
            buffer.ack(relay_end);
            relay_end
        } else {
            if relay_end < buffer.start() {
                tracing::warn!(
                    relay_end,
                    oldest_kept = buffer.start(),
                    "relay lost more than the wrapper keeps: it will record a gap"
                );
            } else {
                tracing::warn!(
                    relay_end,
                    written = buffer.end(),
                    "relay holds more than this wrapper wrote"
                );
            }
            buffer.start()
        }
    }
}

/// `relay_url` with the session id and the protocol name in its query.
fn agent_url(relay_url: &str, session_id: &str) -> String {
    let separator = if relay_url.contains('?') { '&' } else { '?' };
    format!("{relay_url}{separator}session_id={session_id}&protocol={PROTOCOL_NAME}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_url_adds_session_and_protocol() {
        assert_eq!(
            agent_url("ws://h:1/agent", "abc"),
            "ws://h:1/agent?session_id=abc&protocol=tether.v1"
        );
        assert_eq!(
            agent_url("wss://h/agent?x=1", "abc"),
            "wss://h/agent?x=1&session_id=abc&protocol=tether.v1"
        );
    }
}
