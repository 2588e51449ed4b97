//! One established connection to the relay: sends the agent's output from
//! the resend buffer, size changes and pings, and at the agent's exit
//! delivers the rest and reports the exit.

use super::incoming::Incoming;
use super::{AgentFeed, LinkError, WsSink, MAX_CHUNK};
use futures_util::SinkExt;
use protocol::{Attention, Control, Frame, FrameType};
use std::time::Duration;
use tokio::time::{interval_at, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How often the wrapper pings an idle relay.
const PING_INTERVAL: Duration = Duration::from_secs(15);
/// Silence after which the link is considered dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// Time allowed at exit to deliver the rest and get it acknowledged.
const FINISH_DEADLINE: Duration = Duration::from_secs(5);

/// How a connection ended.
#[derive(Debug)]
pub(super) enum Served {
    /// The agent exited and the link was closed on purpose; `acked` when the
    /// relay acknowledged everything.
    Finished {
        /// Everything written was acknowledged.
        acked: bool,
    },
    /// The connection dropped; reconnect.
    Dropped(LinkError),
}

/// An established connection, past the handshake.
pub(super) struct Connection<'a> {
    /// The agent's output, size and exit, lent by the link for this connection.
    feed: &'a mut AgentFeed,
    sink: WsSink,
    incoming: Incoming,
    /// Whether the relay speaks Tether's extensions (ACK, STREAM_OFFSET,
    /// control frames); a legacy relay understands only the four basic frames.
    tether_peer: bool,
    /// Offset of the next output byte to send.
    cursor: u64,
    /// Offset after the last output byte the relay has taken.
    sent_until: u64,
    /// Stream offset of this run's first output byte (attention offsets
    /// count this run's output).
    run_start: u64,
    /// Set when the agent exits: sending may go on until then.
    finish_by: Option<Instant>,
}

impl<'a> Connection<'a> {
    /// A connection that sends from `cursor` on, for a run whose output
    /// begins at stream offset `run_start`.
    pub(super) fn new(
        feed: &'a mut AgentFeed,
        sink: WsSink,
        incoming: Incoming,
        tether_peer: bool,
        cursor: u64,
        run_start: u64,
    ) -> Self {
        Self {
            feed,
            sink,
            incoming,
            tether_peer,
            cursor,
            sent_until: cursor,
            run_start,
            finish_by: None,
        }
    }

    /// Offset after the last output byte the relay has taken.
    pub(super) fn sent_until(&self) -> u64 {
        self.sent_until
    }

    /// Serves the connection until it drops or the agent exits.
    pub(super) async fn run(&mut self) -> Served {
        let mut ping = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let mut size_open = true;
        let mut attention_open = self.tether_peer;
        loop {
            if let Some(exit_code) = self.feed.exit_code() {
                return self.finish(exit_code).await;
            }
            if let Err(err) = self.send_buffered().await {
                return Served::Dropped(err);
            }
            if self.feed.exit_code().is_some() {
                // Seen while sending: finish at the top of the loop.
                continue;
            }
            let sent = tokio::select! {
                () = self.feed.shared.wake.notified() => Ok(()),
                changed = self.feed.size_rx.changed(), if size_open => {
                    size_open = changed.is_ok();
                    if size_open {
                        let size = *self.feed.size_rx.borrow_and_update();
                        self.send(Message::binary(Frame::Resize(size).to_bytes())).await
                    } else {
                        Ok(())
                    }
                }
                changed = self.feed.attention_rx.changed(), if attention_open => {
                    attention_open = changed.is_ok();
                    let attention = self.feed.attention_rx.borrow_and_update().clone();
                    match attention {
                        Some(attention) if attention_open => self.send_attention(attention).await,
                        _ => Ok(()),
                    }
                }
                changed = self.feed.exit_rx.changed() => {
                    if changed.is_err() {
                        // The session is gone without reporting an exit.
                        return Served::Finished { acked: false };
                    }
                    Ok(())
                }
                reason = &mut self.incoming.closed => Err(closed_reason(reason)),
                _ = ping.tick() => {
                    if self.incoming.heard.silent_for() > SILENCE_LIMIT {
                        Err(LinkError::Silent)
                    } else {
                        self.send(Message::Ping(Vec::new().into())).await
                    }
                }
            };
            if let Err(err) = sent {
                return Served::Dropped(err);
            }
        }
    }

    /// Sends the session's attention (Tether relays only), its offset
    /// (counted in this run's output) made a stream offset.
    pub(super) async fn send_attention(
        &mut self,
        mut attention: Attention,
    ) -> Result<(), LinkError> {
        attention.offset = attention.offset.map(|at| at + self.run_start);
        let frame = Frame::Control(Control::Attention(attention));
        self.send(Message::binary(frame.to_bytes())).await
    }

