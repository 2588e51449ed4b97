//! `GET /api/v1/recordings`: the caller's kept recordings (`--keep-recordings`),
//! newest first; each downloads from the session's recording endpoint.
//! Empty when the relay keeps none.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use protocol::api::RecordingInfo;

use super::error::ApiError;
use super::user_of;
use crate::kept_recordings::KeptRecordings;
use crate::state::AppState;
use crate::time::rfc3339;

/// `GET /api/v1/recordings`
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Vec<RecordingInfo>>, ApiError> {
    let user = user_of(&state, &headers).await?;
    let Some(kept) = KeptRecordings::from_config(&state.config) else {
        return Ok(Json(Vec::new()));
    };
    let files = kept.list().await.map_err(|e| {
        tracing::warn!(%e, "kept recordings unreadable");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "kept recordings unreadable",
        )
    })?;
    let owner = user.clone();
    let sessions: HashMap<_, _> = state
        .store
        .call(move |s| s.sessions_of(&owner))
        .await?
        .into_iter()
        .map(|record| (record.id, record))
        .collect();
    // Only the caller's: a file of another user's session is not named.
    let mut listed: Vec<(u64, RecordingInfo)> = files
        .into_iter()
        .filter_map(|file| {
            let record = sessions.get(&file.id)?;
            let written = file
                .modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let ended = record.ended_at.unwrap_or(written);
            let info = RecordingInfo {
                session_id: file.id.to_string(),
                name: record.name.clone(),
                agent_type: record.agent_type.clone(),
                ended_at: rfc3339(ended),
                bytes: file.bytes,
            };
            Some((ended, info))
        })
        .collect();
    listed.sort_by_key(|(ended, _)| std::cmp::Reverse(*ended));
    Ok(Json(listed.into_iter().map(|(_, info)| info).collect()))
}
