//! The relay's REST API, as far as the viewer needs it: the session list, a
//! session's message log, its share links, Web Push subscriptions and
//! recordings, as
//! [`protocol::api`] types.

use gloo::net::http::{Request, RequestBuilder, Response};
use protocol::api::{
    ErrorBody, MessageInfo, PushKey, PushSubscriptionInfo, RecordingInfo, SessionInfo, ShareInfo,
    ShareRequest, ShareResponse,
};
use protocol::Role;
use serde::de::DeserializeOwned;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The key was refused (401/403).
    Unauthorized,
    /// Anything else: network, server error, unexpected body.
    Failed(String),
}

/// `GET /api/v1/agent-instances` with the API key: the user's sessions,
/// newest first.
pub async fn list_sessions(key: &str) -> Result<Vec<SessionInfo>, ApiError> {
    let mut sessions: Vec<SessionInfo> = get_json("/api/v1/agent-instances", key).await?;
    waiting_then_newest(&mut sessions);
    Ok(sessions)
}

/// `GET /api/v1/agent-instances/{id}?message_limit=N`: the session's latest
/// messages, oldest first.
pub async fn session_messages(key: &str, id: &str) -> Result<Vec<MessageInfo>, ApiError> {
    let url = format!(
        "/api/v1/agent-instances/{}?message_limit=50",
        crate::link::encode_path_segment(id)
    );
    let session: SessionInfo = get_json(&url, key).await?;
    let mut messages = session.messages.unwrap_or_default();
    oldest_first(&mut messages);
    Ok(messages)
}

/// `POST /api/v1/agent-instances/{id}/share`: a new share link.
pub async fn create_share(
    key: &str,
    id: &str,
    role: Role,
    ttl_secs: u64,
) -> Result<ShareResponse, ApiError> {
    let url = format!(
        "/api/v1/agent-instances/{}/share",
        crate::link::encode_path_segment(id)
    );
    let share = ShareRequest { role, ttl_secs };
    let response = send_authorized(Request::post(&url), key, |r| r.json(&share)).await?;
    read_json(response).await
}

/// `GET /api/v1/agent-instances/{id}/shares`: the session's working links,
/// oldest first.
pub async fn list_shares(key: &str, id: &str) -> Result<Vec<ShareInfo>, ApiError> {
    let url = format!(
        "/api/v1/agent-instances/{}/shares",
        crate::link::encode_path_segment(id)
    );
    get_json(&url, key).await
}

/// `DELETE /api/v1/shares/{share_id}`: revokes a link (its viewers are
/// closed).
pub async fn revoke_share(key: &str, share_id: &str) -> Result<(), ApiError> {
    let url = format!(
        "/api/v1/shares/{}",
        crate::link::encode_path_segment(share_id)
    );
    delete(&url, key).await
}

/// `GET /api/v1/push/key`: the relay's VAPID public key (base64url).
pub async fn push_key(key: &str) -> Result<String, ApiError> {
    let body: PushKey = get_json("/api/v1/push/key", key).await?;
    Ok(body.public_key)
}

/// `POST /api/v1/push/subscriptions` with `subscription` (the JSON of
/// `PushSubscription.toJSON()`): the relay's record of it.
pub async fn add_push_subscription(
    key: &str,
    subscription: &str,
) -> Result<PushSubscriptionInfo, ApiError> {
    let request = Request::post("/api/v1/push/subscriptions");
    let response = send_authorized(request, key, |r| {
        r.header("Content-Type", "application/json")
            .body(subscription)
    })
    .await?;
    read_json(response).await
}

/// `DELETE /api/v1/push/subscriptions/{id}`: no more pushes to it.
pub async fn delete_push_subscription(key: &str, id: &str) -> Result<(), ApiError> {
    let url = format!(
        "/api/v1/push/subscriptions/{}",
        crate::link::encode_path_segment(id)
    );
    delete(&url, key).await
}

/// `GET /api/v1/agent-instances/{id}/recording` with an API key or a
/// read-write share token: the recording's text (asciicast v3), or why not.
pub async fn recording_text(secret: &str, id: &str) -> Result<String, String> {
    let url = format!(
        "/api/v1/agent-instances/{}/recording",
        crate::link::encode_path_segment(id)
    );
    let text = async {
        let response = send_authorized(Request::get(&url), secret, RequestBuilder::build).await?;
        check_status(&response).await?;
        response.text().await.map_err(failed)
    };
    match text.await {
        Ok(text) => Ok(text),
        Err(ApiError::Unauthorized) => Err("not allowed to see the recording".into()),
        Err(ApiError::Failed(reason)) => Err(reason),
    }
}

