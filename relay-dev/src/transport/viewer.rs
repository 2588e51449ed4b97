//! Viewers' links: `GET /terminal/{session_id}?from=OFFSET[&protocol=tether.v1]`.
//!
//! A viewer reads the session's shared log through its own [`ViewerCursor`]:
//! the join sends role, metadata, size, the start offset, the history (with
//! the session's history policy applied), `history_complete`, then live
//! output. A slow viewer only delays itself; if the ring moves past its
//! cursor it is told of the gap and continues from the oldest kept byte.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use protocol::{Control, Frame, FrameType, HistoryPolicy, Role};
use tokio::sync::watch;
use uuid::Uuid;

use super::{decode_frames, prepare_upgrade, CloseReason, Dialect, Link, LinkRequest, Peer};
use super::{CLOSE_GOING_AWAY, CLOSE_POLICY};
use crate::auth::{authenticate, Principal};
use crate::metrics::{add, dec};
use crate::session::{
    AgentCommand, CursorRead, EraseInDisplayFilter, Liveness, SendError, Session, SessionState,
    StreamLog, ViewerCursor,
};
use crate::time::unix_now;
use crate::AppState;

/// Most output bytes sent to a viewer in one message.
const CHUNK: usize = 64 << 10;

/// Output bytes sent beyond a viewer's ACK before waiting for the next one
/// (only for viewers that send ACKs; a browser renders more slowly than a
/// socket delivers).
const WINDOW: u64 = 2 << 20;

/// Upgrades `/terminal/{id}` and runs the link.
pub async fn upgrade(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Peer,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (upgrade, request) =
        prepare_upgrade(upgrade, peer, &query, &headers, state.config.max_frame);
    let from = query.get("from").cloned();
    upgrade.on_upgrade(move |ws| run(state, ws, session_id, from, request))
}

/// Who is watching, and until when.
struct Access {
    role: Role,
    /// Key id for API keys (closed on revocation).
    key_id: Option<String>,
    /// Unix seconds at which a share token expires.
    expires_at: Option<u64>,
}

async fn authorize(
    state: &AppState,
    session_id: &str,
    token: Option<&str>,
) -> Result<(Arc<Session>, String, Access), CloseReason> {
    let principal = authenticate(&state.signer, &*state.store, token).map_err(|e| {
        add(&state.metrics.auth_failures, 1);
        tracing::info!("viewer refused: {e}");
        CloseReason::new(CLOSE_POLICY, e.to_string())
    })?;
    let id = Uuid::parse_str(session_id)
        .map_err(|_| CloseReason::new(CLOSE_POLICY, "malformed session id"))?;
    let record = state
        .store
        .session(id)
        .map_err(|e| CloseReason::new(CLOSE_POLICY, e.to_string()))?
        .ok_or_else(|| CloseReason::new(CLOSE_POLICY, "unknown session"))?;
    let refuse = |reason: &str| {
        add(&state.metrics.auth_failures, 1);
        CloseReason::new(CLOSE_POLICY, reason)
    };
    let access = match principal {
        Principal::User { user, key_id } if user == record.user => Access {
            role: Role::ReadWrite,
            key_id: Some(key_id),
            expires_at: None,
        },
        Principal::User { .. } => return Err(refuse("session belongs to another user")),
        Principal::Share(grant) if grant.session_id == id => Access {
            role: grant.role,
            key_id: None,
            expires_at: Some(grant.expires_at),
        },
        Principal::Share(_) => return Err(refuse("share token is for another session")),
    };
    let session = state.registry.get_or_create(id, &record.user);
    if record.ended_at.is_some() {
        let mut s = session.lock();
        if s.ended.is_none() && s.liveness() == Liveness::Offline {
            s.ended = Some(record.exit_status);
        }
    }
    Ok((session, record.agent_type, access))
}

async fn run(
    state: AppState,
    ws: WebSocket,
    session_id: String,
    from: Option<String>,
    request: LinkRequest,
) {
    let link = Link::new(ws, request.dialect);
    let (session, agent_type, access) =
        match authorize(&state, &session_id, request.token.as_deref()).await {
            Ok(found) => found,
            Err(why) => return link.close(why).await,
        };
    let from = match from.as_deref().map(str::parse::<u64>) {
        None => None,
        Some(Ok(offset)) => Some(offset),
        Some(Err(_)) => {
            return link
                .close(CloseReason::new(CLOSE_POLICY, "malformed from offset"))
                .await
        }
    };
    let id = session.id;
    if let Err(e) = session.join_viewer(state.config.max_viewers) {
        return link
            .close(CloseReason::new(CLOSE_POLICY, e.to_string()))
            .await;
    }
    add(&state.metrics.viewers, 1);
    tracing::info!(session = %id, dialect = ?link.dialect(), peer = ?request.peer, "viewer joined");
    let changes = session.subscribe();
    let mut viewer = ViewerLink {
        state: state.clone(),
        session: session.clone(),
        cursor: ViewerCursor::at(0),
        seen: Seen::default(),
        access,
        bucket: InputBucket::new(state.config.max_input_rate),
        link,
        replay: None,
        acked: None,
    };
    let why = viewer.serve(from, &agent_type, changes).await;
    session.leave_viewer();
    dec(&state.metrics.viewers);
    tracing::info!(session = %id, "viewer left");
    if let Some(why) = why {
        viewer.link.close(why).await;
    }
}

