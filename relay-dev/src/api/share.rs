//! Share links: `POST /api/v1/agent-instances/{id}/share` mints a signed link
//! to one session with one role, for a time (default one day, at most seven);
//! `GET /api/v1/agent-instances/{id}/shares` lists the session's working links
//! with the viewers each has open; `DELETE /api/v1/shares/{share_id}` revokes
//! one, closing its viewers at once. Only the session's owner may do any of
//! this.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use protocol::api::{ShareInfo, ShareRequest, ShareResponse};

use super::error::ApiError;
use super::sessions::presence_of;
use super::{caller, owned_session, parse_body, parse_id, user_of, ApiResult};
use crate::cluster::Presence;
use crate::state::{AppState, Shared};
use crate::store::ShareRecord;
use crate::time::{rfc3339, unix_now};

/// Working share links one session may have at once.
const MAX_ACTIVE_SHARES: usize = 64;

/// `POST /api/v1/agent-instances/{id}/share`
pub(super) async fn share(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let (user, key_id) = caller(&state, &headers).await?;
    let body: ShareRequest = parse_body(&body)?;
    let record = owned_session(&state, &user, parse_id(&id)?).await?;
    let now = unix_now();
    if state.store.active_shares(record.id, now).await?.len() >= MAX_ACTIVE_SHARES {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("this session has {MAX_ACTIVE_SHARES} working share links: revoke one first"),
        ));
    }
    let ttl = body.ttl_secs.clamp(1, ShareRequest::MAX_TTL_SECS);
    let (token, grant) = state
        .signer
        .mint_share(&key_id, record.id, body.role, now + ttl)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "could not mint a token"))?;
    let answer = ShareResponse {
        id: grant.id.clone(),
        url: format!(
            "{}/s/{}#token={token}",
            public_base(&state, &headers),
            record.id
        ),
        token,
        expires_at: rfc3339(grant.expires_at),
        role: grant.role,
    };
    state.store.insert_share(grant).await?;
    Ok(Json(answer).into_response())
}

/// `GET /api/v1/agent-instances/{id}/shares`: the working links, oldest first.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let record = owned_session(&state, &user, parse_id(&id)?).await?;
    let shares = state.store.active_shares(record.id, unix_now()).await?;
    let presence = presence_of(&state, std::slice::from_ref(&record)).await;
    let owner = presence.as_ref().map(|p| p.get(&record.id));
    let list: Vec<ShareInfo> = shares
        .iter()
        .map(|s| share_info(&state, s, owner))
        .collect();
    Ok(Json(list).into_response())
}

/// `DELETE /api/v1/shares/{share_id}`: 204, or 404 for a link that is
/// unknown or on another user's session.
pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(share_id): Path<String>,
) -> ApiResult {
    let user = user_of(&state, &headers).await?;
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "unknown share link");
    let grant = state
        .store
        .share(share_id.clone())
        .await?
        .ok_or_else(unknown)?;
    owned_session(&state, &user, grant.session_id)
        .await
        .map_err(|_| unknown())?;
    state.store.revoke_share(share_id).await?;
    // Close its viewers now rather than at the next housekeeping tick,
    // here and on the other nodes.
    state.refresh_revocations().await;
    if let Some(cluster) = &state.cluster {
        cluster.publish_revocation().await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A stored grant as the API lists it, with its viewers: as the session's
/// owner reports them (`owner`, with several nodes: `Some(None)` when no
/// node holds the session), else as counted here.
fn share_info(state: &Shared, share: &ShareRecord, owner: Option<Option<&Presence>>) -> ShareInfo {
    let viewers = match owner {
        Some(presence) => presence.and_then(|p| p.shares.get(&share.id).copied()),
        None => Some(state.share_viewers.count(&share.id) as u64),
    };
    ShareInfo {
        id: share.id.clone(),
        role: share.role,
        created_at: rfc3339(share.created_at),
        expires_at: rfc3339(share.expires_at),
        viewer_count: viewers.unwrap_or(0),
    }
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
