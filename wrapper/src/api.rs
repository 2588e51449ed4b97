//! The relay's REST API, as the wrapper uses it: register a session, end it,
//! check a key; share links ([`shares`]). Blocking (`ureq`), with short
//! timeouts.
//!
//! What the API answers is not trusted: the session id must be a UUID, and
//! error texts are kept only as [`server_text`] (escaped, cut short).

use crate::printable::server_text;
use protocol::api::{EndRequest, ErrorBody, RegisterRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

mod shares;

pub use shares::most_recent_live;

/// Time allowed for one API request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a recording could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The API refused or could not be reached.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The transfer or the file failed midway.
    #[error("the download failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Why an API call failed, in words a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API could not be reached at all.
    #[error("cannot reach the Tether API at {url}: {reason}")]
    Unreachable {
        /// Base URL tried.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The server's TLS certificate was not accepted.
    #[error("the TLS certificate of {url} was not accepted ({reason}); for a local test relay with a self-signed certificate pass --insecure-skip-tls-verify")]
    Certificate {
        /// Base URL tried.
        url: String,
        /// What TLS said.
        reason: String,
    },
    /// The key was refused (HTTP 401).
    #[error("the API key was refused: run `tether --auth` to store a valid one")]
    KeyRefused,
    /// The session does not exist (HTTP 404).
    #[error("unknown session {0}: check the id (`tether --resume ID`) or start a new session")]
    UnknownSession(String),
    /// The share link does not exist (HTTP 404 to a revocation).
    #[error("unknown share link {0}: `tether share --list` shows the working ones")]
    UnknownShare(String),
    /// A registration was answered with a session id that is not a UUID.
    #[error("the Tether API at {url} answered with a session id that is not a UUID ({id}); check --api-url")]
    BadSessionId {
        /// Base URL asked.
        url: String,
        /// What it sent instead, made printable.
        id: String,
    },
    /// Any other refusal.
    #[error("the Tether API refused the request (HTTP {status}): {reason}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The API's `error` text, or the body.
        reason: String,
    },
}

/// What the wrapper reads of a registration's answer: only the session id.
/// `tether-relay` answers with a whole [`protocol::api::SessionInfo`];
/// Omnara-shaped relays may send no more than this field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Registered {
    /// The session id (`agent_instance_id`).
    agent_instance_id: String,
}

