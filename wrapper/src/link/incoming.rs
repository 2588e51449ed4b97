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
use std::time::Instant;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

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
    last_heard: Arc<AtomicU64>,
    clock: Instant,
    closed: oneshot::Sender<String>,
) {
    let reason = loop {
        let message = match stream.next().await {
            None => break "the relay closed the link".to_string(),
            Some(Err(err)) => break err.to_string(),
            Some(Ok(message)) => message,
        };
        last_heard.store(clock.elapsed().as_millis() as u64, Ordering::Relaxed);
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
                Ok(Some(Frame::Resize { rows, cols })) => {
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
