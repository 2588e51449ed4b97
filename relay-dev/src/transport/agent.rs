//! The agent's link: `GET /agent?session_id=UUID[&protocol=tether.v1]`.
//!
//! The wrapper streams OUTPUT (with offsets, for Tether peers) into its
//! session ([`Session::upload`]); the relay acknowledges what the log holds
//! ([`OwedAck`]: with the next message to the wrapper, or soon) and forwards
//! viewers' INPUT and RESIZE (and, to Tether wrappers, `size_released` when
//! the viewer holding the size leaves). A new link for the same session
//! replaces the old one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use protocol::{Control, Frame};
use uuid::Uuid;

use super::close_watch::CloseWatch;
use super::link::{ready_now, Link, SendFailure};
use super::upgrade::{prepare_upgrade, Dialect, LinkRequest, Peer, AGENT_READ_BUFFER};
use super::{
    close_after, decode_frames, link_timing, CloseReason, CLOSE_NORMAL, CLOSE_PROTOCOL_ERROR,
    CLOSE_TRY_AGAIN,
};
use crate::alerts;
use crate::auth::{authenticate, Grant, Principal};
use crate::lifecycle::{self, OpenError, Registration};
use crate::metrics::{add, dec};
use crate::session::{
    command_queue, AgentCommand, CloseCause, CommandReceiver, Liveness, Session, Upload,
    UploadError,
};
use crate::state::AppState;
use ack::{OwedAck, ACK_BYTES};

mod ack;

/// Bytes of viewers' commands queued for one agent before more input is
/// refused as "busy": two of the largest frames (and at least 128 KiB).
fn queue_bytes(max_frame: usize) -> usize {
    max_frame.max(64 << 10).saturating_mul(2)
}

/// Upgrades `/agent` and runs the link.
pub(super) async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Peer,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (upgrade, request) = prepare_upgrade(
        upgrade,
        peer,
        &query,
        &headers,
        state.config.max_frame,
        AGENT_READ_BUFFER,
    );
    let session_id = query.get("session_id").cloned();
    upgrade.on_upgrade(move |ws| run(state, ws, session_id, request))
}

/// What the link streams into: the session, opened for the key's user, and
/// the key (the link closes when it is revoked).
async fn authorize(
    state: &AppState,
    session_id: Option<&str>,
    token: Option<&str>,
) -> Result<(Arc<Session>, String), CloseReason> {
    let (user, key_id) = match authenticate(&state.signer, &state.store, token).await {
        Ok(Principal::User { user, key_id }) => (user, key_id),
        Ok(Principal::Share(_)) => {
            add(&state.metrics.auth_failures, 1);
            return Err(CloseReason::policy("a share token cannot stream a session"));
        }
        Err(e) => {
            add(&state.metrics.auth_failures, 1);
            tracing::info!("agent link refused: {e}");
            return Err(CloseReason::policy(e.to_string()));
        }
    };
    let Some(id) = session_id.and_then(|s| Uuid::parse_str(s).ok()) else {
        return Err(CloseReason::policy("missing or malformed session_id"));
    };
    match lifecycle::open(state, id, &user, Registration::default()).await {
        Ok((_, session)) => Ok((session, key_id)),
        Err(e @ OpenError::Budget(_)) => Err(CloseReason::new(CLOSE_TRY_AGAIN, e.to_string())),
        Err(e) => {
            if let OpenError::Store(e) = &e {
                tracing::error!("opening session {id}: {e}");
            }
            Err(CloseReason::policy(e.to_string()))
        }
    }
}

