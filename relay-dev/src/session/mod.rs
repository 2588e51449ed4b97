//! Sessions: the shared output log, the session's state (metadata, size, agent
//! link, viewers), what one viewer is sent next ([`ViewerFeed`]) and the
//! registry of sessions held in memory, within their limits: viewer places
//! ([`seats`]), the agent's command queue in bytes ([`queue`]) and the
//! memory budgets of history ([`budget`]).
//!
//! Nothing here knows about WebSockets: the agent's transport hands a
//! message's frames to [`Session::upload`], a viewer's transport sends what
//! its [`ViewerFeed`] yields. The state is private: every change goes
//! through a [`Session`] method, which wakes the viewers.

mod attention;
mod budget;
mod feed;
mod log;
mod markers;
#[cfg(test)]
mod properties;
mod queue;
mod recent;
mod recording;
mod registry;
mod seats;
mod size_holder;
mod snapshot;
mod strip;
#[cfg(test)]
mod tests;
mod timing;
mod upload;

pub(crate) use attention::{AttentionChange, AttentionNow};
pub(crate) use budget::{Budget, BudgetError};
pub(crate) use feed::{FeedOptions, ViewerFeed};
pub(crate) use queue::{command_queue, CommandReceiver, CommandSender};
pub(crate) use recording::RecordingReader;
pub(crate) use registry::Registry;
pub(crate) use seats::{Seat, SeatLimits};
pub(crate) use snapshot::HistoryMode;
#[cfg(fuzzing)]
pub use strip::EraseInDisplayFilter;
pub(crate) use upload::{Upload, UploadError};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use protocol::{Metadata, Size};
use tokio::sync::watch;
use uuid::Uuid;

use log::StreamLog;
use seats::ViewerSeats;

/// What a viewer (through the relay) asks of the agent's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentCommand {
    /// Bytes to type into the agent.
    Input(Vec<u8>),
    /// A request to resize the PTY.
    Resize(Size),
    /// The viewer whose RESIZE is in force left: the wrapper gives the size
    /// back to its local terminal (sent to Tether agents only).
    SizeReleased,
    /// The session no longer wants this link.
    Close(CloseCause),
}

/// Why the session closes an agent link (the transport picks the close code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseCause {
    /// A newer link for the same session took over.
    Replaced,
}

/// Whether a session's agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// An agent link is attached.
    Live,
    /// No agent link; the session may come back.
    Offline,
    /// The agent exited or the session was ended.
    Ended,
}

impl Liveness {
    /// The word the API uses: `live`, `offline` or `ended`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Liveness::Live => "live",
            Liveness::Offline => "offline",
            Liveness::Ended => "ended",
        }
    }
}

/// Why a viewer could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoinError {
    /// The session already has the maximum number of viewers.
    #[error("the session has too many viewers")]
    TooManyViewers,
    /// Share links have taken every place not kept for the owner.
    #[error("the session has no room for more shared viewers (places are kept for its owner)")]
    NoRoomForShares,
    /// This share link has as many viewers as one link may have.
    #[error("too many viewers through this share link")]
    TooManyForShare,
}

/// Why a command could not be handed to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SendError {
    /// No agent link is attached.
    #[error("agent offline: input not delivered")]
    Offline,
    /// The agent is not reading fast enough; the command was dropped.
    #[error("agent busy: input dropped")]
    Busy,
}

/// The attached agent link, as the session sees it.
#[derive(Debug)]
struct AgentHandle {
    link_id: u64,
    commands: CommandSender,
}

