//! [`ApiError`]: a refusal with its HTTP status, answered as
//! [`ErrorBody`] (`{"error": "...", "detail": "..."}`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use protocol::api::ErrorBody;

use crate::lifecycle::OpenError;
use crate::store::StoreError;

/// An API error: a status and a reason for the client.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    /// Human-readable reason (no secrets).
    message: String,
}

impl ApiError {
    /// A refusal with `status` for `message`.
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
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
            OpenError::Budget(_) => Self::new(StatusCode::TOO_MANY_REQUESTS, e.to_string()),
            OpenError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody::new(self.message))).into_response()
    }
}
