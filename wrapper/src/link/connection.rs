//! The link's connect / serve / reconnect loop (runs on the link thread).

use super::incoming::{read_frames, read_handshake, Heard};
use super::{tls, LinkConfig, LinkSummary, Shared, RETRY_INTERVAL};
use crate::api::ApiError;
use crate::session::AgentInbox;
use crate::terminal::Size;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use protocol::{Control, Frame, DEFAULT_MAX_PAYLOAD, PROTOCOL_NAME};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Largest OUTPUT payload sent in one frame (the protocol's default limit).
const MAX_CHUNK: usize = DEFAULT_MAX_PAYLOAD;
/// Time allowed for TCP + TLS + WebSocket upgrade.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for the relay's `ready` and first ACK.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the wrapper pings an idle relay.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// Silence after which the link is considered dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// Time allowed at exit to deliver the rest and get it acknowledged.
pub(super) const FINISH_DEADLINE: Duration = Duration::from_secs(5);

pub(super) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type WsSink = SplitSink<Ws, Message>;

/// Why a connection ended.
enum Served {
    /// The agent exited and the link was closed on purpose.
    Finished,
    /// The connection dropped; reconnect.
    Dropped(String),
}

pub(super) fn run_thread(
    config: LinkConfig,
    shared: Arc<Shared>,
    inbox: AgentInbox,
    size_rx: watch::Receiver<Size>,
    exit_rx: watch::Receiver<Option<i32>>,
) -> LinkSummary {
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
        shared,
        inbox,
        size_rx,
        exit_rx,
        summary: LinkSummary::default(),
        first_connection: true,
        sent_until: 0,
        up_since: None,
    };
    runtime.block_on(linker.run())
}

struct Linker {
    config: LinkConfig,
    shared: Arc<Shared>,
    inbox: AgentInbox,
    size_rx: watch::Receiver<Size>,
    exit_rx: watch::Receiver<Option<i32>>,
    summary: LinkSummary,
    needs_registration: bool,
    first_connection: bool,
    /// Offset after the last OUTPUT byte handed to a connection (for legacy
    /// relays, which acknowledge nothing).
    sent_until: u64,
    /// When the current (or last) link completed its handshake.
    up_since: Option<Instant>,
}

impl Linker {
    fn exit_code(&self) -> Option<i32> {
        *self.exit_rx.borrow()
    }

