//! The REST API's bodies and answers under `/api/v1`, shaped like Omnara's:
//! the one definition the relay serves, the wrapper's client sends and the
//! viewer reads.
//!
//! Ids are UUIDs as text; times are RFC 3339 text (`2026-01-01T00:00:00Z`).
//! Unknown fields are ignored when reading, so a newer relay's answers still
//! parse.
//!
//! ```
//! use protocol::api::SessionInfo;
//! let json = r#"{"id":"a","agent_instance_id":"a","agent_type":"codex","name":null,
//!   "status":"live","created_at":"2026-01-01T00:00:00Z","last_activity":"2026-01-01T00:00:00Z",
//!   "ended_at":null,"exit_status":null,"viewer_count":2}"#;
//! let info: SessionInfo = serde_json::from_str(json).unwrap();
//! assert_eq!(info.display_name(), "codex");
//! assert_eq!(info.viewer_count, 2);
//! assert!(info.messages.is_none());
//! ```

use serde::{Deserialize, Serialize};

use crate::attention::AttentionState;
use crate::control::Role;

/// `POST /api/v1/agent-instances`: register a session, or re-attach to
/// `agent_instance_id` when given.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// `claude`, `codex`, `amp`, or a command name.
    pub agent_type: String,
    /// A display name chosen by the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The session to resume (`tether --resume ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_instance_id: Option<String>,
    /// How the agent streams: `ws`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
}

/// A session as the API shows it: the answer to a registration, one entry
/// of `GET /api/v1/agent-instances`, and (with `messages`) of
/// `GET /api/v1/agent-instances/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
    pub id: String,
    /// The same id, under Omnara's name for it.
    pub agent_instance_id: String,
    /// `claude`, `codex`, … as registered.
    pub agent_type: String,
    /// Display name, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// `live`, `offline` or `ended`.
    pub status: String,
    /// When it was registered.
    pub created_at: String,
    /// The last registration, link or message.
    pub last_activity: String,
    /// When it ended, if it did.
    #[serde(default)]
    pub ended_at: Option<String>,
    /// The agent's exit status, if known.
    #[serde(default)]
    pub exit_status: Option<i32>,
    /// Viewers connected now.
    #[serde(default)]
    pub viewer_count: u64,
    /// What the agent asks of the person now, once the wrapper said
    /// (`None` from relays that do not know it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionInfo>,
    /// The latest messages, oldest first (only when one session is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageInfo>>,
}

impl SessionInfo {
    /// The name to show: the display name, else the agent type.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|name| !name.is_empty())
            .unwrap_or(&self.agent_type)
    }
}

/// A session's attention as the API shows it.
///
/// ```
/// let json = r#"{"state":"waiting","text":"Allow edit?","offset":42,"since":"2026-01-01T00:00:00Z"}"#;
/// let info: protocol::api::AttentionInfo = serde_json::from_str(json).unwrap();
/// assert_eq!(info.state, protocol::AttentionState::Waiting);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionInfo {
    /// `working`, `waiting`, `idle` or `ended`.
    pub state: AttentionState,
    /// The notification's text (for `waiting`, when it had one).
    #[serde(default)]
    pub text: Option<String>,
    /// Stream offset at which the state began: with the session id, a
    /// wait's identity (a dashboard alerts once per wait).
    #[serde(default)]
    pub offset: Option<u64>,
    /// When the state began.
    pub since: String,
}

/// One entry of a session's message log ("started", exit notices, anything
/// the agent or the person posted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInfo {
    /// Message id.
    pub id: String,
    /// The text.
    pub content: String,
    /// Who posted it: `agent` or `user`.
    pub sender_type: String,
    /// Whether the agent waits for the person.
    #[serde(default)]
    pub requires_user_input: bool,
    /// When.
    pub created_at: String,
}

/// `POST /api/v1/messages/agent`: a message from the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessageRequest {
    /// The text.
    pub content: String,
    /// The session.
    pub agent_instance_id: String,
    /// The agent type, registering the session if it does not exist yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_type: Option<String>,
    /// Whether the agent waits for the person.
    #[serde(default)]
    pub requires_user_input: bool,
}

