//! WebSocket transports — plumbing between sockets and sessions: the agent's
//! link ([`agent`]) and viewers' links ([`viewer`]) authorize, pump frames
//! between the socket and the session, keep the link alive and close it
//! with the right code. What both share: the upgrade and the two dialects
//! ([`upgrade`]) and its Origin check ([`origin`]), the socket ([`link`]),
//! the reasons a running link must close ([`close_watch`]), viewers' input
//! budgets ([`crate::input_rate`]), frame decoding and the close codes (here).
//! Viewers of a session another node owns are relayed there ([`proxy`]).

mod agent;
mod close_watch;
mod deflate;
mod link;
mod origin;
mod proxy;
mod upgrade;
mod viewer;

use axum::routing::any;
use axum::Router;
use protocol::{DecodeError, Decoder, Frame};

use crate::config::Config;
use crate::metrics::add;
use crate::state::{AppState, Shared};
use link::{LinkTiming, SendFailure};

/// Normal closure.
const CLOSE_NORMAL: u16 = 1000;
/// The relay is shutting down.
const CLOSE_GOING_AWAY: u16 = 1001;
/// A malformed frame.
const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Auth or policy refusal.
const CLOSE_POLICY: u16 = 1008;
/// A frame over the payload limit.
const CLOSE_TOO_BIG: u16 = 1009;
/// The session moved to another node (or the node serving it went away):
/// reconnect, and be served from where it is now.
const CLOSE_SERVICE_RESTART: u16 = 1012;
/// A limit of the relay's is reached (memory budget, …): try again later.
const CLOSE_TRY_AGAIN: u16 = 1013;

/// The WebSocket routes: `/agent` and `/terminal/{id}`, refused (403) to
/// pages of foreign origins ([`origin`]).
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/agent", any(agent::upgrade))
        .route("/terminal/{id}", any(viewer::upgrade))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            origin::check_origin,
        ))
}

/// Why a link must close: a WebSocket close code and a reason for the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CloseReason {
    /// Close code.
    code: u16,
    /// Reason text (no secrets).
    reason: String,
}

impl CloseReason {
    /// A close with `code` and `reason`.
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// A refusal (1008) for `reason`.
    fn policy(reason: impl Into<String>) -> Self {
        Self::new(CLOSE_POLICY, reason)
    }

    /// The session moved to another node, or the node serving it went
    /// away (1012): reconnect.
    fn moved() -> Self {
        Self::new(
            CLOSE_SERVICE_RESTART,
            "session moved to another node: reconnect",
        )
    }

    /// The relay is shutting down (1001).
    fn going_away() -> Self {
        Self::new(CLOSE_GOING_AWAY, "relay shutting down")
    }
}

/// The send timeout and ping interval of every link.
fn link_timing(config: &Config) -> LinkTiming {
    LinkTiming {
        send_timeout: config.send_timeout(),
        ping_every: config.ping_every(),
    }
}

/// The close to send after a failed send, if any: a stalled peer (counted
/// and logged) or a vanished one gets none.
fn close_after(state: &Shared, failure: SendFailure, who: &str) -> Option<CloseReason> {
    match failure {
        SendFailure::Close(why) => Some(why),
        SendFailure::Stalled => {
            add(&state.metrics.links_stalled, 1);
            tracing::info!("dropping {who} link: it stopped reading (send timed out)");
            None
        }
        SendFailure::Gone => None,
    }
}

/// Decodes one binary message into frames. Unknown frame types are skipped
/// (and counted as dropped); malformed frames give 1002, oversize ones 1009.
fn decode_frames(message: &[u8], state: &Shared) -> Result<Vec<Frame>, CloseReason> {
    let mut decoder = Decoder::new(state.config.max_frame);
    decoder.push(message);
    let mut frames = Vec::new();
    let malformed =
        |e: DecodeError| CloseReason::new(CLOSE_PROTOCOL_ERROR, format!("malformed frame: {e}"));
    loop {
        match decoder.next_frame() {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => break,
            Err(DecodeError::UnknownType { .. }) => add(&state.metrics.frames_dropped, 1),
            Err(e @ DecodeError::Oversize { .. }) => {
                return Err(CloseReason::new(CLOSE_TOO_BIG, e.to_string()))
            }
            Err(e) => return Err(malformed(e)),
        }
    }
    decoder.finish().map_err(malformed)?;
    Ok(frames)
}
