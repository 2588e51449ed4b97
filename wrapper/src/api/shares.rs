//! The share-link calls of [`ApiClient`]: mint, list and revoke links, and
//! the session list `tether share` picks its default session from.

use super::{parsed, ApiClient, ApiError};
use crate::printable::server_text;
use protocol::api::{SessionInfo, ShareInfo, ShareRequest, ShareResponse};
use protocol::Role;

impl ApiClient {
    /// `POST /api/v1/agent-instances/{id}/share`: a new link to `session`.
    pub fn create_share(
        &self,
        session: &str,
        role: Role,
        ttl_secs: u64,
    ) -> Result<ShareResponse, ApiError> {
        let path = format!("/api/v1/agent-instances/{session}/share");
        let answer = self.post(&path, &ShareRequest { role, ttl_secs }, Some(session))?;
        parsed(&answer)
    }

    /// `GET /api/v1/agent-instances/{id}/shares`: `session`'s working links.
    pub fn list_shares(&self, session: &str) -> Result<Vec<ShareInfo>, ApiError> {
        let path = format!("/api/v1/agent-instances/{session}/shares");
        parsed(&self.get(&path, Some(session))?)
    }

    /// `DELETE /api/v1/shares/{id}`: revokes link `share_id`. A link that is
    /// unknown (or on another user's session) is [`ApiError::UnknownShare`].
    pub fn revoke_share(&self, share_id: &str) -> Result<(), ApiError> {
        let url = format!("{}/api/v1/shares/{share_id}", self.base);
        let response = self
            .agent
            .delete(&url)
            .header("Authorization", &format!("Bearer {}", self.key))
            .call();
        match self.answer(response, None) {
            Err(ApiError::Refused { status: 404, .. }) => {
                Err(ApiError::UnknownShare(server_text(share_id)))
            }
            other => other.map(|_| ()),
        }
    }

    /// `GET /api/v1/agent-instances`: the user's sessions.
    pub fn list_sessions(&self) -> Result<Vec<SessionInfo>, ApiError> {
        parsed(&self.get("/api/v1/agent-instances", None)?)
    }
}

/// The most recent live session of `sessions` (by registration time, to
/// the second; among equals the first listed, as the relay lists the
/// newest first).
pub fn most_recent_live(sessions: &[SessionInfo]) -> Option<&SessionInfo> {
    sessions
        .iter()
        .enumerate()
        .filter(|(_, s)| s.status == "live")
        .max_by_key(|(at, s)| (s.created_at.as_str(), std::cmp::Reverse(*at)))
        .map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, status: &str, created_at: &str) -> SessionInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "agent_instance_id": id, "agent_type": "claude", "status": status,
            "created_at": created_at, "last_activity": created_at,
        }))
        .unwrap()
    }

    #[test]
    fn the_default_session_is_the_newest_live_one() {
        let sessions = [
            session("old", "live", "2026-01-01T00:00:00Z"),
            session("ended", "ended", "2026-03-01T00:00:00Z"),
            session("new", "live", "2026-02-01T00:00:00Z"),
            session("away", "offline", "2026-04-01T00:00:00Z"),
        ];
        assert_eq!(most_recent_live(&sessions).unwrap().id, "new");
        let same_second = [
            session("listed-first", "live", "2026-01-01T00:00:00Z"),
            session("listed-second", "live", "2026-01-01T00:00:00Z"),
        ];
        assert_eq!(most_recent_live(&same_second).unwrap().id, "listed-first");
        assert!(most_recent_live(&sessions[1..2]).is_none());
    }
}
