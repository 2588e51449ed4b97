//! The REST API under `/api/v1`, shaped like Omnara's: register, list, show
//! and end sessions ([`sessions`]), post and read messages ([`messages`]),
//! mint, list and revoke share links ([`share`]), download a session's
//! history as an asciicast v3 recording ([`recording`]), list the kept
//! recordings ([`kept`]), register browsers
//! for Web Push ([`push`]); plus `/health` and
//! `/metrics` (with an API key) ([`health`]). Another user's session is
//! answered exactly as an unknown one (404).
//! Bodies and answers are [`protocol::api`]'s types. Handlers parse,
//! authorize, call [`lifecycle`](crate::lifecycle), the store or the
//! registry, and map errors to `{"error": "...", "detail": "..."}` with a
//! fitting status ([`error`]). What a request may store and how long a list
//! may be: [`limits`].

mod error;
mod health;
mod kept;
mod limits;
mod messages;
mod push;
mod recording;
mod sessions;
mod share;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::auth::{authenticate, credential_header, Principal};
use crate::metrics::add;
use crate::state::{AppState, Shared};
use crate::store::SessionRecord;
use error::ApiError;

/// The API's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/agent-instances",
            post(sessions::register).get(sessions::list),
        )
        .route("/api/v1/agent-instances/{id}", get(sessions::show))
        .route(
            "/api/v1/agent-instances/{id}/recording",
            get(recording::recording),
        )
        .route("/api/v1/recordings", get(kept::list))
        .route("/api/v1/agent-instances/{id}/share", post(share::share))
        .route("/api/v1/agent-instances/{id}/shares", get(share::list))
        .route("/api/v1/shares/{share_id}", delete(share::revoke))
        .route("/api/v1/messages/agent", post(messages::post_agent_message))
        .route("/api/v1/messages/user", post(messages::post_user_message))
        .route("/api/v1/messages/pending", get(messages::pending_messages))
        .route("/api/v1/sessions/end", post(sessions::end))
        .route("/api/v1/push/key", get(push::key))
        .route(
            "/api/v1/push/subscriptions",
            post(push::subscribe).get(push::list),
        )
        .route("/api/v1/push/subscriptions/{id}", delete(push::unsubscribe))
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics))
}

/// A handler's answer: a response, or a refusal with its status.
type ApiResult = Result<axum::response::Response, ApiError>;

/// The user behind a request's API key (share tokens are for viewers only).
async fn user_of(state: &Shared, headers: &HeaderMap) -> Result<String, ApiError> {
    Ok(caller(state, headers).await?.0)
}

/// The user and key id behind a request's API key.
async fn caller(state: &Shared, headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let token = credential_header(headers);
    match authenticate(&state.signer, &state.store, token.as_deref()).await {
        Ok(Principal::User { user, key_id }) => Ok((user, key_id)),
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

/// A JSON body, or 400 saying what is wrong with it.
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

/// A session id, or 400.
fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "malformed session id"))
}

/// Session `id` if `user` owns it; 404 otherwise, the same for another
/// user's session as for an unknown one (ids are not to be probed).
async fn owned_session(state: &Shared, user: &str, id: Uuid) -> Result<SessionRecord, ApiError> {
    match state.store.session(id).await? {
        Some(record) if record.user == user => Ok(record),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "unknown session")),
    }
}
