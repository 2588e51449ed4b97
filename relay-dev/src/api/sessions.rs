//! Sessions: `POST /api/v1/agent-instances` (register or resume), `GET` the
//! list or one session with its latest messages, `POST /api/v1/sessions/end`.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::api::{EndRequest, EndResponse, RegisterRequest, SessionInfo};
use serde::Deserialize;
use uuid::Uuid;

use super::messages::message_info;
use super::{owned_session, parse_body, parse_id, user_of, ApiResult};
use crate::lifecycle::{self, Registration};
use crate::server::{AppState, Shared};
use crate::session::Liveness;
use crate::store::SessionRecord;
use crate::time::rfc3339;

/// A stored session as the API shows it, with what memory knows (liveness,
/// viewers).
pub(super) fn session_info(state: &Shared, record: &SessionRecord) -> SessionInfo {
    let in_memory = state.registry.get(record.id);
    let viewers = in_memory.as_ref().map_or(0, |s| s.viewer_count());
    let liveness = match &in_memory {
        _ if record.ended_at.is_some() => Liveness::Ended,
        Some(session) => session.liveness(),
        None => Liveness::Offline,
    };
    SessionInfo {
        id: record.id.to_string(),
        agent_instance_id: record.id.to_string(),
        agent_type: record.agent_type.clone(),
        name: record.name.clone(),
        status: liveness.as_str().to_string(),
        created_at: rfc3339(record.created_at),
        last_activity: rfc3339(record.last_activity),
        ended_at: record.ended_at.map(rfc3339),
        exit_status: record.exit_status,
        viewer_count: viewers as u64,
        messages: None,
    }
}

/// `POST /api/v1/agent-instances`
pub(super) async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let body: RegisterRequest = parse_body(&body)?;
    let id = match body.agent_instance_id.as_deref() {
        Some(text) => parse_id(text)?,
        None => Uuid::new_v4(),
    };
    let registration = Registration {
        agent_type: Some(&body.agent_type),
        name: body.name.as_deref(),
    };
    let record = lifecycle::open(&state, id, &user, registration).await?;
    Ok((StatusCode::CREATED, Json(session_info(&state, &record))).into_response())
}

/// `GET /api/v1/agent-instances`
pub(super) async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let sessions: Vec<SessionInfo> = state
        .store
        .sessions_of(user)
        .await?
        .iter()
        .map(|r| session_info(&state, r))
        .collect();
    Ok(Json(sessions).into_response())
}

/// Query of `GET /api/v1/agent-instances/{id}`.
#[derive(Deserialize)]
pub(super) struct ShowQuery {
    /// How many of the latest messages to include (default 50).
    message_limit: Option<usize>,
}

/// `GET /api/v1/agent-instances/{id}?message_limit=N`
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let record = owned_session(&state, &user, parse_id(&id)?).await?;
    let limit = query.message_limit.unwrap_or(50).min(1000);
    let messages = state.store.messages(record.id, limit).await?;
    let mut info = session_info(&state, &record);
    info.messages = Some(messages.iter().map(message_info).collect());
    Ok(Json(info).into_response())
}

/// `POST /api/v1/sessions/end`
pub(super) async fn end(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let body: EndRequest = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&body.agent_instance_id)?).await?;
    let session = state.registry.get_or_create(record.id);
    lifecycle::end(&state, &session, body.exit_status).await;
    Ok(Json(EndResponse {
        success: true,
        agent_instance_id: record.id.to_string(),
        final_status: "ended".into(),
    })
    .into_response())
}