    async fn run(mut self) -> LinkSummary {
        let mut attempt: u64 = 0;
        let mut wait_first = false;
        let mut retried_at_once = false;
        loop {
            if wait_first && self.exit_code().is_none() {
                // Wait out the retry interval, or stop waiting when the agent exits.
                tokio::select! {
                    () = tokio::time::sleep(RETRY_INTERVAL) => {}
                    changed = self.exit_rx.changed() => {
                        if changed.is_err() {
                            return self.summary.clone();
                        }
                    }
                }
            }
            let final_attempt = self.exit_code().is_some();
            attempt += 1;
            tracing::info!(attempt, url = %self.config.relay_url, "connecting to the relay");
            match self.try_once().await {
                Ok(Served::Finished) => {
                    self.summary.lost |= !self.summary.ever_connected;
                    return self.summary.clone();
                }
                Ok(Served::Dropped(reason)) => {
                    self.summary.lost = true;
                    if self.exit_code().is_some() {
                        // The agent is gone and its end could not be delivered: stop.
                        tracing::warn!(%reason, "relay link dropped while finishing; giving up");
                        return self.summary.clone();
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
                    self.summary.last_error = Some(reason);
                    wait_first = true;
                    retried_at_once = false;
                }
            }
            if final_attempt {
                tracing::warn!("agent exited while the relay was unreachable; giving up");
                return self.summary.clone();
            }
        }
    }

    async fn try_once(&mut self) -> Result<Served, String> {
        if self.needs_registration {
            self.register().await?;
        }
        let ws = self.connect().await?;
        self.serve(ws).await
    }

    async fn register(&mut self) -> Result<(), String> {
        let api = self.config.api.clone();
        let agent = self.config.metadata.agent.clone();
        let name = self.config.metadata.agent_display_name.clone();
        let id = self.config.session_id.clone();
        let result =
            tokio::task::spawn_blocking(move || api.register(&agent, name.as_deref(), Some(&id)))
                .await
                .map_err(|err| err.to_string())?;
        match result {
            Ok(_) => {
                tracing::info!("session registered");
                self.needs_registration = false;
                Ok(())
            }
            Err(err @ ApiError::KeyRefused) => Err(err.to_string()),
            Err(err) => Err(format!("registration failed: {err}")),
        }
    }

    async fn connect(&mut self) -> Result<Ws, String> {
        let url = agent_url(&self.config.relay_url, &self.config.session_id);
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|err| format!("bad relay URL {}: {err}", self.config.relay_url))?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.config.api_key))
            .map_err(|_| "the API key contains characters not allowed in a header".to_string())?;
        request.headers_mut().insert("Authorization", auth);
        let connecting = tokio_tungstenite::connect_async_tls_with_config(
            request,
            None,
            true,
            tls::connector(self.config.insecure),
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(err)) => {
                if matches!(&err, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 404)
                {
                    // The relay lost the session (e.g. a new data dir): register it again.
                    self.needs_registration = true;
                }
                Err(describe_ws_error(&err))
            }
            Ok(Ok((ws, _response))) => Ok(ws),
        }
    }

    /// Runs one connection until it drops or the agent exits. A connection
    /// that fails before the relay's `ready` and ACK is an `Err`, like one
    /// that could not be opened.
    async fn serve(&mut self, ws: Ws) -> Result<Served, String> {
        let (mut sink, mut stream) = ws.split();

        // METADATA first, then the PTY's size.
        let mut hello = Frame::Metadata(self.config.metadata.clone()).to_bytes();
        let size = *self.size_rx.borrow_and_update();
        Frame::Resize(protocol::Size {
            rows: size.rows,
            cols: size.cols,
        })
        .encode(&mut hello);
        if let Err(err) = sink.send(Message::binary(hello)).await {
            return Err(format!("send failed: {err}"));
        }

        // The relay's `ready` and the end of its log.
        let relay_end =
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream, &self.inbox))
                .await
            {
                Err(_) => return Err("no ready/ACK from the relay".into()),
                Ok(Err(reason)) => return Err(reason),
                Ok(Ok(end)) => end,
            };
        let start = self.resume_offset(relay_end);
        tracing::info!(relay_end = ?relay_end, resend_from = start, "relay link up");
        self.summary.ever_connected = true;
        self.up_since = Some(Instant::now());
        if relay_end.is_some() {
            if let Err(err) = sink
                .send(Message::binary(Frame::StreamOffset(start).to_bytes()))
                .await
            {
                return Ok(Served::Dropped(format!("send failed: {err}")));
            }
        }
        self.first_connection = false;

        // Incoming frames are handled by their own task so that a slow send
        // never delays viewers' input or ACKs.
        let heard = Arc::new(Heard::new());
        let (ack_tx, mut ack_rx) = watch::channel(0u64);
        let (closed_tx, mut closed_rx) = oneshot::channel::<String>();
        let reader = tokio::spawn(read_frames(
            stream,
            Arc::clone(&self.shared),
            self.inbox.clone(),
            ack_tx,
            Arc::clone(&heard),
            closed_tx,
        ));
        let result = self
            .pump(
                &mut sink,
                start,
                relay_end.is_some(),
                &mut closed_rx,
                &mut ack_rx,
                &heard,
            )
            .await;
        reader.abort();
        Ok(result)
    }

    /// Where to resume sending, given the end of the relay's log (`None` for a
    /// legacy relay, which sends no offsets).
    fn resume_offset(&self, relay_end: Option<u64>) -> u64 {
        let mut buffer = self.shared.buffer();
        let Some(relay_end) = relay_end else {
            // A legacy relay appends what it gets: send what it has not been
            // sent yet (everything kept, on the first connection).
            return self.sent_until.max(buffer.start());
        };
        if self.first_connection && self.config.resumed && buffer.start() == 0 && relay_end > 0 {
            // A resumed session: this run's output continues the relay's stream.
            buffer.rebase(relay_end);
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

    #[allow(clippy::too_many_arguments)]
    async fn pump(
        &mut self,
        sink: &mut WsSink,
        start: u64,
        tether_peer: bool,
        closed_rx: &mut oneshot::Receiver<String>,
        ack_rx: &mut watch::Receiver<u64>,
        heard: &Heard,
    ) -> Served {
        let mut cursor = start;
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let mut size_open = true;
        // Set when the agent exits: sending may go on until then.
        let mut finish_by: Option<tokio::time::Instant> = None;
        loop {
            if let Some(exit_code) = self.exit_code() {
                let finish_by =
                    finish_by.unwrap_or_else(|| tokio::time::Instant::now() + FINISH_DEADLINE);
                return self
                    .finish(
                        sink,
                        cursor,
                        tether_peer,
                        exit_code,
                        closed_rx,
                        ack_rx,
                        finish_by,
                    )
                    .await;
            }
            // Send everything that is buffered, one frame per message.
            loop {
                let chunk = self.shared.buffer().read_from(cursor, MAX_CHUNK);
                let message = match chunk {
                    Ok(bytes) if bytes.is_empty() => break,
                    Ok(bytes) => {
                        cursor += bytes.len() as u64;
                        let mut frame = Vec::with_capacity(bytes.len() + protocol::HEADER_LEN);
                        protocol::encode_output(&bytes, &mut frame);
                        frame
                    }
                    Err(oldest) => {
                        tracing::warn!(
                            from = cursor,
                            to = oldest,
                            "relay too slow: output older than the resend buffer was skipped"
                        );
                        cursor = oldest;
                        if !tether_peer {
                            continue;
                        }
                        Frame::StreamOffset(oldest).to_bytes()
                    }
                };
                let message = Message::binary(message);
                if let Err(served) = send_watching(
                    sink,
                    message,
                    closed_rx,
                    heard,
                    &mut self.exit_rx,
                    &mut finish_by,
                )
                .await
                {
                    return served;
                }
                self.sent_until = cursor;
            }

            if self.exit_code().is_some() {
                // Seen while sending: finish at the top of the loop.
                continue;
            }
            tokio::select! {
                () = self.shared.wake.notified() => {}
                changed = self.size_rx.changed(), if size_open => {
                    size_open = changed.is_ok();
                    if size_open {
                        let size = *self.size_rx.borrow_and_update();
                        let frame = Frame::Resize(protocol::Size { rows: size.rows, cols: size.cols }).to_bytes();
                        let message = Message::binary(frame);
                        if let Err(served) = send_watching(sink, message, closed_rx, heard, &mut self.exit_rx, &mut finish_by).await {
                            return served;
                        }
                    }
                }
                changed = self.exit_rx.changed() => {
                    if changed.is_err() {
                        // The session is gone without reporting an exit.
                        return Served::Finished;
                    }
                }
                reason = &mut *closed_rx => return Served::Dropped(reason.unwrap_or_default()),
                _ = ping.tick() => {
                    if heard.silent_for() > SILENCE_LIMIT {
                        return Served::Dropped("the relay stopped answering".into());
                    }
                    let message = Message::Ping(Vec::new().into());
                    if let Err(served) = send_watching(sink, message, closed_rx, heard, &mut self.exit_rx, &mut finish_by).await {
                        return served;
                    }
                }
            }
        }
    }

    /// Delivers the rest of the output, reports the exit and waits (until
    /// `finish_by`) for the relay to acknowledge everything.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &mut self,
        sink: &mut WsSink,
        mut cursor: u64,
        tether_peer: bool,
        exit_code: i32,
        closed_rx: &mut oneshot::Receiver<String>,
        ack_rx: &mut watch::Receiver<u64>,
        finish_by: tokio::time::Instant,
    ) -> Served {
        let deliver = async {
            loop {
                let chunk = self.shared.buffer().read_from(cursor, MAX_CHUNK);
                match chunk {
                    Ok(bytes) if bytes.is_empty() => break,
                    Ok(bytes) => {
                        cursor += bytes.len() as u64;
                        let mut frame = Vec::with_capacity(bytes.len() + protocol::HEADER_LEN);
                        protocol::encode_output(&bytes, &mut frame);
                        sink.send(Message::binary(frame)).await?;
                    }
                    Err(oldest) => cursor = oldest,
                }
            }
            if tether_peer {
                let exited = Frame::Control(Control::AgentExited {
                    exit_status: Some(exit_code),
                });
                sink.send(Message::binary(exited.to_bytes())).await?;
            }
            Ok::<(), tokio_tungstenite::tungstenite::Error>(())
        };
        let end = self.shared.buffer().end();
        let delivered = tokio::select! {
            sent = tokio::time::timeout_at(finish_by, deliver) => matches!(sent, Ok(Ok(()))),
            _ = &mut *closed_rx => false,
        };
        let acked = if delivered && tether_peer {
            tokio::time::timeout_at(finish_by, ack_rx.wait_for(|acked| *acked >= end))
                .await
                .is_ok_and(|r| r.is_ok())
        } else {
            delivered
        };
        self.summary.fully_delivered = acked;
        tracing::info!(
            exit_code,
            delivered,
            acked,
            end,
            "agent exit reported to the relay"
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        if delivered {
            Served::Finished
        } else {
            Served::Dropped("could not deliver the last output".into())
        }
    }
}

/// Sends one message while watching the link and the agent: a closed link
/// ends the wait at once, so does a relay silent for [`SILENCE_LIMIT`]; once
/// the agent has exited, sending may take until `finish_by` (set here when
/// the exit is seen), so a relay that stopped reading cannot hold tether open.
async fn send_watching(
    sink: &mut WsSink,
    message: Message,
    closed_rx: &mut oneshot::Receiver<String>,
    heard: &Heard,
    exit_rx: &mut watch::Receiver<Option<i32>>,
    finish_by: &mut Option<tokio::time::Instant>,
) -> Result<(), Served> {
    let send = sink.send(message);
    tokio::pin!(send);
    let mut check =
        tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    loop {
        let deadline = *finish_by;
        tokio::select! {
            // A send that cannot complete on a link the relay stopped
            // answering (e.g. a network gone without a reset): drop it.
            _ = check.tick() => {
                if heard.silent_for() > SILENCE_LIMIT {
                    return Err(Served::Dropped("the relay stopped answering".into()));
                }
            }
            sent = &mut send => {
                return sent.map_err(|err| Served::Dropped(format!("send failed: {err}")));
            }
            reason = &mut *closed_rx => return Err(Served::Dropped(reason.unwrap_or_default())),
            changed = exit_rx.changed(), if deadline.is_none() => {
                if changed.is_err() || exit_rx.borrow().is_some() {
                    *finish_by = Some(tokio::time::Instant::now() + FINISH_DEADLINE);
                }
            }
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                return Err(Served::Dropped("the relay did not take the output in time".into()));
            }
        }
    }
}

/// `relay_url` with the session id and the protocol name in its query.
pub(crate) fn agent_url(relay_url: &str, session_id: &str) -> String {
    let separator = if relay_url.contains('?') { '&' } else { '?' };
    format!("{relay_url}{separator}session_id={session_id}&protocol={PROTOCOL_NAME}")
}

fn describe_ws_error(err: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match err {
        Error::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            match status.as_u16() {
                401 => "the relay refused the API key (run `tether --auth`)".into(),
                404 => format!("the relay does not know this session (HTTP 404) {body}"),
                _ => format!("the relay refused the link (HTTP {status}) {body}"),
            }
        }
        other => other.to_string(),
    }
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
