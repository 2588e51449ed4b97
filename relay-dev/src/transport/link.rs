//! [`Link`]: one upgraded WebSocket with its peer's dialect — sending
//! frames (leaving out what a legacy peer does not know), receiving binary
//! messages, pings, and a clean close.
//!
//! Every send races the link's [`CloseWatch`] (shutdown, revocation,
//! expiry), the send timeout and the keepalive deadline: a peer that stops
//! reading blocks only its own link, and only until then.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use protocol::Frame;

use super::close_watch::CloseWatch;
use super::upgrade::Dialect;
use super::{CloseReason, CLOSE_TOO_BIG};

/// How long a link may take: to send one message, and between pings.
#[derive(Debug, Clone, Copy)]
pub(super) struct LinkTiming {
    /// Longest one send may block (the peer not reading) before the link is dropped.
    pub(super) send_timeout: Duration,
    /// Interval between pings; a peer silent for three of them is dropped.
    pub(super) ping_every: Duration,
}

/// Why a send did not complete.
#[derive(Debug)]
pub(super) enum SendFailure {
    /// The link must close for this reason (shutdown, revocation, expiry).
    Close(CloseReason),
    /// The peer stopped reading: the send did not finish in time.
    Stalled,
    /// The connection is gone.
    Gone,
}

/// A WebSocket with its peer's dialect.
pub(super) struct Link {
    ws: WebSocket,
    dialect: Dialect,
    timing: LinkTiming,
    /// When the peer last sent anything (a pong counts).
    last_heard: Instant,
    /// Whether binary messages go out as DEFLATED envelopes (a viewer that
    /// asked, see [`deflate`](super::deflate)).
    deflate: bool,
}

impl Link {
    /// Wraps an upgraded socket.
    pub(super) fn new(ws: WebSocket, dialect: Dialect, timing: LinkTiming) -> Self {
        Self {
            ws,
            dialect,
            timing,
            last_heard: Instant::now(),
            deflate: false,
        }
    }

    /// Sends binary messages as DEFLATED envelopes when `deflate` (and
    /// they get smaller).
    pub(super) fn with_deflate(mut self, deflate: bool) -> Self {
        self.deflate = deflate;
        self
    }

    /// The peer's dialect.
    pub(super) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The ping interval.
    pub(super) fn ping_every(&self) -> Duration {
        self.timing.ping_every
    }

    /// Sends frames as one message, leaving out the types a legacy peer does
    /// not know. Sends nothing when nothing is left.
    pub(super) async fn send_frames(
        &mut self,
        frames: &[Frame],
        watch: &mut CloseWatch,
    ) -> Result<(), SendFailure> {
        let mut bytes = Vec::new();
        for frame in frames {
            if self.dialect == Dialect::Tether || frame.frame_type().is_legacy() {
                frame.encode(&mut bytes);
            }
        }
        self.send_encoded(bytes, watch).await
    }

    /// Sends already-encoded frames as one binary message (none if empty).
    pub(super) async fn send_encoded(
        &mut self,
        bytes: Vec<u8>,
        watch: &mut CloseWatch,
    ) -> Result<(), SendFailure> {
        if bytes.is_empty() {
            return Ok(());
        }
        let bytes = if self.deflate {
            super::deflate::deflated(bytes)
        } else {
            bytes
        };
        self.send(Message::Binary(Bytes::from(bytes)), watch).await
    }

    /// Sends one binary message as it is (a message relayed from another
    /// node, already encoded and compressed there).
    pub(super) async fn send_binary(
        &mut self,
        bytes: Bytes,
        watch: &mut CloseWatch,
    ) -> Result<(), SendFailure> {
        self.send(Message::Binary(bytes), watch).await
    }

    /// Sends an encoded frame shared with other links as its own binary
    /// message: the same bytes, not a copy (compressed first for a link
    /// that asked for DEFLATED envelopes).
    pub(super) async fn send_shared(
        &mut self,
        frame: Bytes,
        watch: &mut CloseWatch,
    ) -> Result<(), SendFailure> {
        if self.deflate {
            return self.send_encoded(frame.to_vec(), watch).await;
        }
        self.send(Message::Binary(frame), watch).await
    }

    /// Sends a text message (only the legacy `ready`).
    pub(super) async fn send_text(
        &mut self,
        text: &str,
        watch: &mut CloseWatch,
    ) -> Result<(), SendFailure> {
        self.send(Message::Text(text.into()), watch).await
    }

    /// Pings the peer (RFC 6455 clients, legacy ones too, answer on their
    /// own); `false` when it has been silent for three intervals.
    pub(super) async fn keepalive(&mut self, watch: &mut CloseWatch) -> Result<(), SendFailure> {
        if self.last_heard.elapsed() > self.timing.ping_every * 3 {
            return Err(SendFailure::Gone);
        }
        self.send(Message::Ping(Bytes::new()), watch).await
    }

    /// Sends one message, racing the watch, the send timeout and the
    /// keepalive deadline (three ping intervals since the peer was heard).
    /// A send that completes at once (the socket has room, the usual case)
    /// arms no timer and no watch: that bookkeeping is for a peer that
    /// stopped reading, and it cost each viewer's copy of each chunk.
    async fn send(&mut self, message: Message, watch: &mut CloseWatch) -> Result<(), SendFailure> {
        let mut send = std::pin::pin!(self.ws.send(message));
        if let Some(sent) = ready_now(send.as_mut()).await {
            return sent.map_err(|_| SendFailure::Gone);
        }
        let silent_until = self.last_heard + self.timing.ping_every * 3;
        let deadline = (Instant::now() + self.timing.send_timeout).min(silent_until);
        tokio::select! {
            sent = send => sent.map_err(|_| SendFailure::Gone),
            why = watch.wait() => Err(SendFailure::Close(why)),
            () = tokio::time::sleep_until(deadline.into()) => Err(SendFailure::Stalled),
        }
    }

    /// The next message from the peer.
    async fn recv(&mut self) -> Option<Result<Message, axum::Error>> {
        let message = self.ws.recv().await;
        self.last_heard = Instant::now();
        message
    }

    /// The next binary message from the peer; other messages (pings, pongs,
    /// text) are skipped. `Err` when the link has ended: with the close to
    /// send (1009 for a message over the limit), or `None` when the peer
    /// closed or the connection is gone. Cancel-safe, like [`recv`](Self::recv).
    pub(super) async fn recv_binary(&mut self) -> Result<Bytes, Option<CloseReason>> {
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
    pub(super) async fn close(mut self, why: CloseReason) {
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

/// `future`'s output if it is ready at once, else `None` (and it is dropped:
/// only for cancel-safe futures, or a pinned one polled again later).
pub(super) async fn ready_now<F: std::future::Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

/// Close reasons must fit a control frame (123 bytes).
fn truncate_reason(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

/// The close for a failed read: 1009 when the message was over the size
/// limit, else `None` (the connection is gone; nothing to send).
fn close_for_read_error(error: axum::Error) -> Option<CloseReason> {
    let inner = error.into_inner();
    match inner.downcast_ref::<tokio_tungstenite::tungstenite::Error>() {
        Some(tokio_tungstenite::tungstenite::Error::Capacity(e)) => Some(CloseReason::new(
            CLOSE_TOO_BIG,
            format!("message too big: {e}"),
        )),
        _ => None,
    }
}
