//! The links attached to a session: one agent link at a time (a newer one
//! replaces it), viewer links each in a seat, the commands viewers hand the
//! agent, and the guards that detach a link when it goes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use super::seats::{Seat, SeatLimits};
use super::{CommandSender, Session, SessionState};
use protocol::Size;

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
pub(super) struct AgentHandle {
    link_id: u64,
    commands: CommandSender,
}

static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(1);

impl Session {
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