/// A client of the API at one base URL with one key.
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    key: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client for `base` (e.g. `http://localhost:8080`); `insecure` skips
    /// TLS certificate verification (local testing only).
    pub fn new(base: &str, key: &str, insecure: bool) -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(insecure)
            .build();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .tls_config(tls)
            .build()
            .new_agent();
        Self {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            agent,
        }
    }

    /// `POST /api/v1/agent-instances`: registers a session, or re-attaches to
    /// `agent_instance_id` when given. Returns the session id, checked to be
    /// a UUID (and written the canonical way: lowercase, hyphenated).
    pub fn register(
        &self,
        agent_type: &str,
        name: Option<&str>,
        agent_instance_id: Option<&str>,
    ) -> Result<String, ApiError> {
        let body = RegisterRequest {
            agent_type: agent_type.to_string(),
            name: name.map(str::to_string),
            agent_instance_id: agent_instance_id.map(str::to_string),
            transport: Some("ws".into()),
        };
        let answer = self.post("/api/v1/agent-instances", &body, agent_instance_id)?;
        let registered: Registered = parsed(&answer)?;
        session_id(&registered.agent_instance_id).ok_or_else(|| ApiError::BadSessionId {
            url: self.base.clone(),
            id: format!("\"{}\"", server_text(&registered.agent_instance_id)),
        })
    }

    /// `GET /api/v1/agent-instances/{id}`: fails with
    /// [`ApiError::UnknownSession`] when the session does not exist (or is
    /// not this key's).
    pub fn check_session(&self, agent_instance_id: &str) -> Result<(), ApiError> {
        let path = format!("/api/v1/agent-instances/{agent_instance_id}?message_limit=0");
        match self.get(&path, Some(agent_instance_id)) {
            Err(ApiError::Refused {
                status: 400 | 403, ..
            }) => Err(ApiError::UnknownSession(agent_instance_id.to_string())),
            other => other.map(|_| ()),
        }
    }

    /// `POST /api/v1/sessions/end` with the agent's exit status.
    pub fn end_session(&self, agent_instance_id: &str, exit_status: i32) -> Result<(), ApiError> {
        let body = EndRequest {
            agent_instance_id: agent_instance_id.to_string(),
            exit_status: Some(exit_status),
        };
        self.post("/api/v1/sessions/end", &body, Some(agent_instance_id))
            .map(|_| ())
    }

    /// Checks the key with `GET /api/v1/agent-instances`.
    pub fn check_key(&self) -> Result<(), ApiError> {
        self.get("/api/v1/agent-instances", None).map(|_| ())
    }

    /// The newest session of this key's user (`GET /api/v1/agent-instances`).
    pub fn latest_session(&self) -> Result<String, ApiError> {
        let text = self.get("/api/v1/agent-instances?limit=1", None)?;
        let sessions: Vec<Registered> = serde_json::from_str(&text).unwrap_or_default();
        let newest = sessions.first().ok_or_else(|| ApiError::Refused {
            status: 404,
            reason: "this key has no sessions yet".into(),
        })?;
        session_id(&newest.agent_instance_id).ok_or_else(|| ApiError::BadSessionId {
            url: self.base.clone(),
            id: format!("\"{}\"", server_text(&newest.agent_instance_id)),
        })
    }

    /// `GET /api/v1/agent-instances/{id}/recording`, copied into `out` as it
    /// arrives (the answer must start within the usual timeout; the body may
    /// take as long as it takes: a long history is large);
    /// returns the bytes written.
    pub fn download_recording(
        &self,
        agent_instance_id: &str,
        out: &mut impl std::io::Write,
    ) -> Result<u64, DownloadError> {
        let url = format!(
            "{}/api/v1/agent-instances/{agent_instance_id}/recording",
            self.base
        );
        let response = self
            .agent
            .get(&url)
            .config()
            .timeout_global(None)
            .timeout_recv_response(Some(REQUEST_TIMEOUT))
            .build()
            .header("Authorization", &format!("Bearer {}", self.key))
            .call();
        let mut response = match response {
            Ok(response) if response.status().is_success() => response,
            other => {
                return Err(self
                    .answer(other, Some(agent_instance_id))
                    .err()
                    .unwrap_or(ApiError::Refused {
                        status: 0,
                        reason: "no answer".into(),
                    })
                    .into())
            }
        };
        let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
        Ok(std::io::copy(&mut body, out)?)
    }

    /// GETs `path`; the answer's body on success (`session`: the session a
    /// 404 is about).
    fn get(&self, path: &str, session: Option<&str>) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.key))
            .call();
        self.answer(response, session)
    }

    /// POSTs `body` as JSON; the answer's body on success.
    fn post(
        &self,
        path: &str,
        body: &impl Serialize,
        session: Option<&str>,
    ) -> Result<String, ApiError> {
        let url = format!("{}{path}", self.base);
        let body = serde_json::to_vec(body).map_err(|err| ApiError::Refused {
            status: 0,
            reason: format!("cannot encode the request: {err}"),
        })?;
        let response = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.key))
            .header("Content-Type", "application/json")
            .send(&body[..]);
        self.answer(response, session)
    }

    /// The body of a successful answer, or the error it means (`session`:
    /// the session a 404 is about).
    fn answer(
        &self,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        session: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut response = response.map_err(|err| {
            let reason = server_text(&err.to_string());
            if is_certificate_error(&err) {
                ApiError::Certificate {
                    url: self.base.clone(),
                    reason,
                }
            } else {
                ApiError::Unreachable {
                    url: self.base.clone(),
                    reason,
                }
            }
        })?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        match status {
            200..=299 => Ok(text),
            401 => Err(ApiError::KeyRefused),
            404 if session.is_some() => {
                Err(ApiError::UnknownSession(session.unwrap_or_default().into()))
            }
            _ => Err(ApiError::Refused {
                status,
                reason: serde_json::from_str::<ErrorBody>(&text)
                    .map_or_else(|_| server_text(&text), |body| server_text(&body.error)),
            }),
        }
    }
}

/// A successful answer's body as `T`.
fn parsed<T: DeserializeOwned>(answer: &str) -> Result<T, ApiError> {
    serde_json::from_str(answer).map_err(|err| ApiError::Refused {
        status: 200,
        reason: server_text(&format!("unexpected answer: {err}")),
    })
}

/// `text` as a session id: a UUID, in its canonical form; `None` otherwise.
pub fn session_id(text: &str) -> Option<String> {
    let id = uuid::Uuid::try_parse(text).ok()?;
    Some(id.hyphenated().to_string())
}

/// Whether a request failed on the server's certificate (rather than on
/// reaching the server at all).
fn is_certificate_error(err: &ureq::Error) -> bool {
    match err {
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => true,
        other => other
            .to_string()
            .to_ascii_lowercase()
            .contains("certificate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_must_be_uuids() {
        let id = "5D2F7A10-3C4B-4E8F-9A61-2B7C8D9E0F12";
        assert_eq!(session_id(id).as_deref(), Some(&*id.to_lowercase()));
        assert_eq!(session_id("x\x1b]0;pwned\x07"), None);
        assert_eq!(session_id("../../etc"), None);
        assert_eq!(session_id(""), None);
    }
}
