//! Viewers' links: `GET /terminal/{session_id}?from=OFFSET[&protocol=tether.v1][&history=raw]`.
//!
//! The link authorizes the viewer, joins the session and then pumps: what
//! the viewer's [`ViewerFeed`] yields goes out (join, history, live output —
//! the stream's rules live in the feed), INPUT and RESIZE come in and go to
//! the agent (refused for read-only viewers and past the input rate), ACKs
//! go to the feed. A slow viewer only delays itself; one that stops reading
//! is dropped after the send timeout.
//!
//! Input is charged to a bucket per session and credential (every INPUT and
//! RESIZE frame, header included), so reconnecting does not refill it. A
//! message is applied up to its first refused frame and answered with one
//! error at most; a viewer that keeps sending refused frames is closed.

use std::collections::HashMap;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use protocol::{Control, Frame, Role};
use uuid::Uuid;

use super::close_watch::CloseWatch;
use super::link::Link;
use super::proxy;
use super::upgrade::{prepare_upgrade, Dialect, LinkRequest, Peer, VIEWER_READ_BUFFER};
use super::{close_after, decode_frames, link_timing, CloseReason, CLOSE_TRY_AGAIN};
use crate::auth::Grant;
use crate::input_rate::{InputBucket, SharedBucket};
use crate::metrics::{add, dec};
use crate::session::{AgentCommand, FeedOptions, HistoryMode, SeatLimits, ViewerFeed};
use crate::state::{AppState, Shared};
use access::authorize;

mod access;

/// Upgrades `/terminal/{id}` and runs the link: here, or relayed to the
/// node that owns the session (when that node can be reached).
pub(super) async fn upgrade(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
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
        VIEWER_READ_BUFFER,
    );
    let mut unreachable = None;
    if let Some(owner) = proxy::remote_owner(&state, &session_id).await {
        match proxy::connect(&state, &owner, &uri, &headers).await {
            Ok(upstream) => return proxy::relay(state, upgrade, request, upstream),
            Err(e) => {
                tracing::info!(session = %session_id, node = %owner.node, "owner node unreachable, serving here: {e}");
                unreachable = Some(owner.node);
            }
        }
    }
    let from = query.get("from").cloned();
    let history = query.get("history").cloned();
    let here = Served {
        from,
        history,
        unreachable,
    };
    upgrade.on_upgrade(move |ws| run(state, ws, session_id, here, request))
}

/// Refused messages a viewer may send in a burst before its link closes…
const REFUSAL_BURST: f64 = 16.0;
/// … and how many per second after that.
const REFUSALS_PER_SEC: f64 = 1.0;

/// What a viewer served here asked for, and the owner node it could not
/// be relayed to (if any).
struct Served {
    from: Option<String>,
    history: Option<String>,
    unreachable: Option<String>,
}

/// Whether another node took the session while this viewer joined it here
/// (its event may have come before the viewer's watch began): then the
/// viewer reconnects at once, to be relayed there. A claim made after the
/// watch began reaches it as an event.
async fn claimed_elsewhere(state: &Shared, id: Uuid, unreachable: Option<&str>) -> bool {
    let Some(cluster) = &state.cluster else {
        return false;
    };
    cluster
        .owner(id)
        .await
        .is_some_and(|o| o.node != cluster.node_id() && Some(o.node.as_str()) != unreachable)
}