/// What this viewer has been told about the session so far.
#[derive(Debug, Default, Clone, PartialEq)]
struct Seen {
    metadata_version: u64,
    size: Option<(u16, u16)>,
    liveness: Option<Liveness>,
}

/// The history replay in progress: up to `end`, through the policy's filter.
struct Replay {
    end: u64,
    filter: Option<EraseInDisplayFilter>,
}

struct ViewerLink {
    state: AppState,
    session: Arc<Session>,
    cursor: ViewerCursor,
    seen: Seen,
    access: Access,
    bucket: InputBucket,
    link: Link,
    /// `Some` until the history is replayed.
    replay: Option<Replay>,
    /// The viewer's latest ACK (rendered offset), once it sends one: from
    /// then on at most [`WINDOW`] bytes are sent beyond it.
    acked: Option<u64>,
}

/// One message for a viewer, encoded as frames are added (under the session
/// lock; sent after it is released). Frames a legacy viewer does not know
/// are left out.
struct Outbox {
    bytes: Vec<u8>,
    tether: bool,
    /// Whether anything happened (also a frame left out, or a state change
    /// with nothing to say): the loop then looks again before waiting.
    progressed: bool,
    output_bytes: u64,
}

impl Outbox {
    fn new(tether: bool) -> Self {
        Self {
            bytes: Vec::new(),
            tether,
            progressed: false,
            output_bytes: 0,
        }
    }

    fn push(&mut self, frame: &Frame) {
        self.progressed = true;
        if self.tether || frame.frame_type().is_legacy() {
            frame.encode(&mut self.bytes);
        }
    }

    /// Adds an OUTPUT frame with `data`, if any.
    fn push_output(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.progressed = true;
            self.output_bytes += data.len() as u64;
            protocol::encode_output(data, &mut self.bytes);
        }
    }

    /// Adds an OUTPUT frame read by `cursor` straight from the ring (one copy).
    fn push_output_from(
        &mut self,
        cursor: &mut ViewerCursor,
        log: &StreamLog,
        limit: u64,
    ) -> CursorRead {
        let header_at = self.bytes.len();
        protocol::encode_header(FrameType::Output, 0, &mut self.bytes);
        let read = cursor.read_into(log, CHUNK, limit, &mut self.bytes);
        let len = self.bytes.len() - header_at - protocol::HEADER_LEN;
        if len == 0 {
            self.bytes.truncate(header_at);
        } else {
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            self.bytes[header_at + 1..header_at + protocol::HEADER_LEN]
                .copy_from_slice(&len32.to_be_bytes());
            self.progressed = true;
            self.output_bytes += len as u64;
        }
        read
    }
}

