//! JSON payloads: session metadata (type 3) and control events (type 6).
//!
//! Unknown fields are ignored and unknown control types decode to
//! [`Control::Unknown`], so that older peers keep working with newer ones.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::attention::Attention;

/// How the relay treats a session's history when replaying it to a viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryPolicy {
    /// Replay history exactly as it was produced.
    #[default]
    Verbatim,
    /// Remove erase-in-display (`ESC [ J`, `ESC [ 0J` … `ESC [ 3J`) from
    /// replayed history so that a redraw does not wipe the rebuilt scrollback
    /// (Codex). Live output is never altered.
    StripEscJ,
}

impl HistoryPolicy {
    /// The policy an agent gets when its metadata names none: `strip_esc_j`
    /// for Codex (it redraws with erase-in-display), `verbatim` otherwise.
    /// The one place this rule is written.
    ///
    /// ```
    /// use protocol::HistoryPolicy;
    /// assert_eq!(HistoryPolicy::default_for("codex"), HistoryPolicy::StripEscJ);
    /// assert_eq!(HistoryPolicy::default_for("claude"), HistoryPolicy::Verbatim);
    /// ```
    pub fn default_for(agent: &str) -> Self {
        if agent == "codex" {
            Self::StripEscJ
        } else {
            Self::Verbatim
        }
    }
}

/// Session metadata, the payload of a METADATA frame.
///
/// Fields beyond the known ones are kept in `extra` and re-encoded, so a relay
/// forwards what a newer wrapper sent.
///
/// ```
/// let meta: protocol::Metadata =
///     serde_json::from_str(r#"{"agent":"codex","history_policy":"strip_esc_j","x":1}"#).unwrap();
/// assert_eq!(meta.agent, "codex");
/// assert_eq!(meta.history_policy, Some(protocol::HistoryPolicy::StripEscJ));
/// assert_eq!(meta.extra["x"], 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// The agent's kind: `claude`, `codex`, `amp`, or a command name.
    #[serde(default)]
    pub agent: String,
    /// The sending application (`tether`, or `omnara` for the legacy client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// A display name chosen by the person (`--name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_display_name: Option<String>,
    /// How history is replayed; `None` means the agent's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_policy: Option<HistoryPolicy>,
    /// Whether a person's terminal is attached to the wrapper (`false` when
    /// `tether` runs detached): viewers may then fit the session to their
    /// own screen. `None` from peers that do not say (the legacy client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_terminal: Option<bool>,
    /// Any other fields, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Metadata {
    /// The history policy in force: the explicit one, else the agent's
    /// default ([`HistoryPolicy::default_for`]).
    pub fn effective_history_policy(&self) -> HistoryPolicy {
        self.history_policy
            .unwrap_or_else(|| HistoryPolicy::default_for(&self.agent))
    }
}

/// What a viewer may do in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Watch only: INPUT and RESIZE are refused.
    ReadOnly,
    /// Watch, type and resize.
    ReadWrite,
}

/// A control event, the payload of a CONTROL frame: a JSON object whose
/// `type` field names the event.
///
/// ```
/// use protocol::Control;
/// let json = serde_json::to_string(&Control::Gap { from: 10, to: 20 }).unwrap();
/// assert_eq!(json, r#"{"type":"gap","from":10,"to":20}"#);
/// let unknown: Control = serde_json::from_str(r#"{"type":"from_the_future","a":1}"#).unwrap();
/// assert_eq!(unknown, Control::Unknown);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Control {
    /// Relay → wrapper: the link is accepted. For a legacy client this same
    /// JSON (`{"type":"ready"}`) is sent as a *text* message; a Tether wrapper
    /// receives it as a CONTROL frame followed by an ACK of what the relay
    /// already holds, from which the wrapper resends.
    Ready,
    /// Relay → viewer: the viewer's role in this session and, for a share
    /// link's viewer, who shared it (the session owner's user name).
    Role {
        /// Granted role.
        role: Role,
        /// Who shared the session, for a viewer on a share link; `None` for
        /// the owner (and from older relays).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shared_by: Option<String>,
    },
    /// Relay → viewer: history replay is done; live output follows.
    HistoryComplete {
        /// Stream offset at which live output starts.
        offset: u64,
    },
    /// Relay → viewer: bytes `from..to` are no longer kept and were skipped.
    Gap {
        /// First missing offset.
        from: u64,
        /// Offset at which the stream continues.
        to: u64,
    },
    /// Relay → viewer: the agent's link dropped; input is not delivered.
    AgentOffline,
    /// Relay → viewer: the agent's link is back.
    AgentOnline,
    /// Relay → viewer: the agent exited.
    SessionEnded {
        /// The agent's exit status, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_status: Option<i32>,
    },
    /// Wrapper → relay: the agent exited with this status.
    AgentExited {
        /// The agent's exit status, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_status: Option<i32>,
    },
    /// Relay → wrapper (Tether peers only): the viewer whose RESIZE is in
    /// force ("fit to screen") has left. The wrapper gives the size back to
    /// its local terminal, if one is attached.
    SizeReleased,
    /// Wrapper → relay → viewer: the session's attention state
    /// ([`Attention`]): working, waiting for the person (with the
    /// notification's text), idle, ended.
    Attention(Attention),
    /// Either direction: a request was refused or failed, for this reason.
    Error {
        /// A human-readable reason.
        reason: String,
    },
    /// Any event this version does not know; ignored by receivers.
    #[serde(other)]
    Unknown,
}
