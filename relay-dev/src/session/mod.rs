//! Sessions: the shared output log, the session's state (metadata, size, agent
//! link, viewers) and the registry of sessions held in memory.
//!
//! Nothing here knows about WebSockets: transports append output, read it
//! through cursors and are woken through a [`watch`] channel when anything
//! changes.

mod log;
mod strip;

pub use log::{Appended, CursorRead, StreamLog, ViewerCursor};
pub use strip::EraseInDisplayFilter;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocol::Metadata;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

/// What a viewer (through the relay) asks of the agent's link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentCommand {
    /// Bytes to type into the agent.
    Input(Vec<u8>),
    /// A request to resize the PTY.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Close the link with this WebSocket close code and reason.
    Close(u16, String),
}

/// Whether a session's agent is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// An agent link is attached.
    Live,
    /// No agent link; the session may come back.
    Offline,
    /// The agent exited or the session was ended.
    Ended,
}

impl Liveness {
    /// The word the API uses: `live`, `offline` or `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Liveness::Live => "live",
            Liveness::Offline => "offline",
            Liveness::Ended => "ended",
        }
    }
}

/// The attached agent link, as the session sees it.
#[derive(Debug)]
struct AgentHandle {
    link_id: u64,
    commands: mpsc::Sender<AgentCommand>,
}

/// The mutable part of a session, behind its lock.
#[derive(Debug)]
pub struct SessionState {
    /// The output stream's ring.
    pub log: StreamLog,
    /// The latest metadata from the agent.
    pub metadata: Option<Metadata>,
    /// Bumped on every metadata change, so viewers know to resend it.
    pub metadata_version: u64,
    /// The PTY size the agent last reported, rows then cols.
    pub size: Option<(u16, u16)>,
    /// Stream offset at which `size` took effect: viewers behind it get the
    /// new size only after the output before it.
    pub size_offset: u64,
    /// `Some(exit_status)` once the session ended.
    pub ended: Option<Option<i32>>,
    /// Stream offset at which the session ended: viewers are told after the
    /// output before it.
    pub ended_offset: u64,
    /// Viewers currently attached.
    pub viewers: usize,
    agent: Option<AgentHandle>,
    idle_since: Option<Instant>,
}

impl SessionState {
    /// Live, offline or ended.
    pub fn liveness(&self) -> Liveness {
        if self.ended.is_some() {
            Liveness::Ended
        } else if self.agent.is_some() {
            Liveness::Live
        } else {
            Liveness::Offline
        }
    }
}

/// One terminal session held in memory.
#[derive(Debug)]
pub struct Session {
    /// The session's id.
    pub id: Uuid,
    /// The user who owns it.
    pub user: String,
    state: Mutex<SessionState>,
    changed: watch::Sender<u64>,
}

/// Why a viewer could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The session already has the maximum number of viewers.
    #[error("the session has too many viewers")]
    TooManyViewers,
}

/// Why a command could not be handed to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No agent link is attached.
    #[error("the agent is offline")]
    Offline,
    /// The agent is not reading fast enough; the command was dropped.
    #[error("the agent is not keeping up; input dropped")]
    Busy,
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

