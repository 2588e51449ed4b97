//! A session's message log: `POST /api/v1/messages/agent` (from the agent),
//! `POST /api/v1/messages/user` (from the person), and
//! `GET /api/v1/messages/pending` (the person's messages the agent has not
//! read). Content is at most 64 KiB; a session keeps its latest
//! `--max-messages` messages (older ones are dropped as new ones come).

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::Json;
use protocol::api::{
    AgentMessageRequest, AgentMessageResponse, MessageInfo, PendingMessages, UserMessageRequest,
    UserMessageResponse,
};
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::limits::{check_content, check_name, MAX_PAGE};
use super::{owned_session, parse_body, parse_id, user_of, ApiResult};
use crate::lifecycle::{self, Registration};
use crate::state::{AppState, Shared};
use crate::store::MessageRecord;
use crate::time::{rfc3339, unix_now};

/// A stored message as the API shows it.
pub(super) fn message_info(m: &MessageRecord) -> MessageInfo {
    MessageInfo {
        id: m.id.to_string(),
        content: m.content.clone(),
        sender_type: m.sender.clone(),
        requires_user_input: m.requires_user_input,
        created_at: rfc3339(m.created_at),
    }
}

/// Stores `message`, dropping its session's oldest beyond `--max-messages`.
async fn store_message(state: &Shared, message: MessageRecord) -> Result<(), ApiError> {
    let keep = state.config.max_messages.max(1);
    let session_id = message.session_id;
    state
        .store
        .call(move |s| {
            s.add_message(&message)?;
            s.trim_messages(session_id, keep)
        })
        .await?;
    Ok(())
}

/// `POST /api/v1/messages/agent`: registers the session first if it is new.
pub(super) async fn post_agent_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let body: AgentMessageRequest = parse_body(&body)?;
    check_content(&body.content)?;
    check_name("agent_type", body.agent_type.as_deref())?;
    let id = parse_id(&body.agent_instance_id)?;
    if state.store.session(id).await?.is_none() {
        let registration = Registration {
            agent_type: body.agent_type.as_deref(),
            name: None,
        };
        lifecycle::register(&state, id, &user, registration).await?;
    }
    owned_session(&state, &user, id).await?;
    let message = MessageRecord {
        id: Uuid::new_v4(),
        session_id: id,
        content: body.content,
        sender: "agent".into(),
        requires_user_input: body.requires_user_input,
        created_at: unix_now(),
    };
    let message_id = message.id;
    store_message(&state, message).await?;
    lifecycle::touch(&state, id).await;
    Ok(Json(AgentMessageResponse {
        success: true,
        agent_instance_id: id.to_string(),
        message_id: message_id.to_string(),
        queued_user_messages: Vec::new(),
    })
    .into_response())
}

/// `POST /api/v1/messages/user`: a message from the person (dashboard) to the agent.
pub(super) async fn post_user_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let body: UserMessageRequest = parse_body(&body)?;
    check_content(&body.content)?;
    let record = owned_session(&state, &user, parse_id(&body.agent_instance_id)?).await?;
    let message = MessageRecord {
        id: Uuid::new_v4(),
        session_id: record.id,
        content: body.content,
        sender: "user".into(),
        requires_user_input: false,
        created_at: unix_now(),
    };
    let message_id = message.id;
    store_message(&state, message).await?;
    Ok(Json(UserMessageResponse {
        success: true,
        message_id: message_id.to_string(),
        marked_as_read: false,
    })
    .into_response())
}

/// Query of `GET /api/v1/messages/pending`.
#[derive(Deserialize)]
pub(super) struct PendingQuery {
    /// The session.
    agent_instance_id: String,
    /// Only messages after this one.
    last_read_message_id: Option<String>,
}

/// `GET /api/v1/messages/pending`: the person's messages after the last one read.
pub(super) async fn pending_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PendingQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let record = owned_session(&state, &user, parse_id(&query.agent_instance_id)?).await?;
    let all = state.store.messages(record.id, MAX_PAGE).await?;
    let after = query
        .last_read_message_id
        .and_then(|id| all.iter().position(|m| m.id.to_string() == id))
        .map_or(0, |i| i + 1);
    let messages = all[after..]
        .iter()
        .filter(|m| m.sender == "user")
        .map(message_info)
        .collect();
    Ok(Json(PendingMessages {
        agent_instance_id: record.id.to_string(),
        messages,
        status: "ok".into(),
    })
    .into_response())
}
