//! A session's *attention*: whether the agent is working, waits for the
//! person, has gone quiet, or has ended. The wrapper reports it (CONTROL
//! `attention`, wrapper → relay); the relay keeps it per session, forwards it
//! to viewers (relay → viewer) and shows it in the API.

use serde::{Deserialize, Serialize};

/// Longest notification text kept, in bytes (longer texts are cut at a
/// character boundary).
pub const MAX_ATTENTION_TEXT: usize = 1024;

/// What the agent asks of the person now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionState {
    /// The agent is printing: nothing to do.
    Working,
    /// The agent asked for the person (a notification sequence or BEL).
    Waiting,
    /// The agent printed nothing for a while after printing.
    Idle,
    /// The agent exited.
    Ended,
}

impl AttentionState {
    /// The word used on the wire and in the API: `working`, `waiting`,
    /// `idle`, `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::Waiting => "waiting",
            Self::Idle => "idle",
            Self::Ended => "ended",
        }
    }
}

/// The payload of CONTROL `attention`: the state, the notification's text
/// (for `waiting`, when it had one) and the stream offset at which the state
/// began. The offset is a wait's identity: the same wait reported again
/// after a reconnect carries the same offset, so it is never alerted twice.
///
/// ```
/// use protocol::{Attention, AttentionState, Control};
/// let wait = Attention::new(AttentionState::Waiting, Some("Allow edit?".into()), Some(42));
/// let json = serde_json::to_string(&Control::Attention(wait)).unwrap();
/// assert_eq!(json, r#"{"type":"attention","state":"waiting","text":"Allow edit?","offset":42}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// The state.
    pub state: AttentionState,
    /// The notification's text, at most [`MAX_ATTENTION_TEXT`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Stream offset (of OUTPUT) at which this state began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Attention {
    /// A report; `text` is cut to [`MAX_ATTENTION_TEXT`] bytes and dropped
    /// when empty.
    pub fn new(state: AttentionState, text: Option<String>, offset: Option<u64>) -> Self {
        Self {
            state,
            text: text.map(truncate_text).filter(|t| !t.is_empty()),
            offset,
        }
    }

    /// The same report with its text within the limit (for reports from peers).
    pub fn within_limits(self) -> Self {
        Self::new(self.state, self.text, self.offset)
    }

    /// The label of this change as a recording's marker (`waiting: TEXT`,
    /// `working`, `idle`); `None` for the end, which has its own event.
    ///
    /// ```
    /// use protocol::{Attention, AttentionState};
    /// let wait = Attention::new(AttentionState::Waiting, Some("Allow?".into()), None);
    /// assert_eq!(wait.marker_label().as_deref(), Some("waiting: Allow?"));
    /// ```
    pub fn marker_label(&self) -> Option<String> {
        match (self.state, &self.text) {
            (AttentionState::Ended, _) => None,
            (AttentionState::Waiting, Some(text)) => Some(format!("waiting: {text}")),
            (state, _) => Some(state.as_str().to_string()),
        }
    }
}

/// `text` cut to at most [`MAX_ATTENTION_TEXT`] bytes, at a character
/// boundary.
///
/// ```
/// let cut = protocol::attention::truncate_text("é".repeat(600));
/// assert_eq!(cut.len(), 1024);
/// ```
pub fn truncate_text(mut text: String) -> String {
    if text.len() > MAX_ATTENTION_TEXT {
        let mut at = MAX_ATTENTION_TEXT;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Control;

    #[test]
    fn reports_round_trip_and_are_kept_within_limits() {
        let long = Attention {
            state: AttentionState::Waiting,
            text: Some("x".repeat(5000)),
            offset: None,
        };
        let json = serde_json::to_string(&Control::Attention(long)).unwrap();
        let Control::Attention(back) = serde_json::from_str(&json).unwrap() else {
            panic!("not an attention report: {json}");
        };
        assert_eq!(back.within_limits().text.unwrap().len(), MAX_ATTENTION_TEXT);
        let idle: Control = serde_json::from_str(r#"{"type":"attention","state":"idle"}"#).unwrap();
        assert_eq!(
            idle,
            Control::Attention(Attention::new(AttentionState::Idle, None, None))
        );
        assert_eq!(
            Attention::new(AttentionState::Waiting, Some(String::new()), None).text,
            None
        );
    }
}