impl Session {
    fn new(id: Uuid, user: String, history_bytes: usize) -> Self {
        Self {
            id,
            user,
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

    /// Locks the state for reading or a change; call [`notify`](Self::notify)
    /// after changing it.
    pub fn lock(&self) -> MutexGuard<'_, SessionState> {
        // A panic while holding this lock cannot leave the state torn in a
        // way that matters more than losing the session; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every viewer of this session.
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver woken whenever the session changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Attaches a new agent link, replacing (and closing) any previous one.
    /// Returns the link's id and the end of the log (what the relay holds).
    pub fn attach_agent(&self, commands: mpsc::Sender<AgentCommand>) -> (u64, u64) {
        let link_id = NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed);
        let end = {
            let mut state = self.lock();
            if let Some(old) = state.agent.take() {
                let _ = old.commands.try_send(AgentCommand::Close(
                    1000,
                    "replaced by a newer agent link".into(),
                ));
            }
            state.agent = Some(AgentHandle { link_id, commands });
            state.ended = None;
            state.idle_since = None;
            state.log.end()
        };
        self.notify();
        (link_id, end)
    }

    /// Detaches the agent link `link_id` if it is still the attached one.
    pub fn detach_agent(&self, link_id: u64) {
        let detached = {
            let mut state = self.lock();
            if state.agent.as_ref().is_some_and(|a| a.link_id == link_id) {
                state.agent = None;
                if state.viewers == 0 {
                    state.idle_since = Some(Instant::now());
                }
                true
            } else {
                false
            }
        };
        if detached {
            self.notify();
        }
    }

    /// Hands a command to the attached agent without waiting.
    pub fn send_to_agent(&self, command: AgentCommand) -> Result<(), SendError> {
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

    /// Marks the session ended and tells viewers.
    pub fn end(&self, exit_status: Option<i32>) {
        {
            let mut state = self.lock();
            state.ended = Some(exit_status);
            state.ended_offset = state.log.end();
        }
        self.notify();
    }

    /// Records the PTY size the agent reported, effective from the current
    /// end of the stream.
    pub fn set_size(state: &mut SessionState, rows: u16, cols: u16) {
        state.size = Some((rows, cols));
        state.size_offset = state.log.end();
    }

    /// Registers a viewer, refusing more than `max`.
    pub fn join_viewer(&self, max: usize) -> Result<(), JoinError> {
        let mut state = self.lock();
        if state.viewers >= max {
            return Err(JoinError::TooManyViewers);
        }
        state.viewers += 1;
        state.idle_since = None;
        Ok(())
    }

    /// Unregisters a viewer.
    pub fn leave_viewer(&self) {
        let mut state = self.lock();
        state.viewers = state.viewers.saturating_sub(1);
        if state.viewers == 0 && state.agent.is_none() {
            state.idle_since = Some(Instant::now());
        }
    }

    /// Closes every link of the session's agent (e.g. its key was revoked).
    pub fn close_agent(&self, code: u16, reason: &str) {
        if let Some(agent) = self.lock().agent.as_ref() {
            let _ = agent
                .commands
                .try_send(AgentCommand::Close(code, reason.to_string()));
        }
    }
}

/// The sessions held in memory, by id.
#[derive(Debug)]
pub struct Registry {
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
    history_bytes: usize,
}

impl Registry {
    /// An empty registry whose sessions keep `history_bytes` of output each.
    pub fn new(history_bytes: usize) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            history_bytes,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session `id` if it is in memory.
    pub fn get(&self, id: Uuid) -> Option<Arc<Session>> {
        self.map().get(&id).cloned()
    }

    /// The session `id`, created empty (offline, no history) if not in memory.
    /// Its idle clock restarts, so [`sweep`](Self::sweep) leaves it to the
    /// caller, who is about to attach an agent or a viewer.
    pub fn get_or_create(&self, id: Uuid, user: &str) -> Arc<Session> {
        let session = self
            .map()
            .entry(id)
            .or_insert_with(|| Arc::new(Session::new(id, user.to_string(), self.history_bytes)))
            .clone();
        {
            let mut state = session.lock();
            if state.idle_since.is_some() {
                state.idle_since = Some(Instant::now());
            }
        }
        session
    }

    /// Every session in memory.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.map().values().cloned().collect()
    }

    /// Drops sessions that have had neither agent nor viewers for `retention`.
    /// Returns how many were dropped.
    pub fn sweep(&self, retention: Duration) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, session| {
            let state = session.lock();
            state
                .idle_since
                .is_none_or(|since| since.elapsed() < retention)
        });
        before - map.len()
    }
}
