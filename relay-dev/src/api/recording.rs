//! `GET /api/v1/agent-instances/{id}/recording`: the session's retained
//! history as an asciicast v3 file, streamed a chunk at a time, for its
//! owner and for holders of a read-write share link to it; once the session
//! left memory, its kept recording (`--keep-recordings`) if there is one.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use protocol::asciicast::{EventWriter, Header, MEDIA_TYPE};
use protocol::{Role, Size};

use super::error::ApiError;
use super::{parse_id, ApiResult};
use tokio::io::AsyncReadExt as _;

use crate::auth::{authenticate, credential_header, Principal};
use crate::kept_recordings::KeptRecordings;
use crate::metrics::add;
use crate::session::RecordingReader;
use crate::state::AppState;
use crate::store::SessionRecord;

/// `GET /api/v1/agent-instances/{id}/recording`
pub(super) async fn recording(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult {
    let id = parse_id(&id)?;
    let unknown = || ApiError::new(StatusCode::NOT_FOUND, "unknown session");
    let token = credential_header(&headers);
    let allowed = match authenticate(&state.signer, &state.store, token.as_deref()).await {
        Ok(Principal::User { user, .. }) => Some(user),
        Ok(Principal::Share(grant)) if grant.session_id == id => match grant.role {
            Role::ReadWrite => None,
            Role::ReadOnly => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "a read-only share link cannot download the recording",
                ))
            }
        },
        Ok(Principal::Share(_)) => return Err(unknown()),
        Err(e) => {
            add(&state.metrics.auth_failures, 1);
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, e.to_string()));
        }
    };
    let record = match state.store.session(id).await? {
        Some(record) if allowed.as_ref().is_none_or(|user| *user == record.user) => record,
        _ => return Err(unknown()),
    };
    let title = record.name.clone();
    let body = match state.registry.get(id) {
        Some(session) => {
            let mut reader = RecordingReader::new(session, title);
            let chunks = futures_util::stream::poll_fn(move |_| {
                std::task::Poll::Ready(reader.next_chunk().map(Ok::<_, std::io::Error>))
            });
            Body::from_stream(chunks)
        }
        None => match KeptRecordings::from_config(&state.config).and_then(|k| k.path_of(id)) {
            Some(path) => kept_file(&path).await?,
            None => Body::from(nothing_held(&record)),
        },
    };
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    let disposition = format!("attachment; filename=\"{}.cast\"", file_stem(&record));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A kept recording (`--keep-recordings`), streamed from its file.
async fn kept_file(path: &std::path::Path) -> Result<Body, ApiError> {
    let file = tokio::fs::File::open(path).await.map_err(|e| {
        tracing::warn!(path = %path.display(), %e, "kept recording unreadable");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "kept recording unreadable",
        )
    })?;
    // After a read error the stream ends (the state becomes `None`).
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 64 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok(Body::from_stream(chunks))
}

/// The recording of a session this relay holds no output of (it restarted,
/// or the session's history was dropped): a header and a marker saying so.
fn nothing_held(record: &SessionRecord) -> String {
    let mut header = Header::new(Size::new(24, 80));
    header.timestamp = Some(record.created_at);
    header.title = record.name.clone();
    let mut text = header.line();
    EventWriter::default().marker(
        0,
        "tether: the relay holds no output of this session",
        &mut text,
    );
    text
}

/// The file name's stem: the session's name with only safe characters
/// (letters, digits, `-`, `_`, `.`), else `tether-{id}`.
fn file_stem(record: &SessionRecord) -> String {
    let name: String = record
        .name
        .as_deref()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let name = name.trim_matches(['.', '_']);
    if name.is_empty() {
        format!("tether-{}", record.id)
    } else {
        name.to_string()
    }
}
