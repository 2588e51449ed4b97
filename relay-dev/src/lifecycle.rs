//! A session's life across the store and memory: opening (create or resume,
//! with ownership and the per-user limit), activity, metadata, ending. Used
//! by both the REST API and the agent transport, so neither depends on the
//! other.

use protocol::Metadata;
use uuid::Uuid;

use crate::server::Shared;
use crate::session::{Liveness, Session};
use crate::store::{SessionRecord, StoreError};
use crate::time::unix_now;

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
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
pub(crate) struct Registration<'a> {
    /// `claude`, `codex`, … (`unknown` for a new session without one).
    pub(crate) agent_type: Option<&'a str>,
    /// Display name.
    pub(crate) name: Option<&'a str>,
}

/// Opens session `id` for `user`: creates it if unknown (within the user's
/// limit), reopens it if ended; refuses another user's.
pub(crate) async fn open(
    state: &Shared,
    id: Uuid,
    user: &str,
    registration: Registration<'_>,
) -> Result<SessionRecord, OpenError> {
    let now = unix_now();
    let owner = user.to_string();
    // The record, and for a new session the user's others (to count them).
    let (existing, others) = state
        .store
        .call(move |s| match s.session(id)? {
            Some(record) => Ok((Some(record), Vec::new())),
            None => Ok((None, s.sessions_of(&owner)?)),
        })
        .await?;
    let record = match existing {
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
            let open = others.iter().filter(|s| is_open(state, s, now)).count();
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
    state.store.put_session(record.clone()).await?;
    if let Some(session) = state.registry.get(id) {
        session.reopen();
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
        .is_some_and(|s| s.liveness() == Liveness::Live);
    live || now.saturating_sub(record.last_activity) < state.config.retention
}

/// Changes session `id`'s record in one store call (best effort: a failure
/// is logged as `what`). `change` returns whether there is anything to save.
async fn update_record(
    state: &Shared,
    id: Uuid,
    what: &'static str,
    change: impl FnOnce(&mut SessionRecord) -> bool + Send + 'static,
) {
    let saved = state
        .store
        .call(move |s| match s.session(id)? {
            Some(mut record) => {
                if change(&mut record) {
                    s.put_session(&record)?;
                }
                Ok(())
            }
            None => Ok(()),
        })
        .await;
    if let Err(e) = saved {
        tracing::warn!("{what}: {e}");
    }
}

/// Records activity on a session now (best effort).
pub(crate) async fn touch(state: &Shared, id: Uuid) {
    update_record(state, id, "recording activity", |record| {
        record.last_activity = unix_now();
        true
    })
    .await;
}

/// Fills in the stored agent type and name from the wrapper's metadata.
pub(crate) async fn apply_metadata(state: &Shared, id: Uuid, metadata: Metadata) {
    update_record(state, id, "saving metadata", move |record| {
        let mut changed = false;
        if !metadata.agent.is_empty() && record.agent_type != metadata.agent {
            record.agent_type = metadata.agent;
            changed = true;
        }
        if let Some(name) = metadata.agent_display_name {
            if record.name.as_ref() != Some(&name) {
                record.name = Some(name);
                changed = true;
            }
        }
        changed
    })
    .await;
}

/// Ends a session: viewers are told, the store records it.
pub(crate) async fn end(state: &Shared, session: &Session, exit_status: Option<i32>) {
    session.end(exit_status);
    update_record(state, session.id, "ending session", move |record| {
        let now = unix_now();
        record.ended_at = Some(now);
        record.last_activity = now;
        record.exit_status = exit_status;
        true
    })
    .await;
}
