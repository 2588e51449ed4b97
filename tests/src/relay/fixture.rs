//! The start of most relay tests: a relay with its key and a registered
//! session ([`SessionFixture`]), and connecting its agent and viewers with
//! failures that show the relay's log.

use std::time::{Duration, Instant};

use super::{ws_connect, AgentClient, Connect, Event, FrameSocket, RelayProcess, ViewerClient};

/// How soon an open link must be closed after its grant is revoked (also
/// on another node): the relay rereads revocations once a second, plus the
/// close handshake.
pub const REVOCATION_REACHES_LINKS: Duration = Duration::from_millis(2500);

impl RelayProcess {
    /// Connects a viewer of `session` with `credential` that the relay
    /// must refuse once upgraded; returns the close's code and reason.
    pub async fn refused_viewer(&self, session: &str, credential: &str) -> (u16, String) {
        let mut viewer = ViewerClient::connect(&self.ws_url(), session, credential, None)
            .await
            .expect("the upgrade itself succeeds");
        viewer.socket.closed().await.expect("a close frame")
    }

    /// The share link with `token` to `session`, revoked at `revoked`: its
    /// open `viewers` were closed (1008, "share link revoked") within
    /// [`REVOCATION_REACHES_LINKS`], and a new viewer with it is refused so.
    pub async fn assert_share_revoked(
        &self,
        session: &str,
        token: &str,
        revoked: Instant,
        viewers: &mut [ViewerClient],
    ) {
        let revoked_close = (1008, "share link revoked".to_string());
        for viewer in viewers {
            assert_eq!(viewer.socket.closed().await, Some(revoked_close.clone()));
        }
        let took = revoked.elapsed();
        assert!(took < REVOCATION_REACHES_LINKS, "closed after {took:?}");
        assert_eq!(self.refused_viewer(session, token).await, revoked_close);
    }

    /// Connects a Tether agent link for `session` with `key`; panics (with
    /// the relay's log) if the relay refuses it.
    pub async fn connect_agent(&self, session: &str, key: &str) -> AgentClient {
        match AgentClient::connect(&self.ws_url(), session, key).await {
            Ok(agent) => agent,
            Err(e) => panic!("agent link refused: {e}\nrelay log:\n{}", self.log()),
        }
    }

    /// Tries an agent link for `session` with `key` that the relay must
    /// refuse; returns the error (it holds the close code and reason).
    pub async fn refused_agent(&self, session: &str, key: &str) -> String {
        match AgentClient::connect(&self.ws_url(), session, key).await {
            Ok(_) => panic!("the relay accepted an agent link it should refuse"),
            Err(e) => e,
        }
    }

    /// Connects a Tether viewer of `session` with `credential` (API key or
    /// share token), from `from` if given; panics if the upgrade fails.
    pub async fn connect_viewer(
        &self,
        session: &str,
        credential: &str,
        from: Option<u64>,
    ) -> ViewerClient {
        match ViewerClient::connect(&self.ws_url(), session, credential, from).await {
            Ok(viewer) => viewer,
            Err(e) => panic!("viewer link failed: {e}\nrelay log:\n{}", self.log()),
        }
    }

    /// Connects a viewer of `session` that joins by snapshot (as the
    /// browser viewer does), from `from` if given; panics if the upgrade fails.
    pub async fn connect_snapshot_viewer(
        &self,
        session: &str,
        credential: &str,
        from: Option<u64>,
    ) -> ViewerClient {
        match ViewerClient::connect_by_snapshot(&self.ws_url(), session, credential, from).await {
            Ok(viewer) => viewer,
            Err(e) => panic!("viewer link failed: {e}\nrelay log:\n{}", self.log()),
        }
    }

    /// Connects a viewer (from the start of the history) and reads its join
    /// up to `history_complete`, so what arrives next is live.
    pub async fn joined_viewer(&self, session: &str, credential: &str) -> ViewerClient {
        let mut viewer = self.connect_viewer(session, credential, None).await;
        viewer.read_history().await;
        viewer
    }
}

/// A started relay with its local-dev key and one registered session: the
/// start of most relay tests.
///
/// ```no_run
/// # async fn story() {
/// use tests::relay::SessionFixture;
/// let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "64"]).await;
/// agent.send_output(b"hi").await;
/// let mut viewer = fx.connect_viewer(None).await;
/// assert_eq!(viewer.read_history().await.output, b"hi");
/// # }
/// ```
pub struct SessionFixture {
    /// The relay (fresh temporary home).
    pub relay: RelayProcess,
    /// The local-dev API key (user `local`).
    pub key: String,
    /// The registered session's id.
    pub session: String,
}

impl SessionFixture {
    /// Starts a relay with extra `args` and registers a `claude` session.
    pub fn start(args: &[&str]) -> Self {
        Self::start_for("claude", args)
    }

    /// Starts a relay with extra `args` and registers an `agent_type` session.
    pub fn start_for(agent_type: &str, args: &[&str]) -> Self {
        let relay = RelayProcess::start_with(args);
        let key = relay.api_key();
        let session = relay.register_session(&key, agent_type);
        Self {
            relay,
            key,
            session,
        }
    }

    /// [`start`](Self::start), then connects the session's agent link.
    pub async fn with_agent(args: &[&str]) -> (Self, AgentClient) {
        let fixture = Self::start(args);
        let agent = fixture.connect_agent().await;
        (fixture, agent)
    }

    /// Connects an agent link for the session with the key (a newer link
    /// replaces an older one).
    pub async fn connect_agent(&self) -> AgentClient {
        self.relay.connect_agent(&self.session, &self.key).await
    }

    /// Connects the session's agent as a legacy (Omnara) wrapper does: the
    /// key in `X-API-Key`, no Tether subprotocol; returns the socket once
    /// the relay's `{"type":"ready"}` came.
    pub async fn connect_legacy_agent(&self) -> FrameSocket {
        let how = Connect {
            header_key: Some(self.key.clone()),
            ..Default::default()
        };
        let url = format!("{}/agent?session_id={}", self.relay.ws_url(), self.session);
        let (ws, _) = match ws_connect(&url, &how).await {
            Ok(connected) => connected,
            Err(e) => panic!(
                "legacy agent link refused: {e}\nrelay log:\n{}",
                self.relay.log()
            ),
        };
        let mut agent = FrameSocket::new(ws);
        assert_eq!(
            agent.next_event().await,
            Event::Text(r#"{"type":"ready"}"#.into())
        );
        agent
    }

    /// Connects a viewer of the session with the key, from `from` if given.
    pub async fn connect_viewer(&self, from: Option<u64>) -> ViewerClient {
        self.relay
            .connect_viewer(&self.session, &self.key, from)
            .await
    }

    /// Connects a viewer of the session with the key that joins by
    /// snapshot, from `from` if given.
    pub async fn connect_snapshot_viewer(&self, from: Option<u64>) -> ViewerClient {
        self.relay
            .connect_snapshot_viewer(&self.session, &self.key, from)
            .await
    }

    /// Connects a viewer with the key and reads its join up to
    /// `history_complete`, so what arrives next is live.
    pub async fn joined_viewer(&self) -> ViewerClient {
        self.relay.joined_viewer(&self.session, &self.key).await
    }
}