/// The answer to [`AgentMessageRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentMessageResponse {
    /// Always `true` on success.
    pub success: bool,
    /// The session.
    pub agent_instance_id: String,
    /// The new message's id.
    pub message_id: String,
    /// Messages from the person waiting for the agent (Omnara's field).
    #[serde(default)]
    pub queued_user_messages: Vec<MessageInfo>,
}

/// `POST /api/v1/messages/user`: a message from the person to the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMessageRequest {
    /// The text.
    pub content: String,
    /// The session.
    pub agent_instance_id: String,
}

/// The answer to [`UserMessageRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMessageResponse {
    /// Always `true` on success.
    pub success: bool,
    /// The new message's id.
    pub message_id: String,
    /// Whether the agent has read it (never, at once).
    pub marked_as_read: bool,
}

/// The answer to `GET /api/v1/messages/pending`: the person's messages after
/// the last one the agent read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMessages {
    /// The session.
    pub agent_instance_id: String,
    /// The messages, oldest first.
    pub messages: Vec<MessageInfo>,
    /// `ok`.
    pub status: String,
}

/// `POST /api/v1/sessions/end`: the agent exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRequest {
    /// The session.
    pub agent_instance_id: String,
    /// The agent's exit status, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
}

/// The answer to [`EndRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndResponse {
    /// Always `true` on success.
    pub success: bool,
    /// The session.
    pub agent_instance_id: String,
    /// `ended`.
    pub final_status: String,
}

/// `POST /api/v1/agent-instances/{id}/share`: mint a share link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRequest {
    /// What the link's holder may do.
    pub role: Role,
    /// Seconds until the link expires (default one day, at most
    /// [`MAX_TTL_SECS`](Self::MAX_TTL_SECS): longer asks are shortened).
    #[serde(default = "ShareRequest::default_ttl")]
    pub ttl_secs: u64,
}

impl ShareRequest {
    /// One day: the lifetime of a link when none is asked for.
    pub const DEFAULT_TTL_SECS: u64 = 86_400;
    /// Seven days: the longest lifetime a link gets.
    pub const MAX_TTL_SECS: u64 = 7 * 86_400;

    fn default_ttl() -> u64 {
        Self::DEFAULT_TTL_SECS
    }
}

/// The answer to [`ShareRequest`]: the link to hand out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareResponse {
    /// The link's id: what [`ShareInfo`] lists and
    /// `DELETE /api/v1/shares/{id}` revokes (not a secret).
    #[serde(default)]
    pub id: String,
    /// The share token (a secret: whoever holds it can watch).
    pub token: String,
    /// The viewer's address with the token in its fragment.
    pub url: String,
    /// When the link stops working.
    pub expires_at: String,
    /// What the link's holder may do.
    pub role: Role,
}

/// One active share link of a session, as `GET
/// /api/v1/agent-instances/{id}/shares` lists them (never the token).
/// `DELETE /api/v1/shares/{id}` revokes one: its open viewers are closed.
///
/// ```
/// use protocol::api::ShareInfo;
/// let json = r#"{"id":"5f1c","role":"read-only","created_at":"2026-01-01T00:00:00Z",
///   "expires_at":"2026-01-02T00:00:00Z","viewer_count":1}"#;
/// let share: ShareInfo = serde_json::from_str(json).unwrap();
/// assert_eq!((share.id.as_str(), share.viewer_count), ("5f1c", 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareInfo {
    /// The link's id.
    pub id: String,
    /// What the link's holder may do.
    pub role: Role,
    /// When it was made.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: String,
    /// Viewers connected with it now.
    #[serde(default)]
    pub viewer_count: u64,
}