/// `GET /api/v1/recordings`: the user's kept recordings, newest first.
pub async fn list_recordings(key: &str) -> Result<Vec<RecordingInfo>, ApiError> {
    get_json("/api/v1/recordings", key).await
}

/// GET `url` with the API key; the body as `T`.
async fn get_json<T: DeserializeOwned>(url: &str, key: &str) -> Result<T, ApiError> {
    let response = send_authorized(Request::get(url), key, RequestBuilder::build).await?;
    read_json(response).await
}

/// DELETE `url` with the API key.
async fn delete(url: &str, key: &str) -> Result<(), ApiError> {
    let response = send_authorized(Request::delete(url), key, RequestBuilder::build).await?;
    check_status(&response).await
}

/// Sends `request` with `secret` (an API key or share token) as its bearer,
/// its body set by `body` (`RequestBuilder::build` for none).
async fn send_authorized(
    request: RequestBuilder,
    secret: &str,
    body: impl FnOnce(RequestBuilder) -> Result<Request, gloo::net::Error>,
) -> Result<Response, ApiError> {
    let request = request.header("Authorization", &format!("Bearer {secret}"));
    body(request).map_err(failed)?.send().await.map_err(failed)
}

/// A request that could not be built or sent.
fn failed(err: gloo::net::Error) -> ApiError {
    ApiError::Failed(err.to_string())
}

/// A successful answer's body as `T`, or why the request failed.
async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    check_status(&response).await?;
    response
        .json()
        .await
        .map_err(|err| ApiError::Failed(format!("unexpected answer: {err}")))
}

/// `Ok` for a 2xx answer, else the refusal it carries.
async fn check_status(response: &Response) -> Result<(), ApiError> {
    match response.status() {
        401 | 403 => Err(ApiError::Unauthorized),
        200..=299 => Ok(()),
        status => {
            let body = response.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<ErrorBody>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| format!("HTTP {status}"));
            Err(ApiError::Failed(reason))
        }
    }
}

/// Sorts sessions: those waiting for their owner first, then newest first
/// (RFC 3339 timestamps sort as text).
fn waiting_then_newest(sessions: &mut [SessionInfo]) {
    let waiting = |s: &SessionInfo| {
        s.attention
            .as_ref()
            .is_some_and(|a| a.state == protocol::AttentionState::Waiting)
    };
    sessions.sort_by(|a, b| {
        waiting(b)
            .cmp(&waiting(a))
            .then_with(|| b.created_at.cmp(&a.created_at))
    });
}

/// Sorts messages oldest first.
fn oldest_first(messages: &mut [MessageInfo]) {
    messages.sort_by(|a, b| a.created_at.cmp(&b.created_at));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, created_at: &str) -> SessionInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "agent_instance_id": id, "agent_type": "claude", "status": "live",
            "created_at": created_at, "last_activity": created_at,
        }))
        .unwrap()
    }

    #[test]
    fn sessions_waiting_then_newest() {
        let mut sessions = vec![
            session("a", "2026-01-01T00:00:00Z"),
            session("b", "2026-02-01T00:00:00Z"),
        ];
        waiting_then_newest(&mut sessions);
        assert_eq!(sessions[0].id, "b");
        // A session waiting for its owner comes first.
        sessions[1].attention = serde_json::from_str(
            r#"{"state":"waiting","text":"Allow?","since":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        waiting_then_newest(&mut sessions);
        assert_eq!(sessions[0].id, "a");
        assert_eq!(sessions[0].display_name(), "claude");
        assert_eq!(sessions[0].viewer_count, 0);
    }

    #[test]
    fn messages_oldest_first() {
        let message = |content: &str, at: &str| MessageInfo {
            id: content.into(),
            content: content.into(),
            sender_type: "agent".into(),
            requires_user_input: false,
            created_at: at.into(),
        };
        let mut messages = vec![
            message("exited 0", "2026-01-01T00:00:02Z"),
            message("started", "2026-01-01T00:00:01Z"),
        ];
        oldest_first(&mut messages);
        assert_eq!(messages[0].content, "started");
    }
}