async fn run(
    state: AppState,
    ws: WebSocket,
    session_id: String,
    here: Served,
    request: LinkRequest,
) {
    let Served {
        from,
        history,
        unreachable,
    } = here;
    let link =
        Link::new(ws, request.dialect, link_timing(&state.config)).with_deflate(request.deflate);
    let authorized = tokio::time::timeout(
        state.config.upgrade_timeout(),
        authorize(&state, &session_id, request.token.as_deref()),
    )
    .await
    .unwrap_or_else(|_| Err(CloseReason::new(CLOSE_TRY_AGAIN, "authorization timed out")));
    let (session, agent_type, access) = match authorized {
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
    let history = match HistoryMode::parse(history.as_deref()) {
        Ok(history) => history,
        Err(reason) => return link.close(CloseReason::policy(reason)).await,
    };
    if let Err(e) = session.check_from(from) {
        return link.close(CloseReason::policy(e.to_string())).await;
    }
    let limits = SeatLimits {
        max: state.config.max_viewers,
        owner_reserved: state.config.owner_viewers,
        per_share: state.config.max_viewers_per_share,
    };
    let viewer = match session.join_viewer(access.seat.clone(), limits) {
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
    tracing::info!(session = %id, dialect = ?link.dialect(), deflate = request.deflate, peer = ?request.peer, "viewer joined");
    let options = FeedOptions {
        role: access.role,
        shared_by: access.shared_by.as_deref(),
        from,
        agent_type: &agent_type,
        extensions: link.dialect() == Dialect::Tether,
        history,
        snapshot_lines: state.config.snapshot_lines,
    };
    let watch = CloseWatch::new(&state, Some(access.grant), access.expires_at)
        .closing_when_moved(session.moves());
    if claimed_elsewhere(&state, id, unreachable.as_deref()).await {
        dec(&state.metrics.viewers);
        return link.close(CloseReason::moved()).await;
    }
    let mut viewer = ViewerLink {
        viewer_id: viewer.link_id(),
        feed: ViewerFeed::new(viewer, options),
        watch,
        role: access.role,
        bucket: state.input_rates.bucket(id, &access.credential),
        refusals: InputBucket::with_depth(REFUSALS_PER_SEC, REFUSAL_BURST),
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
    /// Which link this is, to the session (whose RESIZE is in force).
    viewer_id: u64,
    watch: CloseWatch,
    role: Role,
    /// Input budget of this credential on this session.
    bucket: SharedBucket,
    /// Refused messages this link may still send before it is closed.
    refusals: InputBucket,
    link: Link,
}

/// Why a viewer's frame was not handed to the agent.
enum Refusal {
    /// The viewer may not send it (role, rate, malformed size): counts
    /// towards closing the link.
    Policy(&'static str),
    /// The agent cannot take it now (offline, busy): not the viewer's fault.
    Agent(String),
}

impl ViewerLink {
    /// Pumps until the link ends; returns the close to send, if any.
    async fn serve(&mut self) -> Option<CloseReason> {
        if let Some(why) = self.watch.now() {
            return Some(why);
        }
        let mut ping = tokio::time::interval(self.link.ping_every());
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
                // stalled viewer still hears of shutdown, and is dropped
                // after the send timeout.
                if let Some(frame) = batch.shared {
                    if let Err(failure) = self.link.send_shared(frame, &mut self.watch).await {
                        return close_after(&self.state, failure, "viewer");
                    }
                }
                if let Err(failure) = self.link.send_encoded(batch.bytes, &mut self.watch).await {
                    return close_after(&self.state, failure, "viewer");
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
                        if let Some(why) = &why {
                            tracing::warn!(session = %self.feed.session().id, "closing viewer link: {}", why.reason);
                        }
                        return why;
                    }
                }
                _ = ping.tick() => {
                    if let Err(failure) = self.link.keepalive(&mut self.watch).await {
                        return close_after(&self.state, failure, "viewer");
                    }
                }
                // More to send: a reason to close is looked for, not waited
                // for (no waker registered per message).
                _ = std::future::ready(()), if has_work => {
                    if let Some(why) = self.watch.check() {
                        return Some(why);
                    }
                }
                why = self.watch.wait(), if !has_work => return Some(why),
                () = self.feed.changed(), if !has_work => {}
            }
        }
    }

    /// Applies one message: ACKs go to the feed, INPUT and RESIZE to the
    /// agent up to the first refused one; the rest of the message is dropped
    /// and the viewer gets one error.
    /// `Err` when the link must end, with the close to send if any.
    async fn on_message(&mut self, bytes: &[u8]) -> Result<(), Option<CloseReason>> {
        let mut refused = None;
        let mut dropped = 0;
        for frame in decode_frames(bytes, &self.state).map_err(Some)? {
            let command = match frame {
                Frame::Input(data) => AgentCommand::Input(data),
                Frame::Resize(size) => AgentCommand::Resize(size),
                Frame::Ack(rendered) => {
                    self.feed.ack(rendered);
                    continue;
                }
                _ => continue,
            };
            if refused.is_some() {
                dropped += 1;
                continue;
            }
            if let Err(refusal) = self.forward(command) {
                refused = Some(refusal);
                dropped += 1;
            }
        }
        add(&self.state.metrics.frames_dropped, dropped);
        match refused {
            None => Ok(()),
            Some(Refusal::Agent(reason)) => self.refuse(reason).await,
            Some(Refusal::Policy(reason)) => {
                if !self.refusals.take(1) {
                    return Err(Some(CloseReason::policy(
                        "too many refused frames (read-only, malformed or over the input rate)",
                    )));
                }
                self.refuse(reason.to_string()).await
            }
        }
    }

    /// Checks one command against the role and the input bucket (which it
    /// is charged to, frame header included) and hands it to the agent.
    fn forward(&mut self, command: AgentCommand) -> Result<(), Refusal> {
        if self.role == Role::ReadOnly {
            return Err(Refusal::Policy(
                "read-only viewer: input and resize refused",
            ));
        }
        let (command, payload) = match command {
            AgentCommand::Resize(size) if size.is_empty() => {
                return Err(Refusal::Policy(
                    "resize refused: rows and columns must be at least 1",
                ))
            }
            AgentCommand::Resize(size) => (AgentCommand::Resize(size.clamped()), 4),
            AgentCommand::Input(data) => {
                let len = data.len();
                (AgentCommand::Input(data), len)
            }
            other => (other, 0),
        };
        if !self.bucket.take((protocol::HEADER_LEN + payload) as u64) {
            return Err(Refusal::Policy("input rate limit exceeded: input dropped"));
        }
        self.feed
            .session()
            .send_from_viewer(self.viewer_id, command)
            .map_err(|e| Refusal::Agent(e.to_string()))
    }

    /// Tells the viewer why its input was refused.
    async fn refuse(&mut self, reason: String) -> Result<(), Option<CloseReason>> {
        let error = Frame::Control(Control::Error { reason });
        self.link
            .send_frames(&[error], &mut self.watch)
            .await
            .map_err(|failure| close_after(&self.state, failure, "viewer"))
    }
}
