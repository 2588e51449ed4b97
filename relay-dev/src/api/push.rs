//! Web Push registration: `GET /api/v1/push/key` (the relay's VAPID public
//! key), `POST /api/v1/push/subscriptions` (a browser's subscription, stored
//! for the caller's user), `GET` the list (origins only, never endpoints) and
//! `DELETE /api/v1/push/subscriptions/{id}`. A user keeps at most
//! [`MAX_SUBSCRIPTIONS`] (the oldest goes when a new one comes), each within
//! [`MAX_ENDPOINT_BYTES`] and keys of their exact sizes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use protocol::api::{PushKey, PushSubscriptionInfo, PushSubscriptionRequest};
use uuid::Uuid;

use super::error::ApiError;
use super::{parse_body, user_of, ApiResult};
use crate::push::{origin, PushService};
use crate::state::{AppState, Shared};
use crate::store::PushSubscriptionRecord;
use crate::time::{rfc3339, unix_now};

/// Subscriptions one user keeps (browsers, phones).
pub(super) const MAX_SUBSCRIPTIONS: usize = 10;
/// Longest endpoint URL accepted.
pub(super) const MAX_ENDPOINT_BYTES: usize = 2048;

fn push_of(state: &Shared) -> Result<&PushService, ApiError> {
    state.push.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Web Push is off on this relay (no data directory for its key)",
        )
    })
}

/// Whether `text` is base64url (padding allowed) of exactly `len` bytes.
fn decodes_to(text: &str, len: usize, first: Option<u8>) -> bool {
    let text = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(text)
        .is_ok_and(|bytes| bytes.len() == len && first.is_none_or(|f| bytes[0] == f))
}

/// `GET /api/v1/push/key`
pub(super) async fn key(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    user_of(&state, &headers).await?;
    let public_key = push_of(&state)?.public_key();
    Ok(Json(PushKey { public_key }).into_response())
}

/// `POST /api/v1/push/subscriptions`
pub(super) async fn subscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let push = push_of(&state)?;
    let body: PushSubscriptionRequest = parse_body(&body)?;
    let bad = |why: &str| Err(ApiError::new(StatusCode::BAD_REQUEST, why.to_string()));
    if body.endpoint.len() > MAX_ENDPOINT_BYTES {
        return bad("endpoint is longer than 2048 bytes");
    }
    if !push.accepts_endpoint(&body.endpoint) {
        return bad("endpoint must be an https:// URL");
    }
    if !decodes_to(&body.keys.p256dh, 65, Some(4)) {
        return bad("keys.p256dh must be an uncompressed P-256 public key (base64url)");
    }
    if !decodes_to(&body.keys.auth, 16, None) {
        return bad("keys.auth must be 16 bytes (base64url)");
    }
    let record = PushSubscriptionRecord {
        id: Uuid::new_v4().to_string(),
        user: user.clone(),
        endpoint: body.endpoint,
        p256dh: body.keys.p256dh,
        auth: body.keys.auth,
        created_at: unix_now(),
    };
    let info = info(&record);
    state
        .store
        .call(move |s| {
            s.put_push_subscription(&record)?;
            let all = s.push_subscriptions_of(&user)?;
            let excess = all.len().saturating_sub(MAX_SUBSCRIPTIONS);
            for old in &all[..excess] {
                s.delete_push_subscription(&user, &old.id)?;
            }
            Ok(())
        })
        .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

fn info(record: &PushSubscriptionRecord) -> PushSubscriptionInfo {
    PushSubscriptionInfo {
        id: record.id.clone(),
        origin: origin(&record.endpoint).unwrap_or_default().to_string(),
        created_at: rfc3339(record.created_at),
    }
}

/// `GET /api/v1/push/subscriptions`
pub(super) async fn list(State(state): State<AppState>, headers: HeaderMap) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let all = state
        .store
        .call(move |s| s.push_subscriptions_of(&user))
        .await?;
    let infos: Vec<PushSubscriptionInfo> = all.iter().map(info).collect();
    Ok(Json(infos).into_response())
}

/// `DELETE /api/v1/push/subscriptions/{id}`
pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let deleted = state
        .store
        .call(move |s| s.delete_push_subscription(&user, &id))
        .await?;
    if !deleted {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown push subscription",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