async fn run(state: AppState, ws: WebSocket, session_id: Option<String>, request: LinkRequest) {
    let link = Link::new(ws, request.dialect, link_timing(&state.config));
    let authorized = tokio::time::timeout(
        state.config.upgrade_timeout(),
        authorize(&state, session_id.as_deref(), request.token.as_deref()),
    )
    .await
    .unwrap_or_else(|_| Err(CloseReason::new(CLOSE_TRY_AGAIN, "authorization timed out")));
    let (session, key_id) = match authorized {
        Ok(authorized) => authorized,
        Err(why) => return link.close(why).await,
    };
    let id = session.id;
    let (commands_tx, commands) = command_queue(queue_bytes(state.config.max_frame));
    let attached = session.attach_agent(commands_tx);
    let held = attached.held();
    if let (Some(cluster), Some(live)) = (&state.cluster, state.registry.live_session(id)) {
        // This node holds the link now: the others send its viewers here.
        cluster.claim(&live).await;
    }
    add(&state.metrics.agents, 1);
    tracing::info!(session = %id, dialect = ?link.dialect(), peer = ?request.peer, held, "agent connected");
    let mut agent = AgentLink {
        watch: CloseWatch::new(&state, Some(Grant::Key(key_id)), None),
        state: state.clone(),
        session,
        upload: Upload::default(),
        owed: OwedAck::new(held),
        link,
    };
    let why = agent.serve(held, commands).await;
    drop(attached);
    if let Some(cluster) = &state.cluster {
        if agent.session.liveness() != Liveness::Live {
            cluster.release(id).await;
        }
    }
    tracing::info!(session = %id, reason = ?why.as_ref().map(|w| &w.reason), "agent disconnected");
    if let Some(why) = why {
        agent.link.close(why).await;
    }
    lifecycle::touch(&state, id).await;
    // Counted until closed: a relay shutting down waits for this.
    dec(&state.metrics.agents);
}

struct AgentLink {
    state: AppState,
    session: Arc<Session>,
    watch: CloseWatch,
    upload: Upload,
    owed: OwedAck,
    link: Link,
}

/// The close for what the session asks of the link.
fn close_for(cause: CloseCause) -> CloseReason {
    match cause {
        CloseCause::Replaced => CloseReason::new(CLOSE_NORMAL, "replaced by a newer agent link"),
    }
}

impl AgentLink {
    /// Runs the link until it ends; returns the close to send, if any.
    async fn serve(&mut self, held: u64, mut commands: CommandReceiver) -> Option<CloseReason> {
        let greeting = match self.link.dialect() {
            Dialect::Tether => {
                let frames = [Frame::Control(Control::Ready), Frame::Ack(held)];
                self.link.send_frames(&frames, &mut self.watch).await
            }
            Dialect::Legacy => {
                let ready = r#"{"type":"ready"}"#;
                self.link.send_text(ready, &mut self.watch).await
            }
        };
        if let Err(failure) = greeting {
            return close_after(&self.state, failure, "agent");
        }
        if let Some(why) = self.watch.now() {
            return Some(why);
        }
        // The real Omnara client (websocket-client, read without blocking)
        // takes a ping for a broken link and reconnects
        // (relay-dev/tests/omnara/interop.sh): legacy agents are not pinged,
        // nor dropped for silence; TCP keepalive (listen/) and the send
        // timeout find the dead ones.
        let pinged = self.link.dialect() == Dialect::Tether;
        let mut ping = tokio::time::interval(self.link.ping_every());
        ping.tick().await;
        let ack_delay = self.state.config.ack_delay();
        let ack_timer = tokio::time::sleep(ack_delay);
        tokio::pin!(ack_timer);
        loop {
            tokio::select! {
                message = self.link.recv_binary() => {
                    let bytes = match message {
                        Ok(bytes) => bytes,
                        Err(close) => return close,
                    };
                    match self.on_messages(bytes).await {
                        Ok(true) => ack_timer.as_mut().reset(tokio::time::Instant::now() + ack_delay),
                        Ok(false) => {}
                        Err(why) => {
                            if let Some(why) = &why {
                                tracing::warn!(session = %self.session.id, "closing agent link: {}", why.reason);
                            }
                            return why;
                        }
                    }
                }
                () = &mut ack_timer, if self.owed.is_owed() => {
                    if let Err(failure) = self.send_with_ack(None).await {
                        return close_after(&self.state, failure, "agent");
                    }
                }
                command = commands.recv() => {
                    let frame = match command {
                        Some(AgentCommand::Input(data)) => Frame::Input(data),
                        Some(AgentCommand::Resize(size)) => Frame::Resize(size),
                        // A Tether event: legacy wrappers never get it.
                        Some(AgentCommand::SizeReleased) if self.link.dialect() == Dialect::Tether => {
                            Frame::Control(Control::SizeReleased)
                        }
                        Some(AgentCommand::SizeReleased) => continue,
                        Some(AgentCommand::Close(cause)) => return Some(close_for(cause)),
                        None => return Some(CloseReason::new(CLOSE_NORMAL, "session closed")),
                    };
                    if let Err(failure) = self.send_with_ack(Some(frame)).await {
                        return close_after(&self.state, failure, "agent");
                    }
                }
                _ = ping.tick(), if pinged => {
                    if let Err(failure) = self.link.keepalive(&mut self.watch).await {
                        return close_after(&self.state, failure, "agent");
                    }
                }
                why = self.watch.wait() => return Some(why),
            }
        }
    }