/// One kept recording (relay `--keep-recordings`) of the caller's, as `GET
/// /api/v1/recordings` lists them, newest first; `GET
/// /api/v1/agent-instances/{session_id}/recording` downloads it.
///
/// ```
/// use protocol::api::RecordingInfo;
/// let json = r#"{"session_id":"6cff","name":"fix","agent_type":"claude",
///   "ended_at":"2026-01-01T00:00:00Z","bytes":1234}"#;
/// let kept: RecordingInfo = serde_json::from_str(json).unwrap();
/// assert_eq!((kept.session_id.as_str(), kept.bytes), ("6cff", 1234));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// The session it records.
    pub session_id: String,
    /// The session's name, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `claude`, `codex`, … as registered.
    #[serde(default)]
    pub agent_type: String,
    /// When the session ended (RFC 3339; when the file was written if the
    /// relay does not know).
    pub ended_at: String,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// `GET /api/v1/push/key`: the relay's VAPID public key (base64url), the
/// `applicationServerKey` a browser subscribes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKey {
    /// The uncompressed P-256 public key, base64url without padding.
    pub public_key: String,
}

/// `POST /api/v1/push/subscriptions`: a browser's push subscription, as
/// `PushSubscription.toJSON()` gives it (other fields are ignored).
///
/// ```
/// let json = r#"{"endpoint":"https://push.example/abc","expirationTime":null,
///   "keys":{"p256dh":"BPk…","auth":"x2…"}}"#;
/// let request: protocol::api::PushSubscriptionRequest = serde_json::from_str(json).unwrap();
/// assert_eq!(request.keys.auth, "x2…");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscriptionRequest {
    /// The push service's URL for this browser.
    pub endpoint: String,
    /// The browser's keys.
    pub keys: PushKeys,
}

/// A push subscription's keys (RFC 8291), base64url.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKeys {
    /// The browser's P-256 public key (65 bytes).
    pub p256dh: String,
    /// The authentication secret (16 bytes).
    pub auth: String,
}

/// One registered push subscription (never its endpoint, which is a secret
/// capability: only the push service's origin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscriptionInfo {
    /// Its id, for `DELETE /api/v1/push/subscriptions/{id}`.
    pub id: String,
    /// The push service, e.g. `https://fcm.googleapis.com`.
    pub origin: String,
    /// When it was registered.
    pub created_at: String,
}

/// Any refusal: `{"error": "...", "detail": "..."}` with a fitting status.
/// `detail` is where Omnara's client looks for the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Why, in words a person can act on.
    pub error: String,
    /// The same reason, for Omnara's client.
    #[serde(default)]
    pub detail: String,
}

impl ErrorBody {
    /// A refusal for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        let error = reason.into();
        Self {
            detail: error.clone(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_request_defaults_to_one_day() {
        let request: ShareRequest = serde_json::from_str(r#"{"role":"read-only"}"#).unwrap();
        assert_eq!(request.ttl_secs, ShareRequest::DEFAULT_TTL_SECS);
        assert_eq!(request.role, Role::ReadOnly);
    }

    #[test]
    fn share_answers_carry_the_link_id_and_older_ones_still_parse() {
        let share = ShareResponse {
            id: "5f1c".into(),
            token: "t".into(),
            url: "u".into(),
            expires_at: "e".into(),
            role: Role::ReadWrite,
        };
        assert_eq!(
            serde_json::to_value(&share).unwrap(),
            serde_json::json!({"id": "5f1c", "token": "t", "url": "u", "expires_at": "e", "role": "read-write"})
        );
        let older: ShareResponse =
            serde_json::from_str(r#"{"token":"t","url":"u","expires_at":"e","role":"read-only"}"#)
                .unwrap();
        assert_eq!(older.id, "");
    }

    #[test]
    fn register_request_sends_only_what_is_set() {
        let request = RegisterRequest {
            agent_type: "claude".into(),
            transport: Some("ws".into()),
            ..RegisterRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"agent_type":"claude","transport":"ws"}"#
        );
    }

    #[test]
    fn error_body_carries_the_reason_twice() {
        let json = serde_json::to_value(ErrorBody::new("no")).unwrap();
        assert_eq!(json, serde_json::json!({"error": "no", "detail": "no"}));
    }
}
