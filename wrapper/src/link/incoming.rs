//! What the relay sends on the agent link: the handshake (`ready`, then the
//! ACK of what it holds), then ACKs, viewers' INPUT and RESIZE, the release
//! of a viewer's size (`size_released`), errors.
//!
//! Viewers' input and sizes go to the [`AgentInbox`], which bounds them;
//! the relay's texts (error and close reasons) are kept only as
//! [`server_text`], and logged at most once a second.

use super::{LinkError, Shared, Ws};
use crate::inbox::AgentInbox;
use crate::logging::Throttle;
use crate::printable::server_text;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use protocol::{Control, Decoder, Frame};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// When the relay was last heard from (any message, pongs included).
#[derive(Debug)]
pub(super) struct Heard {
    since: Instant,
    /// Milliseconds after `since` of the last message.
    at_ms: AtomicU64,
}

impl Heard {
    /// Starts counting now, as if a message just came.
    fn new() -> Self {
        Self {
            since: Instant::now(),
            at_ms: AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let ms = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the relay last sent anything.
    pub(super) fn silent_for(&self) -> Duration {
        let now = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.at_ms.load(Ordering::Relaxed)))
    }
}

/// Reads until the relay's first ACK; `None` for a legacy relay (text `ready`).
/// Viewers' input that comes meanwhile is delivered.
pub(super) async fn read_handshake(
    stream: &mut SplitStream<Ws>,
    inbox: &AgentInbox,
) -> Result<Option<u64>, LinkError> {
    loop {
        let message = match stream.next().await {
            None => return Err(LinkError::Closed(None)),
            Some(Err(err)) => return Err(LinkError::Receive(err)),
            Some(Ok(message)) => message,
        };
        match message {
            Message::Text(text) if text.contains("ready") => return Ok(None),
            Message::Binary(bytes) => {
                let mut decoder = Decoder::default();
                decoder.push(&bytes);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(Frame::Ack(end))) => return Ok(Some(end)),
                        Ok(Some(Frame::Control(Control::Error { reason }))) => {
                            return Err(LinkError::Relay(server_text(&reason)))
                        }
                        Ok(Some(Frame::Input(data))) => {
                            inbox.viewer_input(data);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(err) if err.is_recoverable() => {
                            tracing::debug!(%err, "skipped a frame")
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
            }
            Message::Close(frame) => return Err(closed(frame)),
            _ => {}
        }
    }
}

/// The reading half of an established link, handled by its own task so that
/// a slow send never delays viewers' input or ACKs. The task stops when this
/// is dropped.
#[derive(Debug)]
pub(super) struct Incoming {
    /// When the relay was last heard from.
    pub(super) heard: Arc<Heard>,
    /// The highest offset the relay acknowledged.
    pub(super) acked: watch::Receiver<u64>,
    /// Why the link ended, once it did.
    pub(super) closed: oneshot::Receiver<LinkError>,
    task: JoinHandle<()>,
}

impl Incoming {
    /// Starts reading `stream`: ACKs go to the resend buffer, input and
    /// resize requests to the agent.
    pub(super) fn spawn(stream: SplitStream<Ws>, shared: Arc<Shared>, inbox: AgentInbox) -> Self {
        let heard = Arc::new(Heard::new());
        let (ack_tx, acked) = watch::channel(0u64);
        let (closed_tx, closed) = oneshot::channel();
        let task = tokio::spawn({
            let heard = Arc::clone(&heard);
            async move {
                let reason = read_frames(stream, &shared, &inbox, &ack_tx, &heard).await;
                let _ = closed_tx.send(reason);
            }
        });
        Self {
            heard,
            acked,
            closed,
            task,
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Handles everything the relay sends on an established link; returns why
/// the link ended.
async fn read_frames(
    mut stream: SplitStream<Ws>,
    shared: &Shared,
    inbox: &AgentInbox,
    ack_tx: &watch::Sender<u64>,
    heard: &Heard,
) -> LinkError {
    let mut errors_logged = Throttle::PER_SECOND;
    loop {
        let message = match stream.next().await {
            None => return LinkError::Closed(None),
            Some(Err(err)) => return LinkError::Receive(err),
            Some(Ok(message)) => message,
        };
        heard.now();
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Close(frame) => return closed(frame),
            _ => continue,
        };
        let mut decoder = Decoder::default();
        decoder.push(&bytes);
        loop {
            match decoder.next_frame() {
                Ok(Some(Frame::Ack(offset))) => {
                    let acked = {
                        let mut buffer = shared.buffer();
                        buffer.ack(offset);
                        buffer.acked()
                    };
                    let _ = ack_tx.send(acked);
                }
                Ok(Some(Frame::Input(data))) => {
                    // Dropped (and logged) by the inbox beyond its budget.
                    inbox.viewer_input(data);
                }
                Ok(Some(Frame::Resize(size))) => {
                    if !inbox.viewer_resize(size) {
                        tracing::debug!(%size, "refused a viewer's empty size");
                    }
                }
                Ok(Some(Frame::Control(Control::SizeReleased))) => {
                    tracing::info!("the viewer holding the size left");
                    inbox.size_released();
                }
                Ok(Some(Frame::Control(Control::Error { reason }))) => {
                    if let Some(held_back) = errors_logged.allow(Instant::now()) {
                        let reason = server_text(&reason);
                        tracing::warn!(%reason, more_before = held_back, "relay reported an error");
                    }
                }
                Ok(Some(other)) => {
                    tracing::debug!(frame_type = ?other.frame_type(), "ignored a frame")
                }
                Ok(None) => break,
                Err(err) if err.is_recoverable() => tracing::debug!(%err, "skipped a frame"),
                Err(err) => {
                    tracing::warn!(%err, "undecodable message from the relay");
                    break;
                }
            }
        }
    }
}

fn closed(frame: Option<CloseFrame>) -> LinkError {
    LinkError::Closed(frame.map(|f| server_text(&f.reason)))
}
