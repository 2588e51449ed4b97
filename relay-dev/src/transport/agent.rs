//! The agent's link: `GET /agent?session_id=UUID[&protocol=tether.v1]`.
//!
//! The wrapper streams OUTPUT (with offsets, for Tether peers) into the
//! session's log; the relay acknowledges what it stored and forwards viewers'
//! INPUT and RESIZE. A new link for the same session replaces the old one.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use protocol::{Control, Frame};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{decode_frames, prepare_upgrade, CloseReason, Dialect, Link, LinkRequest, Peer};
use super::{CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_POLICY};
use crate::auth::{authenticate, Principal};
use crate::lifecycle::{self, OpenError, Registration};
use crate::metrics::{add, dec};
use crate::session::{AgentCommand, Session};
use crate::AppState;

/// Largest stream offset accepted (2^62 bytes: never reached by a real
/// stream, and far from overflowing the offset arithmetic).
const MAX_OFFSET: u64 = 1 << 62;

/// Commands queued for one agent before viewers' input is refused as "busy".
const AGENT_QUEUE: usize = 256;

/// Upgrades `/agent` and runs the link.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    peer: Peer,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (upgrade, request) =
        prepare_upgrade(upgrade, peer, &query, &headers, state.config.max_frame);
    let session_id = query.get("session_id").cloned();
    upgrade.on_upgrade(move |ws| run(state, ws, session_id, request))
}

async fn run(state: AppState, ws: WebSocket, session_id: Option<String>, request: LinkRequest) {
    let link = Link::new(ws, request.dialect);
    let (user, key_id) = match authenticate(&state.signer, &*state.store, request.token.as_deref())
    {
        Ok(Principal::User { user, key_id }) => (user, key_id),
        Ok(Principal::Share(_)) => {
            add(&state.metrics.auth_failures, 1);
            return link
                .close(CloseReason::new(
                    CLOSE_POLICY,
                    "a share token cannot stream a session",
                ))
                .await;
        }
        Err(e) => {
            add(&state.metrics.auth_failures, 1);
            tracing::info!("agent link refused: {e}");
            return link
                .close(CloseReason::new(CLOSE_POLICY, e.to_string()))
                .await;
        }
    };
    let Some(id) = session_id.as_deref().and_then(|s| Uuid::parse_str(s).ok()) else {
        return link
            .close(CloseReason::new(
                CLOSE_POLICY,
                "missing or malformed session_id",
            ))
            .await;
    };
    if let Err(e) = lifecycle::open(&state, id, &user, Registration::default()) {
        if let OpenError::Store(e) = &e {
            tracing::error!("opening session {id}: {e}");
        }
        return link
            .close(CloseReason::new(CLOSE_POLICY, e.to_string()))
            .await;
    }
    let session = state.registry.get_or_create(id, &user);
    let (commands_tx, commands) = mpsc::channel(AGENT_QUEUE);
    let (link_id, held) = session.attach_agent(commands_tx);
    add(&state.metrics.agents, 1);
    tracing::info!(session = %id, dialect = ?link.dialect(), peer = ?request.peer, held, "agent connected");
    let mut agent = AgentLink {
        state: state.clone(),
        session: session.clone(),
        key_id,
        next_offset: None,
        link,
    };
    let why = agent.serve(held, commands).await;
    session.detach_agent(link_id);
    dec(&state.metrics.agents);
    lifecycle::touch(&state, id);
    tracing::info!(session = %id, reason = ?why.as_ref().map(|w| &w.reason), "agent disconnected");
    if let Some(why) = why {
        agent.link.close(why).await;
    }
}

struct AgentLink {
    state: AppState,
    session: Arc<Session>,
    key_id: String,
    /// Absolute offset of the next OUTPUT byte, once the wrapper said it
    /// (STREAM_OFFSET); `None` appends at the log's end (legacy clients).
    next_offset: Option<u64>,
    link: Link,
}