/// The mutable part of a session, behind its lock. Read by the children of
/// this module (the feed, the upload, the registry); changed only through
/// [`Session`].
#[derive(Debug)]
struct SessionState {
    /// The output stream's ring.
    log: StreamLog,
    /// Its newest frames, encoded once for the viewers that are caught up.
    recent: recent::RecentFrames,
    /// The latest metadata from the agent.
    metadata: Option<Metadata>,
    /// Bumped on every metadata change, so viewers know to resend it.
    metadata_version: u64,
    /// The PTY size the agent last reported.
    size: Option<Size>,
    /// Stream offset at which `size` took effect: viewers behind it get the
    /// new size only after the output before it.
    size_offset: u64,
    /// `Some(exit_status)` once the session ended.
    ended: Option<Option<i32>>,
    /// Stream offset at which the session ended: viewers are told after the
    /// output before it.
    ended_offset: u64,
    /// When it ended (its ring is freed oldest first when memory is short).
    ended_at: Option<Instant>,
    /// What the agent asks of the person now.
    attention: attention::SessionAttention,
    /// Viewers currently attached, by credential.
    seats: ViewerSeats,
    /// The viewer link whose RESIZE is in force.
    size_holder: size_holder::SizeHolder,
    agent: Option<AgentHandle>,
    /// Since when neither an agent nor a viewer is attached.
    idle_since: Option<Instant>,
    /// The PTY sizes the stream in the ring was drawn at (for snapshots).
    sizes: snapshot::SizeHistory,
    /// Whether this relay has seen the stream from its first byte (it
    /// registered the session), so a `from` beyond the end is wrong.
    whole_stream: bool,
    /// When the output in the ring arrived (for recordings).
    marks: timing::TimeMarks,
    /// The attention changes, for recordings' `m` events.
    markers: markers::Markers,
}

impl SessionState {
    fn liveness(&self) -> Liveness {
        if self.ended.is_some() {
            Liveness::Ended
        } else if self.agent.is_some() {
            Liveness::Live
        } else {
            Liveness::Offline
        }
    }

    fn end(&mut self, exit_status: Option<i32>) {
        self.ended = Some(exit_status);
        self.ended_offset = self.log.end();
        self.ended_at = Some(Instant::now());
        self.attention.end(self.ended_offset);
        // Its ring no longer grows: hold only what it holds.
        self.log.shrink();
        self.recent.clear();
    }

    fn reopen(&mut self) -> bool {
        self.ended_at = None;
        let reopened = self.ended.take().is_some();
        if reopened {
            self.attention.clear();
        }
        reopened
    }

    /// Bytes this session's history counts against the budgets: an open
    /// session reserves its whole ring, an ended one holds what it holds;
    /// with the PTY sizes kept for snapshots (the snapshot itself is
    /// counted by [`Session::held_bytes`]).
    fn held_bytes(&self) -> u64 {
        // The time marks are not counted: they are at most 1/64 of the
        // ring's capacity (`timing.rs`).
        let ring = match self.ended {
            Some(_) => self.log.allocated(),
            None => self.log.allocated().max(self.log.capacity()),
        };
        ring + self.sizes.held_bytes()
    }

    /// Drops the ring and its time marks and markers (to make room).
    fn free_ring(&mut self) {
        self.log.free();
        self.marks.free();
        self.markers.free();
        self.recent.clear();
    }

    fn mark_idle_if_unused(&mut self) {
        if self.seats.total() == 0 && self.agent.is_none() {
            self.idle_since = Some(Instant::now());
        }
    }
}

