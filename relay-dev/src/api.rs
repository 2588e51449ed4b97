//! The REST API under `/api/v1`, shaped like Omnara's: register, list, show
//! and end sessions, post messages, mint share links; plus `/health` and
//! `/metrics`. Handlers parse, authorize, call [`lifecycle`], the store or the
//! registry, and map
//! errors to `{"error": "..."}` with a fitting status.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::Role;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{authenticate, credential_header, Principal, ShareGrant};
use crate::lifecycle::{self, OpenError, Registration};
use crate::metrics::add;
use crate::session::Liveness;
use crate::store::{MessageRecord, SessionRecord, StoreError};
use crate::time::{rfc3339, unix_now};
use crate::AppState;

/// An API error: a status and a reason for the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable reason (no secrets).
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!("{e}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "storage error")
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::OtherUser => Self::new(StatusCode::FORBIDDEN, e.to_string()),
            OpenError::TooManySessions => Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            OpenError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // `detail` is where Omnara's client looks for the reason.
        let body = json!({ "error": self.message, "detail": self.message });
        (self.status, Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

/// The user behind a request's API key (share tokens are for viewers only).
fn user_of(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    match authenticate(
        &state.signer,
        &*state.store,
        credential_header(headers).as_deref(),
    ) {
        Ok(Principal::User { user, .. }) => Ok(user),
        Ok(Principal::Share(_)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "share tokens cannot use the API",
        )),
        Err(e) => {
            add(&state.metrics.auth_failures, 1);
            Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()))
        }
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed session id"))
}

fn session_json(state: &AppState, record: &SessionRecord) -> Value {
    let (liveness, viewers) = match state.registry.get(record.id) {
        Some(session) => {
            let s = session.lock();
            (s.liveness(), s.viewers)
        }
        None if record.ended_at.is_some() => (Liveness::Ended, 0),
        None => (Liveness::Offline, 0),
    };
    let liveness = if record.ended_at.is_some() {
        Liveness::Ended
    } else {
        liveness
    };
    json!({
        "id": record.id,
        "agent_instance_id": record.id,
        "agent_type": record.agent_type,
        "name": record.name,
        "status": liveness.as_str(),
        "created_at": rfc3339(record.created_at),
        "last_activity": rfc3339(record.last_activity),
        "ended_at": record.ended_at.map(rfc3339),
        "exit_status": record.exit_status,
        "viewer_count": viewers,
    })
}

#[derive(Deserialize)]
struct RegisterBody {
    agent_type: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    agent_instance_id: Option<String>,
}

/// `POST /api/v1/agent-instances`
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let body: RegisterBody = parse_body(&body)?;
    let id = match body.agent_instance_id.as_deref() {
        Some(text) => parse_id(text)?,
        None => Uuid::new_v4(),
    };
    let registration = Registration {
        agent_type: Some(&body.agent_type),
        name: body.name.as_deref(),
    };
    let record = lifecycle::open(&state, id, &user, registration)?;
    Ok((StatusCode::CREATED, Json(session_json(&state, &record))).into_response())
}

/// `GET /api/v1/agent-instances`
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let sessions: Vec<Value> = state
        .store
        .sessions_of(&user)?
        .iter()
        .map(|r| session_json(&state, r))
        .collect();
    Ok(Json(Value::Array(sessions)).into_response())
}

fn owned_session(state: &AppState, user: &str, id: Uuid) -> Result<SessionRecord, ApiError> {
    match state.store.session(id)? {
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "unknown session")),
        Some(record) if record.user != user => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "session belongs to another user",
        )),
        Some(record) => Ok(record),
    }
}

/// Query of `GET /api/v1/agent-instances/{id}`.
#[derive(Deserialize)]
pub struct ShowQuery {
    /// How many of the latest messages to include (default 50).
    pub message_limit: Option<usize>,
}

/// `GET /api/v1/agent-instances/{id}?message_limit=N`
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let record = owned_session(&state, &user, parse_id(&id)?)?;
    let limit = query.message_limit.unwrap_or(50).min(1000);
    let messages: Vec<Value> = state
        .store
        .messages(record.id, limit)?
        .iter()
        .map(message_json)
        .collect();
    let mut value = session_json(&state, &record);
    value["messages"] = Value::Array(messages);
    Ok(Json(value).into_response())
}

fn message_json(m: &MessageRecord) -> Value {
    json!({
        "id": m.id,
        "content": m.content,
        "sender_type": m.sender,
        "requires_user_input": m.requires_user_input,
        "created_at": rfc3339(m.created_at),
    })
}

