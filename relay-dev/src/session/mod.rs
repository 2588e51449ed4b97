//! Sessions: the shared output log, the session's state (metadata, size,
//! end), the agent and viewer links attached to it ([`links`]), what one viewer is sent next ([`ViewerFeed`]) and the
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
mod links;
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
pub(crate) use links::{AgentCommand, CloseCause, JoinError, SendError, ViewerGuard};
pub(crate) use queue::{command_queue, CommandReceiver, CommandSender};
pub(crate) use recording::RecordingReader;
pub(crate) use registry::{LiveSession, Registry};
pub(crate) use seats::{Seat, SeatLimits};
pub(crate) use snapshot::HistoryMode;
pub(crate) use upload::{Upload, UploadError};

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use protocol::{Metadata, Size};
use tokio::sync::watch;
use uuid::Uuid;

use links::AgentHandle;
use log::StreamLog;
use seats::ViewerSeats;

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
}
