//! Sessions: the shared output log, the session's state (metadata, size, agent
//! link, viewers), what one viewer is sent next ([`ViewerFeed`]) and the
//! registry of sessions held in memory.
//!
//! Nothing here knows about WebSockets: the agent's transport hands a
//! message's frames to [`Session::upload`], a viewer's transport sends what
//! its [`ViewerFeed`] yields. The state is private: every change goes
//! through a [`Session`] method, which wakes the viewers.

mod feed;
mod log;
#[cfg(test)]
mod properties;
mod registry;
mod strip;
mod upload;

pub(crate) use feed::{FeedOptions, ViewerFeed};
pub(crate) use registry::Registry;
#[cfg(fuzzing)]
pub use strip::EraseInDisplayFilter;
pub(crate) use upload::{Upload, UploadError};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use protocol::{Metadata, Size};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use log::StreamLog;

/// What a viewer (through the relay) asks of the agent's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AgentCommand {
    /// Bytes to type into the agent.
    Input(Vec<u8>),
    /// A request to resize the PTY.
    Resize(Size),
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
    commands: mpsc::Sender<AgentCommand>,
}

/// The mutable part of a session, behind its lock. Read by the children of
/// this module (the feed, the upload, the registry); changed only through
/// [`Session`].
#[derive(Debug)]
struct SessionState {
    /// The output stream's ring.
    log: StreamLog,
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
    /// Viewers currently attached.
    viewers: usize,
    agent: Option<AgentHandle>,
    /// Since when neither an agent nor a viewer is attached.
    idle_since: Option<Instant>,
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
    }

    fn mark_idle_if_unused(&mut self) {
        if self.viewers == 0 && self.agent.is_none() {
            self.idle_since = Some(Instant::now());
        }
    }
}

/// One terminal session held in memory.
#[derive(Debug)]
pub(crate) struct Session {
    /// The session's id.
    pub(crate) id: Uuid,
    state: Mutex<SessionState>,
    changed: watch::Sender<u64>,
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

impl Session {
    /// An empty, offline session keeping `history_bytes` of output.
    pub(crate) fn new(id: Uuid, history_bytes: usize) -> Self {
        Self {
            id,
            state: Mutex::new(SessionState {
                log: StreamLog::new(history_bytes),
                metadata: None,
                metadata_version: 0,
                size: None,
                size_offset: 0,
                ended: None,
                ended_offset: 0,
                viewers: 0,
                agent: None,
                idle_since: Some(Instant::now()),
            }),
            changed: watch::Sender::new(0),
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

    /// Viewers attached now.
    pub(crate) fn viewer_count(&self) -> usize {
        self.lock().viewers
    }

    /// Attaches a new agent link, replacing (and closing) any previous one.
    /// The link stays attached until the returned guard is dropped.
    pub(crate) fn attach_agent(
        self: &Arc<Self>,
        commands: mpsc::Sender<AgentCommand>,
    ) -> AgentGuard {
        let link_id = NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed);
        let held = self.change(|state| {
            if let Some(old) = state.agent.take() {
                let _ = old
                    .commands
                    .try_send(AgentCommand::Close(CloseCause::Replaced));
            }
            state.agent = Some(AgentHandle { link_id, commands });
            state.ended = None;
            state.idle_since = None;
            state.log.end()
        });
        AgentGuard {
            session: self.clone(),
            link_id,
            held,
        }
    }

    /// Hands a command to the attached agent without waiting.
    pub(crate) fn send_to_agent(&self, command: AgentCommand) -> Result<(), SendError> {
        let state = self.lock();
        let agent = state.agent.as_ref().ok_or(SendError::Offline)?;
        if state.ended.is_some() {
            return Err(SendError::Offline);
        }
        agent.commands.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Busy,
            mpsc::error::TrySendError::Closed(_) => SendError::Offline,
        })
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
        self.change_if(|state| state.ended.take().is_some());
    }

    /// Registers a viewer, refusing more than `max`. The viewer counts until
    /// the returned guard is dropped.
    pub(crate) fn join_viewer(self: &Arc<Self>, max: usize) -> Result<ViewerGuard, JoinError> {
        let mut state = self.lock();
        if state.viewers >= max {
            return Err(JoinError::TooManyViewers);
        }
        state.viewers += 1;
        state.idle_since = None;
        Ok(ViewerGuard {
            session: self.clone(),
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

/// A viewer counted in its session; leaves on drop.
#[derive(Debug)]
pub(crate) struct ViewerGuard {
    session: Arc<Session>,
}

impl ViewerGuard {
    /// The session joined.
    pub(crate) fn session(&self) -> &Arc<Session> {
        &self.session
    }
}

impl Drop for ViewerGuard {
    fn drop(&mut self) {
        let mut state = self.session.lock();
        state.viewers = state.viewers.saturating_sub(1);
        state.mark_idle_if_unused();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Arc<Session> {
        Arc::new(Session::new(Uuid::new_v4(), 64))
    }

    #[test]
    fn a_newer_agent_link_replaces_the_old_one() {
        let session = session();
        let (old_tx, mut old_rx) = mpsc::channel(4);
        let old = session.attach_agent(old_tx);
        let (new_tx, mut new_rx) = mpsc::channel(4);
        let new = session.attach_agent(new_tx);
        assert_eq!(
            old_rx.try_recv(),
            Ok(AgentCommand::Close(CloseCause::Replaced))
        );
        drop(old);
        assert_eq!(
            session.liveness(),
            Liveness::Live,
            "the old guard leaves the new link"
        );
        session
            .send_to_agent(AgentCommand::Input(b"x".to_vec()))
            .unwrap();
        assert_eq!(new_rx.try_recv(), Ok(AgentCommand::Input(b"x".to_vec())));
        drop(new);
        assert_eq!(session.liveness(), Liveness::Offline);
        assert_eq!(
            session.send_to_agent(AgentCommand::Input(vec![])),
            Err(SendError::Offline)
        );
    }

    #[test]
    fn viewers_count_until_their_guard_drops() {
        let session = session();
        let first = session.join_viewer(2).unwrap();
        let _second = session.join_viewer(2).unwrap();
        assert_eq!(
            session.join_viewer(2).unwrap_err(),
            JoinError::TooManyViewers
        );
        assert_eq!(session.viewer_count(), 2);
        drop(first);
        assert_eq!(session.viewer_count(), 1);
    }

    #[test]
    fn ending_and_reopening() {
        let session = session();
        session.end_if_offline(Some(3));
        assert_eq!(session.liveness(), Liveness::Ended);
        session.reopen();
        assert_eq!(session.liveness(), Liveness::Offline);
        let (tx, _rx) = mpsc::channel(1);
        let _agent = session.attach_agent(tx);
        session.end_if_offline(Some(3));
        assert_eq!(
            session.liveness(),
            Liveness::Live,
            "a live session is not ended"
        );
    }
}
