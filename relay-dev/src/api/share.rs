//! `POST /api/v1/agent-instances/{id}/share`: a signed link to one session
//! with one role, for a time.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::api::{ShareRequest, ShareResponse};

use super::error::ApiError;
use super::{owned_session, parse_body, parse_id, user_of, ApiResult};
use crate::auth::ShareGrant;
use crate::server::{AppState, Shared};
use crate::time::{rfc3339, unix_now};

/// Longest lifetime of a share link: 30 days.
const MAX_TTL_SECS: u64 = 30 * 86_400;

/// `POST /api/v1/agent-instances/{id}/share`
pub(super) async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let body: ShareRequest = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&id)?).await?;
    let grant = ShareGrant {
        session_id: record.id,
        role: body.role,
        expires_at: unix_now() + body.ttl_secs.clamp(1, MAX_TTL_SECS),
    };
    let token = state
        .signer
        .mint_share_token(&grant)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not mint a token"))?;
    let base = public_base(&state, &headers);
    Ok(Json(ShareResponse {
        url: format!("{base}/s/{}#token={token}", record.id),
        token,
        expires_at: rfc3339(grant.expires_at),
        role: grant.role,
    })
    .into_response())
}

/// The relay's public base URL: `--public-url` when set, else from the
/// request (`Host`, and `X-Forwarded-Proto: https` behind a TLS proxy).
fn public_base(state: &Shared, headers: &HeaderMap) -> String {
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
