//! The relay's REST API, as far as the viewer needs it: the session list.

use gloo::net::http::Request;
use serde_json::Value;

/// One session in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// Session id (UUID).
    pub id: String,
    /// Display name, or the agent type when unnamed.
    pub name: String,
    /// Agent type (`claude`, `codex`, …).
    pub agent: String,
    /// `live`, `offline`, `ended`, … as the relay reports it.
    pub status: String,
    /// When it started (as the relay formats it).
    pub started: String,
    /// Viewers connected now, when the relay reports it.
    pub viewers: Option<u64>,
    /// The agent's exit status, once it ended.
    pub exit_status: Option<i64>,
}

/// Why the list could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The key was refused (401/403).
    Unauthorized,
    /// Anything else: network, server error, unexpected body.
    Failed(String),
}

/// `GET /api/v1/agent-instances` with the API key.
pub async fn list_sessions(key: &str) -> Result<Vec<SessionSummary>, ApiError> {
    let body = get_json("/api/v1/agent-instances", key).await?;
    Ok(parse_sessions(&body))
}

/// GET `url` with the API key; the body as JSON.
async fn get_json(url: &str, key: &str) -> Result<Value, ApiError> {
    let response = Request::get(url)
        .header("Authorization", &format!("Bearer {key}"))
        .send()
        .await
        .map_err(|err| ApiError::Failed(err.to_string()))?;
    match response.status() {
        401 | 403 => return Err(ApiError::Unauthorized),
        200..=299 => {}
        status => {
            let body = response.text().await.unwrap_or_default();
            let reason = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(ApiError::Failed(reason));
        }
    }
    response
        .json()
        .await
        .map_err(|err| ApiError::Failed(err.to_string()))
}

/// One entry of a session's message log ("started", exit notices, anything
/// the agent posted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    /// The text.
    pub content: String,
    /// Who posted it (`agent`, `user`).
    pub sender: String,
    /// When (as the relay formats it).
    pub created_at: String,
    /// Whether the agent waits for the person.
    pub requires_user_input: bool,
}

/// `GET /api/v1/agent-instances/{id}?message_limit=N`: the session's latest
/// messages, oldest first.
pub async fn session_messages(key: &str, id: &str) -> Result<Vec<SessionMessage>, ApiError> {
    let url = format!(
        "/api/v1/agent-instances/{}?message_limit=50",
        crate::link::encode_path_segment(id)
    );
    let body = get_json(&url, key).await?;
    Ok(parse_messages(&body))
}

/// Reads `messages` from a session's JSON, sorted oldest first.
pub fn parse_messages(body: &Value) -> Vec<SessionMessage> {
    let Some(items) = body.get("messages").and_then(Value::as_array) else {
        return Vec::new();
    };
    let text = |item: &Value, name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut messages: Vec<SessionMessage> = items
        .iter()
        .filter_map(|item| {
            let content = item.get("content")?.as_str()?.to_owned();
            Some(SessionMessage {
                content,
                sender: text(item, "sender_type"),
                created_at: text(item, "created_at"),
                requires_user_input: item
                    .get("requires_user_input")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect();
    messages.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    messages
}

/// Reads the session list from the body: a JSON array, or an object holding
/// one (`{"agent_instances": [...]}`). Entries without an id are skipped.
pub fn parse_sessions(body: &Value) -> Vec<SessionSummary> {
    let items = match body {
        Value::Array(items) => items.as_slice(),
        Value::Object(map) => map
            .values()
            .find_map(|v| v.as_array())
            .map(Vec::as_slice)
            .unwrap_or_default(),
        _ => &[],
    };
    let mut sessions: Vec<SessionSummary> = items.iter().filter_map(parse_session).collect();
    // Newest first; RFC 3339 timestamps sort as text.
    sessions.sort_by(|a, b| b.started.cmp(&a.started));
    sessions
}

fn parse_session(item: &Value) -> Option<SessionSummary> {
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| item.get(*name)?.as_str().filter(|s| !s.is_empty()))
            .map(str::to_owned)
    };
    let id = text(&["id", "agent_instance_id"])?;
    let agent = text(&["agent_type", "agent"]).unwrap_or_default();
    Some(SessionSummary {
        name: text(&["name", "agent_display_name"]).unwrap_or_else(|| agent.clone()),
        agent,
        status: text(&["status"]).unwrap_or_else(|| "unknown".into()),
        started: text(&["created_at", "started_at"]).unwrap_or_default(),
        viewers: ["viewers", "viewer_count"]
            .iter()
            .find_map(|name| item.get(*name)?.as_u64()),
        exit_status: item.get("exit_status").and_then(Value::as_i64),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_messages_oldest_first() {
        let body = serde_json::json!({"id": "a", "messages": [
            {"content": "exited 0", "sender_type": "agent", "created_at": "2026-01-01T00:00:02Z"},
            {"content": "started", "sender_type": "agent", "created_at": "2026-01-01T00:00:01Z",
             "requires_user_input": true},
            {"sender_type": "agent"}
        ]});
        let messages = parse_messages(&body);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].content, "started");
        assert!(messages[0].requires_user_input);
        assert_eq!(messages[1].content, "exited 0");
        assert!(parse_messages(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn parses_an_array_and_a_wrapped_list() {
        let body = serde_json::json!([
            {"id": "a", "agent_type": "claude", "status": "active", "created_at": "2026-01-01T00:00:00Z"},
            {"agent_instance_id": "b", "name": "fix tests", "agent_type": "codex",
             "status": "ended", "created_at": "2026-02-01T00:00:00Z", "viewer_count": 2},
            {"name": "no id"}
        ]);
        let sessions = parse_sessions(&body);
        assert_eq!(sessions.len(), 2);
        assert_eq!(sessions[0].id, "b");
        assert_eq!(sessions[0].name, "fix tests");
        assert_eq!(sessions[0].viewers, Some(2));
        assert_eq!(sessions[0].exit_status, None);
        assert_eq!(sessions[1].name, "claude");
        let wrapped = serde_json::json!({"agent_instances": [{"id": "c"}]});
        assert_eq!(parse_sessions(&wrapped)[0].status, "unknown");
        assert!(parse_sessions(&serde_json::json!("x")).is_empty());
    }
}
