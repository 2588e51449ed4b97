//! Why a relay connection could not be made, or ended.

use crate::api::ApiError;
use crate::printable::server_text;
use tokio_tungstenite::tungstenite;

/// Why a connection to the relay failed or dropped, in words for the log
/// and for the line printed at exit.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Registering the session late (the API was unreachable at start) failed.
    #[error("{}", registration_failed(.0))]
    Registration(ApiError),
    /// The registration task itself failed.
    #[error("{0}")]
    RegistrationTask(#[from] tokio::task::JoinError),
    /// The relay URL is not a WebSocket URL.
    #[error("bad relay URL {url}: {source}")]
    BadUrl {
        /// The relay URL given.
        url: String,
        /// What was wrong with it.
        source: tungstenite::Error,
    },
    /// The key cannot be sent in a header.
    #[error("the API key contains characters not allowed in a header")]
    KeyNotAHeader,
    /// TCP, TLS and the upgrade took too long.
    #[error("timed out")]
    ConnectTimeout,
    /// The upgrade failed or was refused.
    #[error("{}", refusal(.0))]
    Connect(tungstenite::Error),
    /// The relay sent no `ready` and ACK in time.
    #[error("no ready/ACK from the relay")]
    HandshakeTimeout,
    /// The relay closed the link (with its reason, when it gave one).
    #[error("the relay closed the link{}", .0.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Closed(Option<String>),
    /// Reading from the link failed.
    #[error("{0}")]
    Receive(tungstenite::Error),
    /// The relay reported an error during the handshake.
    #[error("relay: {0}")]
    Relay(String),
    /// The relay sent bytes that are not frames.
    #[error("{0}")]
    Decode(#[from] protocol::DecodeError),
    /// Sending on the link failed.
    #[error("send failed: {0}")]
    Send(tungstenite::Error),
    /// Nothing came from the relay (not even a pong) for too long.
    #[error("the relay stopped answering")]
    Silent,
    /// After the agent exited, the relay did not take the output in time.
    #[error("the relay did not take the output in time")]
    ExitDeadline,
    /// The last output could not be delivered.
    #[error("could not deliver the last output")]
    Undelivered,
}

impl LinkError {
    /// Whether the relay answered that it does not know the session (HTTP
    /// 404): it lost it, so the session must be registered again.
    pub fn is_unknown_session(&self) -> bool {
        matches!(self, Self::Connect(tungstenite::Error::Http(r)) if r.status() == 404)
    }
}

fn registration_failed(err: &ApiError) -> String {
    match err {
        ApiError::KeyRefused => err.to_string(),
        other => format!("registration failed: {other}"),
    }
}

fn refusal(err: &tungstenite::Error) -> String {
    match err {
        tungstenite::Error::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|body| server_text(&String::from_utf8_lossy(body)))
                .unwrap_or_default();
            match status.as_u16() {
                401 => "the relay refused the API key (run `tether --auth`)".into(),
                404 => format!("the relay does not know this session (HTTP 404) {body}"),
                _ => format!("the relay refused the link (HTTP {status}) {body}"),
            }
        }
        other => other.to_string(),
    }
}
