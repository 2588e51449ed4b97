//! `GET /health` and `GET /metrics` (Prometheus text).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::server::AppState;

/// The answer of `/health`: `{"status": "ok"}`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /health`
pub(super) async fn health() -> Response {
    Json(Health { status: "ok" }).into_response()
}

/// `GET /metrics`
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.registry.len());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
