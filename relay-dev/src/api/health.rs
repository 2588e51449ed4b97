//! `GET /health` (open to all) and `GET /metrics` (Prometheus text; only
//! with an API key, `X-API-Key` or `Authorization: Bearer`, as Prometheus'
//! `authorization` scrape setting sends it).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::{user_of, ApiResult};
use crate::state::AppState;

/// The answer of `/health`: `{"status": "ok"}`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /health`
pub(super) async fn health() -> Response {
    Json(Health { status: "ok" }).into_response()
}

/// `GET /metrics`: 401 without a valid API key.
pub(super) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    user_of(&state, &headers).await?;
    let body = state.metrics.render(state.registry.len());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}