    /// Hands `first` and the messages already waiting behind it (up to
    /// [`ACK_BATCH`]) to the session, then owes the wrapper an ACK of the
    /// stored output ([`OwedAck`]), sent at once when the agent exited or
    /// [`ACK_BYTES`] are unacknowledged. `Ok(true)` when an ACK is newly
    /// owed (the caller arms its timer). `Err` when the link must end, with
    /// the close to send if any (what was not acknowledged is resent by the
    /// wrapper).
    async fn on_messages(&mut self, first: Bytes) -> Result<bool, Option<CloseReason>> {
        let mut stored = self.on_message(first).await?;
        for _ in 1..ACK_BATCH {
            let Some(next) = ready_now(self.link.recv_binary()).await else {
                break;
            };
            let next = self.on_message(next?).await?;
            stored = Stored {
                end: next.end.or(stored.end),
                exited: stored.exited || next.exited,
            };
        }
        if self.link.dialect() != Dialect::Tether {
            return Ok(false);
        }
        // The exit may come in a message of its own, after the output.
        let newly = stored.end.is_some_and(|end| self.owed.owe(end));
        let due = stored.exited || self.owed.unacknowledged() >= ACK_BYTES;
        if due && self.owed.is_owed() {
            if let Err(failure) = self.send_with_ack(None).await {
                return Err(close_after(&self.state, failure, "agent"));
            }
            return Ok(false);
        }
        Ok(newly)
    }

    /// Sends `frame` (if any) to the wrapper with the ACK it is owed (if
    /// any) behind it, as one message.
    async fn send_with_ack(&mut self, frame: Option<Frame>) -> Result<(), SendFailure> {
        let ack = self.owed.take().map(Frame::Ack);
        let frames: Vec<Frame> = frame.into_iter().chain(ack).collect();
        self.link.send_frames(&frames, &mut self.watch).await
    }

    /// Hands one message's frames to the session; says what to acknowledge.
    async fn on_message(&mut self, bytes: Bytes) -> Result<Stored, Option<CloseReason>> {
        let frames = decode_frames(&bytes, &self.state)?;
        let uploaded = self
            .session
            .upload_message(&mut self.upload, frames, Some(bytes))
            .map_err(|e| match e {
                UploadError::OffsetOutOfRange(_) => {
                    Some(CloseReason::new(CLOSE_PROTOCOL_ERROR, e.to_string()))
                }
            })?;
        for (from, to) in &uploaded.gaps {
            tracing::warn!(session = %self.session.id, from, to, "output gap: bytes never received");
        }
        add(&self.state.metrics.bytes_in, uploaded.stored);
        add(&self.state.metrics.frames_dropped, uploaded.refused);
        if let Some(metadata) = uploaded.metadata {
            lifecycle::apply_metadata(&self.state, self.session.id, metadata).await;
        }
        if let Some(change) = uploaded.attention {
            alerts::attention_changed(&self.state, self.session.id, change);
        }
        if let Some(exit_status) = uploaded.exited {
            lifecycle::end(&self.state, &self.session, exit_status).await;
        }
        Ok(Stored {
            end: uploaded.output.then_some(uploaded.end),
            exited: uploaded.exited.is_some(),
        })
    }
}

/// What agent messages ask the relay to acknowledge.
struct Stored {
    /// The end of the log, when they carried output.
    end: Option<u64>,
    /// The agent exited: acknowledge at once (its wrapper waits for it).
    exited: bool,
}

/// Messages handled before the relay acknowledges (when more are waiting).
const ACK_BATCH: usize = 16;
