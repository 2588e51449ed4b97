//! What the page shows about a viewer: its connection state and status.

use protocol::{Role, Size};

pub use protocol::Attention;

/// The state of the viewer's connection, as shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// First connection being opened, or history being replayed.
    Connecting,
    /// Receiving live output; the agent is connected.
    Live,
    /// Connected to the relay, but the agent's link is down: input is not
    /// delivered.
    AgentOffline,
    /// The link dropped; retrying (attempt number, starting at 1).
    Reconnecting(u32),
    /// The agent exited.
    Ended(Option<i32>),
    /// The relay refused this viewer (bad key, other user's session, …).
    Refused(String),
}

impl Connection {
    /// A short word for the status badge (and the test hook).
    pub fn label(&self) -> String {
        match self {
            Connection::Connecting => "connecting".into(),
            Connection::Live => "live".into(),
            Connection::AgentOffline => "agent offline".into(),
            Connection::Reconnecting(attempt) => format!("reconnecting (try {attempt})"),
            Connection::Ended(Some(status)) => format!("ended (exit {status})"),
            Connection::Ended(None) => "ended".into(),
            Connection::Refused(reason) if reason.is_empty() => "refused".into(),
            Connection::Refused(reason) => format!("refused: {reason}"),
        }
    }

    /// A stable identifier for styling and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::AgentOffline => "offline",
            Connection::Reconnecting(_) => "reconnecting",
            Connection::Ended(_) => "ended",
            Connection::Refused(_) => "refused",
        }
    }
}

/// What the page shows about the session.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Connection state.
    pub connection: Connection,
    /// This viewer's role, once the relay said it.
    pub role: Option<Role>,
    /// Who shared the session, for a share link's viewer (from the relay).
    pub shared_by: Option<String>,
    /// The session's size, once known.
    pub session_size: Option<Size>,
    /// The session's display name (or agent), once known.
    pub title: Option<String>,
    /// Bytes the relay no longer had when this viewer asked for them.
    pub lost: u64,
    /// Whether the next typed key gets Ctrl.
    pub ctrl_armed: bool,
    /// The last refusal or error the relay reported, if any.
    pub notice: Option<String>,
    /// What the agent asks of the person, while it waits (CONTROL
    /// `attention` with state `waiting`); `None` while it works.
    pub waiting: Option<Attention>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            connection: Connection::Connecting,
            role: None,
            shared_by: None,
            session_size: None,
            title: None,
            lost: 0,
            ctrl_armed: false,
            notice: None,
            waiting: None,
        }
    }
}

impl Status {
    /// Whether typing and resizing are allowed right now.
    pub fn can_type(&self) -> bool {
        self.role == Some(Role::ReadWrite) && self.connection == Connection::Live
    }
}
