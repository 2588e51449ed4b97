//! A session's life across the store and memory: opening (create or resume,
//! with ownership and the per-user limit), activity, metadata, ending. Used
//! by both the REST API and the agent transport, so neither depends on the
//! other.

use std::sync::Arc;

use protocol::Metadata;
use uuid::Uuid;

use crate::session::Session;
use crate::store::{SessionRecord, StoreError};
use crate::time::unix_now;
use crate::Shared;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The id belongs to another user.
    #[error("session belongs to another user")]
    OtherUser,
    /// The user has as many open sessions as allowed.
    #[error("too many open sessions for this user")]
    TooManySessions,
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a registration says about the session (the agent link says nothing).
#[derive(Debug, Clone, Copy, Default)]
pub struct Registration<'a> {
    /// `claude`, `codex`, … (`unknown` for a new session without one).
    pub agent_type: Option<&'a str>,
    /// Display name.
    pub name: Option<&'a str>,
}

/// Opens session `id` for `user`: creates it if unknown (within the user's
/// limit), reopens it if ended; refuses another user's.
pub fn open(
    state: &Shared,
    id: Uuid,
    user: &str,
    registration: Registration<'_>,
) -> Result<SessionRecord, OpenError> {
    let now = unix_now();
    let record = match state.store.session(id)? {
        Some(record) if record.user != user => return Err(OpenError::OtherUser),
        Some(mut record) => {
            record.ended_at = None;
            record.exit_status = None;
            record.last_activity = now;
            if let Some(agent_type) = registration.agent_type {
                record.agent_type = agent_type.to_string();
            }
            if let Some(name) = registration.name {
                record.name = Some(name.to_string());
            }
            record
        }
        None => {
            let open = state
                .store
                .sessions_of(user)?
                .iter()
                .filter(|s| is_open(state, s, now))
                .count();
            if open >= state.config.max_sessions {
                return Err(OpenError::TooManySessions);
            }
            SessionRecord {
                id,
                user: user.to_string(),
                agent_type: registration.agent_type.unwrap_or("unknown").to_string(),
                name: registration.name.map(str::to_string),
                created_at: now,
                last_activity: now,
                ended_at: None,
                exit_status: None,
            }
        }
    };
    state.store.put_session(&record)?;
    if let Some(session) = state.registry.get(id) {
        let reopened = session.lock().ended.take().is_some();
        if reopened {
            session.notify();
        }
    }
    Ok(record)
}

/// Whether a session counts against its user's limit: not ended, and either
/// live now or active within the retention time (a wrapper killed without
/// ending its session stops counting once it would have left memory).
fn is_open(state: &Shared, record: &SessionRecord, now: u64) -> bool {
    if record.ended_at.is_some() {
        return false;
    }
    let live = state
        .registry
        .get(record.id)
        .is_some_and(|s| s.lock().liveness() == crate::session::Liveness::Live);
    live || now.saturating_sub(record.last_activity) < state.config.retention
}

/// Records activity on a session now (best effort).
pub fn touch(state: &Shared, id: Uuid) {
    if let Ok(Some(mut record)) = state.store.session(id) {
        record.last_activity = unix_now();
        if let Err(e) = state.store.put_session(&record) {
            tracing::warn!("recording activity: {e}");
        }
    }
}

/// Fills in the stored agent type and name from the wrapper's metadata.
pub fn apply_metadata(state: &Shared, id: Uuid, metadata: &Metadata) {
    let Ok(Some(mut record)) = state.store.session(id) else {
        return;
    };
    let mut changed = false;
    if !metadata.agent.is_empty() && record.agent_type != metadata.agent {
        record.agent_type = metadata.agent.clone();
        changed = true;
    }
    if let Some(name) = &metadata.agent_display_name {
        if record.name.as_ref() != Some(name) {
            record.name = Some(name.clone());
            changed = true;
        }
    }
    if changed {
        if let Err(e) = state.store.put_session(&record) {
            tracing::warn!("saving metadata: {e}");
        }
    }
}

/// Ends a session: viewers are told, the store records it.
pub fn end(state: &Shared, session: &Arc<Session>, exit_status: Option<i32>) {
    session.end(exit_status);
    if let Ok(Some(mut record)) = state.store.session(session.id) {
        let now = unix_now();
        record.ended_at = Some(now);
        record.last_activity = now;
        record.exit_status = exit_status;
        if let Err(e) = state.store.put_session(&record) {
            tracing::warn!("ending session: {e}");
        }
    }
}
