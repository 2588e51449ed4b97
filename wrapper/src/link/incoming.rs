//! What the relay sends on the agent link: the handshake (`ready`, then the
//! ACK of what it holds), then ACKs, viewers' INPUT and RESIZE, errors.

use super::connection::Ws;
use super::Shared;
use crate::session::AgentInbox;
use crate::terminal::Size;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use protocol::{Control, Decoder, Frame};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
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
    pub(super) fn new() -> Self {
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
pub(super) async fn read_handshake(
    stream: &mut SplitStream<Ws>,
    inbox: &AgentInbox,
) -> Result<Option<u64>, String> {
    loop {
        let message = match stream.next().await {
            None => return Err("the relay closed the link".into()),
            Some(Err(err)) => return Err(err.to_string()),
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
                            return Err(format!("relay: {reason}"))
                        }
                        Ok(Some(Frame::Input(data))) => {
                            inbox.viewer_input(data);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(err) if err.is_recoverable() => {
                            tracing::debug!(%err, "skipped a frame")
                        }
                        Err(err) => return Err(err.to_string()),
                    }
                }
            }
            Message::Close(frame) => {
                return Err(frame.map_or_else(
                    || "the relay closed the link".into(),
                    |f| format!("the relay closed the link: {}", f.reason),
                ))
            }
            _ => {}
        }
    }
}

/// Handles everything the relay sends on an established link.
pub(super) async fn read_frames(
    mut stream: SplitStream<Ws>,
    shared: Arc<Shared>,
    inbox: AgentInbox,
    ack_tx: watch::Sender<u64>,
    heard: Arc<Heard>,
    closed: oneshot::Sender<String>,
) {
    let reason = loop {
        let message = match stream.next().await {
            None => break "the relay closed the link".to_string(),
            Some(Err(err)) => break err.to_string(),
            Some(Ok(message)) => message,
        };
        heard.now();
        let bytes = match message {
            Message::Binary(bytes) => bytes,
            Message::Close(frame) => {
                break frame.map_or_else(
                    || "the relay closed the link".into(),
                    |f| format!("the relay closed the link: {}", f.reason),
                )
            }
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
                    if !inbox.viewer_input(data) {
                        tracing::warn!("viewer input dropped: the agent is not reading its input");
                    }
                }
                Ok(Some(Frame::Resize(protocol::Size { rows, cols }))) => {
                    inbox.viewer_resize(Size::new(rows, cols))
                }
                Ok(Some(Frame::Control(Control::Error { reason }))) => {
                    tracing::warn!(%reason, "relay reported an error")
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
    };
    let _ = closed.send(reason);
}