/// One terminal session held in memory.
#[derive(Debug)]
pub(crate) struct Session {
    /// The session's id.
    pub(crate) id: Uuid,
    /// The user it belongs to (for the memory budgets).
    user: String,
    state: Mutex<SessionState>,
    changed: watch::Sender<u64>,
    /// Bumped when another node takes the session: its links here close.
    moves: watch::Sender<u64>,
    /// The latest snapshot, reused and built on by the next (own lock: a
    /// build never holds `state`'s for long).
    snapshots: snapshot::SnapshotCache,
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

impl Session {
    /// An empty, offline session of `user` keeping `history_bytes` of output.
    pub(crate) fn new(id: Uuid, user: &str, history_bytes: usize) -> Self {
        Self {
            id,
            user: user.to_string(),
            state: Mutex::new(SessionState {
                log: StreamLog::new(history_bytes),
                recent: recent::RecentFrames::default(),
                metadata: None,
                metadata_version: 0,
                size: None,
                size_offset: 0,
                ended: None,
                ended_offset: 0,
                ended_at: None,
                attention: attention::SessionAttention::default(),
                seats: ViewerSeats::default(),
                size_holder: size_holder::SizeHolder::default(),
                agent: None,
                idle_since: Some(Instant::now()),
                sizes: snapshot::SizeHistory::default(),
                whole_stream: false,
                marks: timing::TimeMarks::new(history_bytes),
                markers: markers::Markers::default(),
            }),
            changed: watch::Sender::new(0),
            moves: watch::Sender::new(0),
            snapshots: snapshot::SnapshotCache::default(),
        }
    }

    /// The state, for reading (or for a change that viewers need not hear of).
    fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A panic while holding this lock cannot leave the state torn in a
        // way that matters more than losing the session; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a change to the state, then wakes every viewer.
    fn change<T>(&self, f: impl FnOnce(&mut SessionState) -> T) -> T {
        let result = f(&mut self.lock());
        self.notify();
        result
    }

    /// Applies a change that may find nothing to do (`f` returns whether it
    /// changed anything); wakes the viewers only if it did.
    fn change_if(&self, f: impl FnOnce(&mut SessionState) -> bool) {
        let changed = f(&mut self.lock());
        if changed {
            self.notify();
        }
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Live, offline or ended.
    pub(crate) fn liveness(&self) -> Liveness {
        self.lock().liveness()
    }

    /// The attention in force, once the agent reported one (or ended).
    pub(crate) fn attention(&self) -> Option<AttentionNow> {
        self.lock().attention.current().cloned()
    }

    /// Whether the owner may be alerted now (at most once a second), and if
    /// so, counts this as the latest alert.
    pub(crate) fn take_alert_slot(&self) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        let allowed = state.attention.may_alert(now);
        if allowed {
            state.attention.alerted(now);
        }
        allowed
    }

    /// Viewers attached now.
    pub(crate) fn viewer_count(&self) -> usize {
        self.lock().seats.total()
    }

    /// Attaches a new agent link, replacing (and closing) any previous one.
    /// The link stays attached until the returned guard is dropped.
    pub(crate) fn attach_agent(self: &Arc<Self>, commands: CommandSender) -> AgentGuard {
        let link_id = NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed);
        let held = self.change(|state| {
            if let Some(old) = state.agent.take() {
                old.commands
                    .close(AgentCommand::Close(CloseCause::Replaced));
            }
            if state.size_holder.attached() {
                // Past the byte bound, like a close: it is tiny and must get through.
                commands.close(AgentCommand::SizeReleased);
            }
            state.agent = Some(AgentHandle { link_id, commands });
            state.reopen();
            state.idle_since = None;
            state.log.end()
        });
        AgentGuard {
            session: self.clone(),
            link_id,
            held,
        }
    }

    /// Hands a command to the attached agent without waiting (for tests:
    /// viewers' commands go through [`send_from_viewer`](Self::send_from_viewer)).
    #[cfg(test)]
    pub(crate) fn send_to_agent(&self, command: AgentCommand) -> Result<(), SendError> {
        Self::send_locked(&self.lock(), command)
    }

    /// Hands viewer link `viewer`'s command to the attached agent without
    /// waiting; a RESIZE handed over makes that viewer the size's holder
    /// ([`ViewerGuard::link_id`]): when it leaves, the agent is told.
    pub(crate) fn send_from_viewer(
        &self,
        viewer: u64,
        command: AgentCommand,
    ) -> Result<(), SendError> {
        let resize = matches!(command, AgentCommand::Resize(_));
        let mut state = self.lock();
        Self::send_locked(&state, command)?;
        if resize {
            state.size_holder.took(viewer);
        }
        Ok(())
    }