impl AgentLink {
    /// Runs the link until it ends; returns the close to send, if any.
    async fn serve(
        &mut self,
        held: u64,
        mut commands: mpsc::Receiver<AgentCommand>,
    ) -> Option<CloseReason> {
        let greeted = match self.link.dialect() {
            Dialect::Tether => {
                self.link
                    .send_frames(&[Frame::Control(Control::Ready), Frame::Ack(held)])
                    .await
            }
            Dialect::Legacy => self.link.send_text(r#"{"type":"ready"}"#).await,
        };
        greeted.ok()?;
        let mut revoked = self.state.revoked.subscribe();
        let mut shutdown = self.state.shutdown.subscribe();
        if *shutdown.borrow_and_update() {
            return Some(CloseReason::new(CLOSE_GOING_AWAY, "relay shutting down"));
        }
        let mut ping = tokio::time::interval(self.state.config.ping_every());
        ping.tick().await;
        loop {
            tokio::select! {
                message = self.link.recv_binary() => {
                    let bytes = match message {
                        Ok(bytes) => bytes,
                        Err(close) => return close,
                    };
                    if let Err(why) = self.on_message(&bytes).await {
                        tracing::warn!(session = %self.session.id, "closing agent link: {}", why.reason);
                        return Some(why);
                    }
                }
                command = commands.recv() => {
                    let frame = match command {
                        Some(AgentCommand::Input(data)) => Frame::Input(data),
                        Some(AgentCommand::Resize { rows, cols }) => Frame::Resize(protocol::Size { rows, cols }),
                        Some(AgentCommand::Close(code, reason)) => return Some(CloseReason::new(code, reason)),
                        None => return Some(CloseReason::new(CLOSE_NORMAL, "session closed")),
                    };
                    self.link.send_frames(&[frame]).await.ok()?;
                }
                _ = ping.tick() => {
                    if !self.link.keepalive(self.state.config.ping_every()).await {
                        return None;
                    }
                }
                Ok(()) = revoked.changed() => {
                    if revoked.borrow_and_update().contains(&self.key_id) {
                        return Some(CloseReason::new(CLOSE_POLICY, "API key revoked"));
                    }
                }
                _ = shutdown.changed() => {
                    return Some(CloseReason::new(CLOSE_GOING_AWAY, "relay shutting down"));
                }
            }
        }
    }

    /// Applies one message's frames to the session; acknowledges stored output.
    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), CloseReason> {
        let mut skipped = 0;
        let frames = decode_frames(bytes, self.state.config.max_frame, &mut skipped);
        add(&self.state.metrics.frames_dropped, skipped);
        let mut stored_output = false;
        let mut exited = None;
        let mut new_metadata = None;
        let result = {
            let mut state = self.session.lock();
            let frames = frames?;
            for frame in frames {
                match frame {
                    Frame::Output(data) => {
                        let at = self.next_offset.unwrap_or_else(|| state.log.end());
                        let appended = state.log.append_at(at, &data);
                        if let Some((from, to)) = appended.gap {
                            tracing::warn!(session = %self.session.id, from, to, "output gap: bytes never received");
                        }
                        if self.next_offset.is_some() {
                            self.next_offset = Some(at + data.len() as u64);
                        }
                        add(&self.state.metrics.bytes_in, appended.stored as u64);
                        stored_output = true;
                    }
                    Frame::StreamOffset(offset) if offset > MAX_OFFSET => {
                        return Err(CloseReason::new(
                            super::CLOSE_PROTOCOL_ERROR,
                            format!("stream offset {offset} out of range"),
                        ));
                    }
                    Frame::StreamOffset(offset) => self.next_offset = Some(offset),
                    Frame::Metadata(metadata) => {
                        new_metadata = Some(metadata.clone());
                        state.metadata = Some(metadata);
                        state.metadata_version += 1;
                    }
                    Frame::Resize(protocol::Size { rows, cols }) => {
                        Session::set_size(&mut state, rows, cols)
                    }
                    Frame::Control(Control::AgentExited { exit_status }) => {
                        exited = Some(exit_status)
                    }
                    Frame::Input(_) => add(&self.state.metrics.frames_dropped, 1),
                    Frame::Ack(_) | Frame::Control(_) => {}
                }
            }
            Ok::<u64, CloseReason>(state.log.end())
        };
        self.session.notify();
        if let Some(metadata) = new_metadata {
            lifecycle::apply_metadata(&self.state, self.session.id, &metadata);
        }
        if let Some(exit_status) = exited {
            lifecycle::end(&self.state, &self.session, exit_status);
        }
        let end = result?;
        if stored_output && self.link.dialect() == Dialect::Tether {
            self.link
                .send_frames(&[Frame::Ack(end)])
                .await
                .map_err(|_| CloseReason::new(CLOSE_NORMAL, "agent gone"))?;
        }
        Ok(())
    }
}
