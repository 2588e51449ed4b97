//! Who may watch a session: a viewer's credential checked against the
//! session's owner or the share link's session, and the session found (or
//! brought back into memory) for it.

use std::sync::Arc;

use protocol::Role;
use uuid::Uuid;

use super::super::{CloseReason, CLOSE_TRY_AGAIN};
use crate::auth::{authenticate, Grant, Principal};
use crate::lifecycle;
use crate::metrics::add;
use crate::session::{Seat, Session};
use crate::state::AppState;

/// Who is watching, and until when.
pub(super) struct Access {
    pub(super) role: Role,
    /// Who shared the session (its owner), for a share link's viewer.
    pub(super) shared_by: Option<String>,
    /// What the input bucket is kept by: the key's id, or the share link's.
    pub(super) credential: String,
    /// Whose place the viewer takes: the owner's, or a share link's.
    pub(super) seat: Seat,
    /// The key or share link it came with (closed on revocation).
    pub(super) grant: Grant,
    /// Unix seconds at which a share token expires.
    pub(super) expires_at: Option<u64>,
}

/// The session a credential may watch, its registered agent type, and how.
pub(super) async fn authorize(
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
    // Before the store is asked: a share link's holder learns nothing about
    // other sessions, not even whether they exist.
    if matches!(&principal, Principal::Share(grant) if grant.session_id != id) {
        add(&state.metrics.auth_failures, 1);
        return Err(CloseReason::policy("share link is for another session"));
    }
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
            shared_by: None,
            credential: format!("key:{key_id}"),
            seat: Seat::Owner,
            grant: Grant::Key(key_id),
            expires_at: None,
        },
        // Another user's session is refused as if it did not exist.
        Principal::User { .. } => return Err(refuse("unknown session")),
        Principal::Share(grant) => Access {
            role: grant.role,
            shared_by: Some(record.user.clone()),
            credential: format!("share:{}", grant.id),
            seat: Seat::Share(grant.id.clone()),
            expires_at: Some(grant.expires_at),
            grant: Grant::Share {
                id: grant.id,
                key_id: grant.key_id,
            },
        },
    };
    let session = if record.ended_at.is_some() {
        let session = (state.registry).get_or_create_ended(id, &record.user, record.exit_status);
        session.end_if_offline(record.exit_status);
        session
    } else if let Some(session) = state.registry.get(id) {
        session
    } else {
        // Not in memory (e.g. the relay restarted): it needs room for its ring.
        lifecycle::admit(state, id, &record.user)
            .map_err(|e| CloseReason::new(CLOSE_TRY_AGAIN, e.to_string()))?
    };
    Ok((session, record.agent_type, access))
}