    fn send_locked(state: &SessionState, command: AgentCommand) -> Result<(), SendError> {
        let agent = state.agent.as_ref().ok_or(SendError::Offline)?;
        if state.ended.is_some() {
            return Err(SendError::Offline);
        }
        agent.commands.try_send(command)
    }

    /// Marks the session ended at the current end of the stream: viewers
    /// are told once they have the output before it.
    pub(crate) fn end(&self, exit_status: Option<i32>) {
        self.change(|state| state.end(exit_status));
    }

    /// Marks the session ended if no agent is attached and it is not ended
    /// already (the store says it ended before this relay knew it).
    pub(crate) fn end_if_offline(&self, exit_status: Option<i32>) {
        self.change_if(|state| {
            let offline = state.liveness() == Liveness::Offline;
            if offline {
                state.end(exit_status);
            }
            offline
        });
    }

    /// Clears the end of a session registered again.
    pub(crate) fn reopen(&self) {
        self.change_if(SessionState::reopen);
    }

    /// Another node took the session (its agent link is there now): the
    /// agent link here, if any, is closed as replaced, and the viewers here
    /// are told to reconnect ([`moves`](Self::moves)).
    pub(crate) fn moved_away(&self) {
        self.change(|state| {
            if let Some(old) = state.agent.take() {
                old.commands
                    .close(AgentCommand::Close(CloseCause::Replaced));
                state.mark_idle_if_unused();
            }
        });
        self.moves.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes when the session moves to another node ([`moved_away`](Self::moved_away)).
    pub(crate) fn moves(&self) -> watch::Receiver<u64> {
        self.moves.subscribe()
    }

    /// Registers a viewer holding `seat`'s credential within `limits`. The
    /// viewer counts until the returned guard is dropped.
    pub(crate) fn join_viewer(
        self: &Arc<Self>,
        seat: Seat,
        limits: SeatLimits,
    ) -> Result<ViewerGuard, JoinError> {
        let mut state = self.lock();
        state.seats.take(&seat, limits)?;
        state.idle_since = None;
        Ok(ViewerGuard {
            session: self.clone(),
            seat,
            link_id: NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed),
        })
    }
}

/// An attached agent link; detaches on drop (if no newer link replaced it).
#[derive(Debug)]
pub(crate) struct AgentGuard {
    session: Arc<Session>,
    link_id: u64,
    held: u64,
}

impl AgentGuard {
    /// The end of the log when the link attached: what the relay holds, from
    /// which the wrapper resends.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }
}

impl Drop for AgentGuard {
    fn drop(&mut self) {
        self.session.change_if(|state| {
            let attached = state
                .agent
                .as_ref()
                .is_some_and(|a| a.link_id == self.link_id);
            if attached {
                state.agent = None;
                state.mark_idle_if_unused();
            }
            attached
        });
    }
}

/// A viewer counted in its session; leaves on drop (and, if its RESIZE is
/// the one in force, tells the agent: `size_released`).
#[derive(Debug)]
pub(crate) struct ViewerGuard {
    session: Arc<Session>,
    seat: Seat,
    link_id: u64,
}

impl ViewerGuard {
    /// The session joined.
    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// This viewer link's id, for [`Session::send_from_viewer`].
    pub(crate) fn link_id(&self) -> u64 {
        self.link_id
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        let mut state = self.session.lock();
        state.seats.release(&self.seat);
        state.mark_idle_if_unused();
        let attached = state.agent.is_some() && state.ended.is_none();
        if state.size_holder.left(self.link_id, attached) {
            if let Some(agent) = &state.agent {
                // Past the byte bound, like a close: it is tiny and must get through.
                agent.commands.close(AgentCommand::SizeReleased);
            }
        }
    }
}
