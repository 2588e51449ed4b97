//! Sessions: `POST /api/v1/agent-instances` (register or resume), `GET` the
//! list (`?limit=&offset=`) or one session with its latest messages
//! (`?message_limit=&before=`), `POST /api/v1/sessions/end`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::api::{AttentionInfo, EndRequest, EndResponse, RegisterRequest, SessionInfo};
use protocol::AttentionState;
use serde::Deserialize;
use uuid::Uuid;

use super::error::ApiError;
use super::limits::{check_name, MAX_PAGE};
use super::messages::message_info;
use super::{owned_session, parse_body, parse_id, user_of, ApiResult};
use crate::cluster::Presence;
use crate::lifecycle::{self, Registration};
use crate::session::{AttentionNow, Liveness};
use crate::state::{AppState, Shared};
use crate::store::SessionRecord;
use crate::time::rfc3339;

/// Liveness, viewers and attention of `records` across the nodes, when
/// there are several (`--redis-url`) and Redis answers: each session as its
/// owner reports it. `None`: from this node's memory.
pub(super) async fn presence_of(
    state: &Shared,
    records: &[SessionRecord],
) -> Option<HashMap<Uuid, Presence>> {
    let cluster = state.cluster.as_ref()?;
    let open: Vec<Uuid> = records
        .iter()
        .filter(|r| r.ended_at.is_none())
        .map(|r| r.id)
        .collect();
    cluster.presence(&open).await
}

/// A stored session as the API shows it, with its liveness, viewers and
/// attention: from the nodes' `presence` when there are several, else from
/// memory.
pub(super) fn session_info(
    state: &Shared,
    record: &SessionRecord,
    presence: Option<&HashMap<Uuid, Presence>>,
) -> SessionInfo {
    let (liveness, viewers, attention) = match presence {
        // Across nodes, only owners report (the session is the same on
        // every node's list); no node reports an offline session.
        Some(presence) => match presence.get(&record.id) {
            _ if record.ended_at.is_some() => (Liveness::Ended, 0, None),
            Some(p) => (Liveness::Live, p.viewers, p.attention.clone()),
            None => (Liveness::Offline, 0, None),
        },
        None => {
            let in_memory = state.registry.get(record.id);
            let viewers = in_memory.as_ref().map_or(0, |s| s.viewer_count() as u64);
            let liveness = match &in_memory {
                _ if record.ended_at.is_some() => Liveness::Ended,
                Some(session) => session.liveness(),
                None => Liveness::Offline,
            };
            (liveness, viewers, in_memory.and_then(|s| s.attention()))
        }
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
        viewer_count: viewers,
        attention: attention_info(attention, record),
        messages: None,
    }
}

/// The session's attention: `now`, else `ended` for a session the store
/// says ended.
fn attention_info(now: Option<AttentionNow>, record: &SessionRecord) -> Option<AttentionInfo> {
    match now {
        Some(now) => Some(AttentionInfo {
            state: now.attention.state,
            text: now.attention.text,
            offset: now.attention.offset,
            since: rfc3339(now.since),
        }),
        None => record.ended_at.map(|at| AttentionInfo {
            state: AttentionState::Ended,
            text: None,
            offset: None,
            since: rfc3339(at),
        }),
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
    check_name("agent_type", Some(&body.agent_type))?;
    check_name("name", body.name.as_deref())?;
    let id = match body.agent_instance_id.as_deref() {
        Some(text) => parse_id(text)?,
        None => Uuid::new_v4(),
    };
    let registration = Registration {
        agent_type: Some(&body.agent_type),
        name: body.name.as_deref(),
    };
    let record = lifecycle::register(&state, id, &user, registration).await?;
    let presence = presence_of(&state, std::slice::from_ref(&record)).await;
    let info = session_info(&state, &record, presence.as_ref());
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// Query of `GET /api/v1/agent-instances`.
#[derive(Deserialize)]
pub(super) struct ListQuery {
    /// How many sessions to answer (default and most: 1000).
    limit: Option<usize>,
    /// How many of the newest to skip first (default 0).
    offset: Option<usize>,
}

/// `GET /api/v1/agent-instances?limit=N&offset=M`: the user's sessions,
/// newest first.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let limit = query.limit.unwrap_or(MAX_PAGE).min(MAX_PAGE);
    let offset = query.offset.unwrap_or(0);
    let records = state
        .store
        .call(move |s| s.sessions_page(&user, limit, offset))
        .await?;
    let presence = presence_of(&state, &records).await;
    let sessions: Vec<SessionInfo> = records
        .iter()
        .map(|r| session_info(&state, r, presence.as_ref()))
        .collect();
    Ok(Json(sessions).into_response())
}

/// Query of `GET /api/v1/agent-instances/{id}`.
#[derive(Deserialize)]
pub(super) struct ShowQuery {
    /// How many of the latest messages to include (default 50, at most 1000).
    message_limit: Option<usize>,
    /// Only messages older than the one with this id (the next page back).
    before: Option<String>,
}

/// `GET /api/v1/agent-instances/{id}?message_limit=N&before=MESSAGE_ID`
pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let record = owned_session(&state, &user, parse_id(&id)?).await?;
    let limit = query.message_limit.unwrap_or(50).min(MAX_PAGE);
    let before = match query.before.as_deref() {
        None => None,
        Some(text) => Some(
            Uuid::parse_str(text)
                .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed message id"))?,
        ),
    };
    let id = record.id;
    let messages = state
        .store
        .call(move |s| s.messages_before(id, limit, before))
        .await?;
    let presence = presence_of(&state, std::slice::from_ref(&record)).await;
    let mut info = session_info(&state, &record, presence.as_ref());
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
    let session = state
        .registry
        .get_or_create_ended(record.id, &record.user, body.exit_status);
    lifecycle::end(&state, &session, body.exit_status).await;
    Ok(Json(EndResponse {
        success: true,
        agent_instance_id: record.id.to_string(),
        final_status: "ended".into(),
    })
    .into_response())
}