    /// Sends everything buffered past the cursor, one frame per message.
    /// Output the buffer no longer holds is skipped, and a Tether relay is
    /// told where the stream goes on.
    async fn send_buffered(&mut self) -> Result<(), LinkError> {
        loop {
            // The header first, then the bytes straight from the buffer
            // behind it, its length filled in once known.
            let mut frame = Vec::new();
            protocol::encode_header(FrameType::Output, 0, &mut frame);
            let read = self
                .feed
                .shared
                .buffer()
                .read_into(self.cursor, MAX_CHUNK, &mut frame);
            let frame = match read {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    self.cursor += n as u64;
                    let len = u32::try_from(n).unwrap_or(u32::MAX);
                    frame[1..protocol::HEADER_LEN].copy_from_slice(&len.to_be_bytes());
                    frame
                }
                Err(oldest) => {
                    tracing::warn!(
                        from = self.cursor,
                        to = oldest,
                        "relay too slow: output older than the resend buffer was skipped"
                    );
                    self.cursor = oldest;
                    if !self.tether_peer {
                        continue;
                    }
                    Frame::StreamOffset(oldest).to_bytes()
                }
            };
            self.send(Message::binary(frame)).await?;
            self.sent_until = self.cursor;
        }
    }

    /// Sends one message while watching the link and the agent: a closed
    /// link ends the wait at once, so does a relay silent for
    /// [`SILENCE_LIMIT`]; once the agent has exited, sending may take until
    /// `finish_by` (set here when the exit is seen), so a relay that stopped
    /// reading cannot hold tether open.
    ///
    /// A send that completes at once (the socket has room, the usual case)
    /// arms no timer: that is for a relay that stopped reading.
    async fn send(&mut self, message: Message) -> Result<(), LinkError> {
        let send = self.sink.send(message);
        tokio::pin!(send);
        if let Some(sent) = ready_now(send.as_mut()).await {
            return sent.map_err(LinkError::Send);
        }
        let mut check = interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            let deadline = self.finish_by;
            tokio::select! {
                // A send that cannot complete on a link the relay stopped
                // answering (e.g. a network gone without a reset): drop it.
                _ = check.tick() => {
                    if self.incoming.heard.silent_for() > SILENCE_LIMIT {
                        return Err(LinkError::Silent);
                    }
                }
                sent = &mut send => return sent.map_err(LinkError::Send),
                reason = &mut self.incoming.closed => return Err(closed_reason(reason)),
                changed = self.feed.exit_rx.changed(), if deadline.is_none() => {
                    if changed.is_err() || self.feed.exit_rx.borrow().is_some() {
                        self.finish_by = Some(Instant::now() + FINISH_DEADLINE);
                    }
                }
                () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    return Err(LinkError::ExitDeadline);
                }
            }
        }
    }

    /// Delivers the rest of the output, reports the exit and waits (until
    /// the finish deadline) for the relay to acknowledge everything.
    async fn finish(&mut self, exit_code: i32) -> Served {
        let finish_by = *self
            .finish_by
            .get_or_insert_with(|| Instant::now() + FINISH_DEADLINE);
        let end = self.feed.shared.buffer().end();
        let mut delivered = self.send_buffered().await.is_ok();
        if delivered && self.tether_peer {
            let exited = Frame::Control(Control::AgentExited {
                exit_status: Some(exit_code),
            });
            delivered = self.send(Message::binary(exited.to_bytes())).await.is_ok();
        }
        let acked = if delivered && self.tether_peer {
            let all_acked = self.incoming.acked.wait_for(|acked| *acked >= end);
            tokio::time::timeout_at(finish_by, all_acked)
                .await
                .is_ok_and(|r| r.is_ok())
        } else {
            delivered
        };
        tracing::info!(
            exit_code,
            delivered,
            acked,
            end,
            "agent exit reported to the relay"
        );
        let _ = tokio::time::timeout(Duration::from_secs(1), self.sink.close()).await;
        if delivered {
            Served::Finished { acked }
        } else {
            Served::Dropped(LinkError::Undelivered)
        }
    }
}

/// `future`'s output if it is ready at once, else `None` (polled with the
/// task's own waker, so a pinned future polled again later is woken).
async fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

/// Why the link closed, from the reading task (or its end without a word).
fn closed_reason(reason: Result<LinkError, tokio::sync::oneshot::error::RecvError>) -> LinkError {
    reason.unwrap_or(LinkError::Closed(None))
}