#[derive(Deserialize)]
struct MessageBody {
    content: String,
    agent_instance_id: String,
    #[serde(default)]
    agent_type: Option<String>,
    #[serde(default)]
    requires_user_input: bool,
}

/// `POST /api/v1/messages/agent`
pub async fn post_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let body: MessageBody = parse_body(&body)?;
    let id = parse_id(&body.agent_instance_id)?;
    if state.store.session(id)?.is_none() {
        let registration = Registration {
            agent_type: body.agent_type.as_deref(),
            name: None,
        };
        lifecycle::open(&state, id, &user, registration)?;
    }
    owned_session(&state, &user, id)?;
    let message = MessageRecord {
        id: Uuid::new_v4(),
        session_id: id,
        content: body.content,
        sender: "agent".into(),
        requires_user_input: body.requires_user_input,
        created_at: unix_now(),
    };
    state.store.add_message(&message)?;
    lifecycle::touch(&state, id);
    Ok(Json(json!({
        "success": true,
        "agent_instance_id": id,
        "message_id": message.id,
        "queued_user_messages": [],
    }))
    .into_response())
}

#[derive(Deserialize)]
struct UserMessageBody {
    content: String,
    agent_instance_id: String,
}

/// `POST /api/v1/messages/user`: a message from the person (dashboard) to the agent.
pub async fn post_user_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let body: UserMessageBody = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&body.agent_instance_id)?)?;
    let message = MessageRecord {
        id: Uuid::new_v4(),
        session_id: record.id,
        content: body.content,
        sender: "user".into(),
        requires_user_input: false,
        created_at: unix_now(),
    };
    state.store.add_message(&message)?;
    Ok(
        Json(json!({ "success": true, "message_id": message.id, "marked_as_read": false }))
            .into_response(),
    )
}

/// Query of `GET /api/v1/messages/pending`.
#[derive(Deserialize)]
pub struct PendingQuery {
    /// The session.
    pub agent_instance_id: String,
    /// Only messages after this one.
    pub last_read_message_id: Option<String>,
}

/// `GET /api/v1/messages/pending`: the person's messages after the last one read.
pub async fn pending_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PendingQuery>,
) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let record = owned_session(&state, &user, parse_id(&query.agent_instance_id)?)?;
    let all = state.store.messages(record.id, 1000)?;
    let after = query
        .last_read_message_id
        .and_then(|id| all.iter().position(|m| m.id.to_string() == id))
        .map_or(0, |i| i + 1);
    let pending: Vec<Value> = all[after..]
        .iter()
        .filter(|m| m.sender == "user")
        .map(message_json)
        .collect();
    Ok(
        Json(json!({ "agent_instance_id": record.id, "messages": pending, "status": "ok" }))
            .into_response(),
    )
}

#[derive(Deserialize)]
struct EndBody {
    agent_instance_id: String,
    #[serde(default)]
    exit_status: Option<i32>,
}

/// `POST /api/v1/sessions/end`
pub async fn end(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let body: EndBody = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&body.agent_instance_id)?)?;
    let session = state.registry.get_or_create(record.id, &record.user);
    lifecycle::end(&state, &session, body.exit_status);
    Ok(Json(json!({
        "success": true,
        "agent_instance_id": record.id,
        "final_status": "ended",
    }))
    .into_response())
}

#[derive(Deserialize)]
struct ShareBody {
    role: Role,
    #[serde(default = "default_ttl")]
    ttl_secs: u64,
}

fn default_ttl() -> u64 {
    3600
}

/// `POST /api/v1/agent-instances/{id}/share`
pub async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers)?;
    let body: ShareBody = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&id)?)?;
    let ttl = body.ttl_secs.clamp(1, 30 * 86_400);
    let grant = ShareGrant {
        session_id: record.id,
        role: body.role,
        expires_at: unix_now() + ttl,
    };
    let token = state
        .signer
        .mint_share_token(&grant)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not mint a token"))?;
    let base = public_base(&state, &headers);
    Ok(Json(json!({
        "token": token,
        "url": format!("{base}/s/{}#token={token}", record.id),
        "expires_at": rfc3339(grant.expires_at),
        "role": grant.role,
    }))
    .into_response())
}

/// The relay's public base URL: `--public-url` when set, else from the
/// request (`Host`, and `X-Forwarded-Proto: https` behind a TLS proxy).
fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// `GET /health`
pub async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `GET /metrics`
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.registry.all().len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