impl ViewerLink {
    async fn serve(
        &mut self,
        from: Option<u64>,
        agent_type: &str,
        mut changes: watch::Receiver<u64>,
    ) -> Option<CloseReason> {
        let tether = self.link.dialect() == Dialect::Tether;
        let mut revoked = self.state.revoked.subscribe();
        let mut shutdown = self.state.shutdown.subscribe();
        if *shutdown.borrow_and_update() {
            return Some(CloseReason::new(CLOSE_GOING_AWAY, "relay shutting down"));
        }
        changes.borrow_and_update();

        // Join: role, metadata, size, gap?, start offset.
        let (frames, policy, history_end) = {
            let state = self.session.lock();
            let mut frames = vec![Frame::Control(Control::Role {
                role: self.access.role,
            })];
            if let Some(metadata) = &state.metadata {
                frames.push(Frame::Metadata(metadata.clone()));
            }
            if let Some((rows, cols)) = state.size {
                frames.push(Frame::Resize(protocol::Size { rows, cols }));
            }
            self.seen.metadata_version = state.metadata_version;
            self.seen.size = state.size;
            let (start, end) = (state.log.start(), state.log.end());
            // `from` beyond the end is kept: the viewer already has those
            // bytes (e.g. the relay restarted and the wrapper is re-uploading).
            let from = from.unwrap_or(start);
            if from < start {
                frames.push(Frame::Control(Control::Gap { from, to: start }));
            }
            let begin = from.max(start);
            frames.push(Frame::StreamOffset(begin));
            self.cursor = ViewerCursor::at(begin);
            let policy = match &state.metadata {
                Some(metadata) => metadata.effective_history_policy(),
                None if agent_type == "codex" => HistoryPolicy::StripEscJ,
                None => HistoryPolicy::Verbatim,
            };
            (frames, policy, end)
        };
        self.link.send_frames(&frames).await.ok()?;
        self.replay = Some(Replay {
            end: history_end,
            filter: (policy == HistoryPolicy::StripEscJ).then(EraseInDisplayFilter::default),
        });

        // History, then live: one loop, so input and ACKs are handled
        // during a long replay too.
        let mut ping = tokio::time::interval(self.state.config.ping_every());
        ping.tick().await;
        let expiry = self.access.expires_at.map(|at| {
            let left = at.saturating_sub(unix_now());
            tokio::time::Instant::now() + Duration::from_secs(left)
        });
        let expired = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expired);
        loop {
            changes.borrow_and_update();
            let batch = self.next_batch(tether);
            let has_work = batch.progressed;
            if has_work {
                add(&self.state.metrics.bytes_out, batch.output_bytes);
                // Sending waits only for this viewer's socket; meanwhile the
                // agent and other viewers go on (they never wait for us). A
                // stalled viewer still hears of shutdown.
                tokio::select! {
                    sent = self.link.send_encoded(batch.bytes) => sent.ok()?,
                    _ = shutdown.changed() => {
                        return Some(CloseReason::new(CLOSE_GOING_AWAY, "relay shutting down"));
                    }
                }
            }
            tokio::select! {
                biased;
                message = self.link.recv_binary() => {
                    let bytes = match message {
                        Ok(bytes) => bytes,
                        Err(close) => return close,
                    };
                    if let Err(why) = self.on_message(&bytes).await {
                        tracing::warn!(session = %self.session.id, "closing viewer link: {}", why.reason);
                        return Some(why);
                    }
                }
                _ = shutdown.changed() => {
                    return Some(CloseReason::new(CLOSE_GOING_AWAY, "relay shutting down"));
                }
                Ok(()) = revoked.changed() => {
                    let revoked_now = self.access.key_id.as_ref().is_some_and(|k| revoked.borrow_and_update().contains(k));
                    if revoked_now {
                        return Some(CloseReason::new(CLOSE_POLICY, "API key revoked"));
                    }
                }
                () = &mut expired => return Some(CloseReason::new(CLOSE_POLICY, "share token expired")),
                _ = ping.tick() => {
                    if !self.link.keepalive(self.state.config.ping_every()).await {
                        return None;
                    }
                }
                _ = std::future::ready(()), if has_work => {}
                Ok(()) = changes.changed(), if !has_work => {}
            }
        }
    }

    /// The next message for this viewer: during the replay, the next
    /// history chunk (or `history_complete`); then what changed since the
    /// last batch and the next output chunk.
    fn next_batch(&mut self, tether: bool) -> Outbox {
        let mut out = Outbox::new(tether);
        let session = self.session.clone();
        let state = session.lock();
        let paced = self
            .acked
            .is_some_and(|acked| self.cursor.position().saturating_sub(acked) >= WINDOW);
        if self.replay.is_some() {
            if !paced {
                self.replay_step(&state, &mut out);
            }
            return out;
        }
        if state.metadata_version != self.seen.metadata_version {
            self.seen.metadata_version = state.metadata_version;
            if let Some(metadata) = &state.metadata {
                out.push(&Frame::Metadata(metadata.clone()));
            }
        }
        // A size change or the end is sent where it happened in the stream:
        // a viewer still behind that offset first gets the output before it.
        let liveness = state.liveness();
        let size_pending = state.size != self.seen.size;
        let end_pending = liveness == Liveness::Ended && self.seen.liveness != Some(liveness);
        let mut limit = u64::MAX;
        if size_pending && self.cursor.position() < state.size_offset {
            limit = state.size_offset;
        }
        if end_pending && self.cursor.position() < state.ended_offset {
            limit = limit.min(state.ended_offset);
        }
        if !paced {
            if let CursorRead::Gap { from, to } =
                out.push_output_from(&mut self.cursor, &state.log, limit)
            {
                tracing::info!(session = %self.session.id, from, to, "slow viewer skipped a gap");
                add(&self.state.metrics.frames_dropped, 1);
                out.push(&Frame::Control(Control::Gap { from, to }));
                out.push(&Frame::StreamOffset(to));
                self.acked = self.acked.map(|_| to);
            }
        }
        let at = self.cursor.position();
        if size_pending && at >= state.size_offset {
            self.seen.size = state.size;
            if let Some((rows, cols)) = state.size {
                out.push(&Frame::Resize(protocol::Size { rows, cols }));
            }
        }
        if self.seen.liveness != Some(liveness)
            && (liveness != Liveness::Ended || at >= state.ended_offset)
        {
            let first = self.seen.liveness.is_none();
            self.seen.liveness = Some(liveness);
            let event = match liveness {
                Liveness::Live if first => None,
                Liveness::Live => Some(Control::AgentOnline),
                Liveness::Offline => Some(Control::AgentOffline),
                Liveness::Ended => Some(Control::SessionEnded {
                    exit_status: state.ended.flatten(),
                }),
            };
            match event {
                Some(event) => out.push(&Frame::Control(event)),
                None => out.progressed = true,
            }
        }
        out
    }

    /// One step of the history replay: a chunk through the policy's filter,
    /// a gap, or the end (`history_complete`).
    fn replay_step(&mut self, state: &SessionState, out: &mut Outbox) {
        let Some(replay) = self.replay.as_mut() else {
            return;
        };
        let Some(filter) = replay.filter.as_mut() else {
            // Verbatim: straight from the ring into the message.
            match out.push_output_from(&mut self.cursor, &state.log, replay.end) {
                CursorRead::UpToDate => {
                    out.push(&Frame::Control(Control::HistoryComplete {
                        offset: self.cursor.position(),
                    }));
                    self.replay = None;
                }
                CursorRead::Gap { from, to } => {
                    out.push(&Frame::Control(Control::Gap { from, to }));
                    out.push(&Frame::StreamOffset(to));
                    self.acked = self.acked.map(|_| to);
                }
                CursorRead::Bytes { .. } => {}
            }
            return;
        };
        let mut kept = Vec::new();
        match self.cursor.read(&state.log, CHUNK, replay.end) {
            CursorRead::Bytes { data, .. } => {
                filter.push(&data, &mut kept);
                out.push_output(&kept);
            }
            CursorRead::UpToDate => {
                filter.finish(&mut kept);
                out.push_output(&kept);
                out.push(&Frame::Control(Control::HistoryComplete {
                    offset: self.cursor.position(),
                }));
                self.replay = None;
            }
            CursorRead::Gap { from, to } => {
                filter.finish(&mut kept);
                out.push_output(&kept);
                out.push(&Frame::Control(Control::Gap { from, to }));
                out.push(&Frame::StreamOffset(to));
                self.acked = self.acked.map(|_| to);
            }
        }
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), CloseReason> {
        let mut skipped = 0;
        let frames = decode_frames(bytes, self.state.config.max_frame, &mut skipped);
        add(&self.state.metrics.frames_dropped, skipped);
        for frame in frames? {
            let (command, len) = match frame {
                Frame::Input(data) => {
                    let len = data.len() as u64;
                    (AgentCommand::Input(data), len)
                }
                Frame::Resize(protocol::Size { rows: 0, .. })
                | Frame::Resize(protocol::Size { cols: 0, .. }) => {
                    add(&self.state.metrics.frames_dropped, 1);
                    self.refuse("resize refused: rows and columns must be at least 1")
                        .await?;
                    continue;
                }
                Frame::Resize(protocol::Size { rows, cols }) => {
                    (AgentCommand::Resize { rows, cols }, 0)
                }
                Frame::Ack(rendered) => {
                    self.acked = Some(self.acked.map_or(rendered, |a| a.max(rendered)));
                    continue;
                }
                _ => continue,
            };
            if let Err(reason) = self.check_input(len) {
                add(&self.state.metrics.frames_dropped, 1);
                self.refuse(reason).await?;
                continue;
            }
            if let Err(e) = self.session.send_to_agent(command) {
                add(&self.state.metrics.frames_dropped, 1);
                let reason = match e {
                    SendError::Offline => "agent offline: input not delivered",
                    SendError::Busy => "agent busy: input dropped",
                };
                self.refuse(reason).await?;
            }
        }
        Ok(())
    }

    fn check_input(&mut self, len: u64) -> Result<(), &'static str> {
        if self.access.role == Role::ReadOnly {
            return Err("read-only viewer: input and resize refused");
        }
        if !self.bucket.take(len) {
            return Err("input rate limit exceeded: input dropped");
        }
        Ok(())
    }

    async fn refuse(&mut self, reason: &str) -> Result<(), CloseReason> {
        let error = Frame::Control(Control::Error {
            reason: reason.to_string(),
        });
        self.link
            .send_frames(&[error])
            .await
            .map_err(|_| CloseReason::new(super::CLOSE_NORMAL, "viewer gone"))
    }
}

/// A token bucket of input bytes per second, one second's worth deep.
struct InputBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl InputBucket {
    fn new(rate: u64) -> Self {
        Self {
            rate: rate as f64,
            tokens: rate as f64,
            last: Instant::now(),
        }
    }

    fn take(&mut self, n: u64) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}
