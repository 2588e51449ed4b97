//! A session's life across the store and memory: opening (create or resume,
//! with ownership, the per-user limit and the memory budgets), activity,
//! metadata, ending. Used by both the REST API and the agent transport, so
//! neither depends on the other.

use std::sync::Arc;

use protocol::Metadata;
use uuid::Uuid;

use crate::kept_recordings::KeptRecordings;
use crate::metrics::{add, set};
use crate::session::{BudgetError, Liveness, Session};
use crate::state::Shared;
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
    /// The memory budgets have no room for the session's history.
    #[error("{0}")]
    Budget(#[from] BudgetError),
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
/// limit), reopens it if ended; refuses another user's, and one the memory
/// budgets have no room for. Returns the record and the session in memory.
pub(crate) async fn open(
    state: &Shared,
    id: Uuid,
    user: &str,
    registration: Registration<'_>,
) -> Result<(SessionRecord, Arc<Session>), OpenError> {
    let (record, new) = opened_record(state, id, user, registration).await?;
    let session = admit(state, id, user)?;
    if new && state.cluster.is_none() {
        // Its stream starts here: a viewer's offset beyond its end is wrong.
        // (With several nodes, another one may be holding the stream.)
        session.mark_whole_stream();
    }
    state.store.put_session(record.clone()).await?;
    Ok((record, session))
}

/// A registration (`POST /api/v1/agent-instances`): [`open`] on one node.
/// With several nodes the session's ring is made only where its agent link
/// arrives (which opens it there): a node that merely answered the
/// registration reserves no memory for a session it may never hold, and
/// the budgets are checked by the node that will.
pub(crate) async fn register(
    state: &Shared,
    id: Uuid,
    user: &str,
    registration: Registration<'_>,
) -> Result<SessionRecord, OpenError> {
    if state.cluster.is_none() || state.registry.get(id).is_some() {
        return Ok(open(state, id, user, registration).await?.0);
    }
    let (record, _) = opened_record(state, id, user, registration).await?;
    state.store.put_session(record.clone()).await?;
    Ok(record)
}

/// The record of session `id` opened for `user` (not saved yet), and
/// whether the session is new.
async fn opened_record(
    state: &Shared,
    id: Uuid,
    user: &str,
    registration: Registration<'_>,
) -> Result<(SessionRecord, bool), OpenError> {
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
    let new = existing.is_none();
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
    Ok((record, new))
}

/// Session `id` of `user` in memory and open, if the budgets have room
/// (ended sessions' rings are freed to make it); counted in the metrics.
pub(crate) fn admit(state: &Shared, id: Uuid, user: &str) -> Result<Arc<Session>, BudgetError> {
    let admitted = state.registry.admit(id, user);
    set(&state.metrics.history_bytes, state.registry.held_bytes());
    match admitted {
        Ok(admitted) => {
            if admitted.freed > 0 {
                tracing::info!(
                    freed = admitted.freed,
                    "freed ended sessions' history to make room"
                );
            }
            add(&state.metrics.history_freed, admitted.freed as u64);
            Ok(admitted.session)
        }
        Err(e) => {
            add(&state.metrics.budget_refusals, 1);
            tracing::warn!(session = %id, "session refused: {e}");
            Err(e)
        }
    }
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

/// Longest agent type or name stored from an agent's metadata, in characters.
const MAX_NAME_CHARS: usize = 256;

/// `text` cut to [`MAX_NAME_CHARS`] characters.
fn clip(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_NAME_CHARS) {
        text.truncate(at);
    }
    text
}

/// Fills in the stored agent type and name from the wrapper's metadata
/// (each cut to 256 characters).
pub(crate) async fn apply_metadata(state: &Shared, id: Uuid, mut metadata: Metadata) {
    metadata.agent = clip(metadata.agent);
    metadata.agent_display_name = metadata.agent_display_name.map(clip);
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
    keep_recording(state, session.id).await;
}

/// With `--keep-recordings`, writes the ended session's recording to disk
/// (in the background: the end does not wait for it).
async fn keep_recording(state: &Shared, id: Uuid) {
    let (Some(kept), Some(session)) = (
        KeptRecordings::from_config(&state.config),
        state.registry.get(id),
    ) else {
        return;
    };
    let title = match state.store.session(id).await {
        Ok(record) => record.and_then(|r| r.name),
        Err(_) => None,
    };
    tokio::spawn(async move { kept.keep(session, title).await });
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_clipped_to_256_characters() {
        assert_eq!(super::clip("é".repeat(300)), "é".repeat(256));
        assert_eq!(super::clip("short".into()), "short");
    }
}
