//! Viewers' links: `GET /terminal/{session_id}?from=OFFSET[&protocol=tether.v1]`.
//!
//! The link authorizes the viewer, joins the session and then pumps: what
//! the viewer's [`ViewerFeed`] yields goes out (join, history, live output —
//! the stream's rules live in the feed), INPUT and RESIZE come in and go to
//! the agent (refused for read-only viewers and past the input rate), ACKs
//! go to the feed. A slow viewer only delays itself.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use protocol::{Control, Frame, Role};
use uuid::Uuid;

use super::close_watch::CloseWatch;
use super::input_rate::InputBucket;
use super::link::Link;
use super::upgrade::{prepare_upgrade, Dialect, LinkRequest, Peer};
use super::{decode_frames, CloseReason, CLOSE_NORMAL};
use crate::auth::{authenticate, Grant, Principal};
use crate::metrics::{add, dec};
use crate::server::AppState;
use crate::session::{AgentCommand, FeedOptions, Session, ViewerFeed};

/// Upgrades `/terminal/{id}` and runs the link.
pub(super) async fn upgrade(
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
    /// The key or share link it came with (closed on revocation).
    grant: Grant,
    /// Unix seconds at which a share token expires.
    expires_at: Option<u64>,
}

/// The session a credential may watch, its registered agent type, and how.
async fn authorize(
    state: &AppState,
    session_id: &str,
    token: Option<&str>,
) -> Result<(Arc<Session>, String, Access), CloseReason> {
    let principal = authenticate(&state.signer, &state.store, token)
        .await
        .map_err(|e| {
            add(&state.metrics.auth_failures, 1);
            tracing::info!("viewer refused: {e}");
            CloseReason::policy(e.to_string())
        })?;
    let id =
        Uuid::parse_str(session_id).map_err(|_| CloseReason::policy("malformed session id"))?;
    let record = state
        .store
        .session(id)
        .await
        .map_err(|e| CloseReason::policy(e.to_string()))?
        .ok_or_else(|| CloseReason::policy("unknown session"))?;
    let refuse = |reason: &str| {
        add(&state.metrics.auth_failures, 1);
        CloseReason::policy(reason)
    };
    let access = match principal {
        Principal::User { user, key_id } if user == record.user => Access {
            role: Role::ReadWrite,
            grant: Grant::Key(key_id),
            expires_at: None,
        },
        // Another user's session is refused as if it did not exist.
        Principal::User { .. } => return Err(refuse("unknown session")),
        Principal::Share(grant) if grant.session_id == id => Access {
            role: grant.role,
            expires_at: Some(grant.expires_at),
            grant: Grant::Share {
                id: grant.id,
                key_id: grant.key_id,
            },
        },
        Principal::Share(_) => return Err(refuse("share token is for another session")),
    };
    let session = state.registry.get_or_create(id);
    if record.ended_at.is_some() {
        session.end_if_offline(record.exit_status);
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
                .close(CloseReason::policy("malformed from offset"))
                .await
        }
    };
    let viewer = match session.join_viewer(state.config.max_viewers) {
        Ok(viewer) => viewer,
        Err(e) => return link.close(CloseReason::policy(e.to_string())).await,
    };
    // Listed with its share link (`GET …/shares`) while the link is open.
    let _share_viewer = match &access.grant {
        Grant::Share { id, .. } => Some(state.share_viewers.join(id)),
        Grant::Key(_) => None,
    };
    let id = session.id;
    add(&state.metrics.viewers, 1);
    tracing::info!(session = %id, dialect = ?link.dialect(), peer = ?request.peer, "viewer joined");
    let options = FeedOptions {
        role: access.role,
        from,
        agent_type: &agent_type,
        extensions: link.dialect() == Dialect::Tether,
    };
    let mut viewer = ViewerLink {
        feed: ViewerFeed::new(viewer, options),
        watch: CloseWatch::new(&state, Some(access.grant), access.expires_at),
        role: access.role,
        bucket: InputBucket::new(state.config.max_input_rate),
        state: state.clone(),
        link,
    };
    let why = viewer.serve().await;
    let ViewerLink { feed, link, .. } = viewer;
    drop(feed);
    tracing::info!(session = %id, "viewer left");
    if let Some(why) = why {
        link.close(why).await;
    }
    // Counted until closed: a relay shutting down waits for this.
    dec(&state.metrics.viewers);
}

struct ViewerLink {
    state: AppState,
    /// The viewer's stream; dropping it leaves the session.
    feed: ViewerFeed,
    watch: CloseWatch,
    role: Role,
    bucket: InputBucket,
    link: Link,
}

impl ViewerLink {
    /// Pumps until the link ends; returns the close to send, if any.
    async fn serve(&mut self) -> Option<CloseReason> {
        if let Some(why) = self.watch.now() {
            return Some(why);
        }
        let mut ping = tokio::time::interval(self.state.config.ping_every());
        ping.tick().await;
        // History, then live: one loop, so input and ACKs are handled
        // during a long replay too.
        loop {
            let batch = self.feed.next_batch();
            let has_work = batch.is_some();
            if let Some(batch) = batch {
                if let Some((from, to)) = batch.skipped {
                    tracing::info!(session = %self.feed.session().id, from, to, "slow viewer skipped a gap");
                    add(&self.state.metrics.frames_dropped, 1);
                }
                add(&self.state.metrics.bytes_out, batch.output_bytes);
                // Sending waits only for this viewer's socket; meanwhile the
                // agent and other viewers go on (they never wait for us). A
                // stalled viewer still hears of shutdown.
                tokio::select! {
                    sent = self.link.send_encoded(batch.bytes) => sent.ok()?,
                    why = self.watch.wait() => return Some(why),
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
                        tracing::warn!(session = %self.feed.session().id, "closing viewer link: {}", why.reason);
                        return Some(why);
                    }
                }
                why = self.watch.wait() => return Some(why),
                _ = ping.tick() => {
                    if !self.link.keepalive(self.state.config.ping_every()).await {
                        return None;
                    }
                }
                _ = std::future::ready(()), if has_work => {}
                () = self.feed.changed(), if !has_work => {}
            }
        }
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), CloseReason> {
        for frame in decode_frames(bytes, &self.state)? {
            let (command, len) = match frame {
                Frame::Input(data) => {
                    let len = data.len() as u64;
                    (AgentCommand::Input(data), len)
                }
                Frame::Resize(size) if size.is_empty() => {
                    add(&self.state.metrics.frames_dropped, 1);
                    self.refuse("resize refused: rows and columns must be at least 1")
                        .await?;
                    continue;
                }
                Frame::Resize(size) => (AgentCommand::Resize(size), 0),
                Frame::Ack(rendered) => {
                    self.feed.ack(rendered);
                    continue;
                }
                _ => continue,
            };
            if let Err(reason) = self.check_input(len) {
                add(&self.state.metrics.frames_dropped, 1);
                self.refuse(reason).await?;
                continue;
            }
            if let Err(e) = self.feed.session().send_to_agent(command) {
                add(&self.state.metrics.frames_dropped, 1);
                self.refuse(&e.to_string()).await?;
            }
        }
        Ok(())
    }

    fn check_input(&mut self, len: u64) -> Result<(), &'static str> {
        if self.role == Role::ReadOnly {
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
            .map_err(|_| CloseReason::new(CLOSE_NORMAL, "viewer gone"))
    }
}
