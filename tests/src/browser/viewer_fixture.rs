//! The viewer tests' stand-in for `tether`: a relay serving the built
//! viewer, a registered session and an agent link that prints what the test
//! asks and reports what the browser typed.

use std::time::{Duration, Instant};

use protocol::{Frame, Metadata, Role, Size};
use serde_json::json;

use super::dist_dir;
use crate::relay::{AgentClient, Event, RelayProcess};

/// A relay serving the built viewer, one registered session and a connected
/// agent link (a protocol client standing in for `tether`) that remembers
/// everything it printed, so that it can resend after a relay restart as
/// the wrapper does.
pub struct ViewerFixture {
    /// The relay process.
    pub relay: RelayProcess,
    /// The local-dev API key.
    pub key: String,
    /// The session id.
    pub session: String,
    /// The agent link.
    pub agent: AgentClient,
    /// Every OUTPUT byte the agent sent, from offset 0.
    pub printed: Vec<u8>,
}

impl ViewerFixture {
    /// Connects the agent link again (after it was closed).
    pub async fn reconnect_agent(&mut self) {
        self.agent = self.relay.connect_agent(&self.session, &self.key).await;
    }

    /// Starts the relay and an agent of a `cols`×`rows` session called `name`.
    pub async fn start(name: &str, cols: u16, rows: u16) -> Self {
        Self::start_with(name, cols, rows, &[]).await
    }

    /// Like [`start`](Self::start), with extra relay flags.
    pub async fn start_with(name: &str, cols: u16, rows: u16, relay_args: &[&str]) -> Self {
        let dist = dist_dir();
        let mut args = vec!["--static-dir", dist.to_str().expect("utf-8 path")];
        args.extend_from_slice(relay_args);
        let relay = RelayProcess::start_with(&args);
        let key = relay.api_key();
        let session = relay.register_session(&key, "claude");
        let agent = relay.connect_agent(&session, &key).await;
        let mut fixture = Self {
            relay,
            key,
            session,
            agent,
            printed: Vec::new(),
        };
        fixture.announce(name, cols, rows).await;
        fixture
    }

    async fn announce(&mut self, name: &str, cols: u16, rows: u16) {
        let metadata = Metadata {
            agent: "claude".into(),
            agent_display_name: Some(name.into()),
            ..Default::default()
        };
        self.agent
            .send(&[
                Frame::Metadata(metadata),
                Frame::Resize(Size { rows, cols }),
            ])
            .await;
    }

    /// The agent prints `bytes`; returns once the relay stored them.
    pub async fn print(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
        self.agent.send_output(bytes).await;
        self.agent.wait_ack(self.printed.len() as u64).await;
    }

    /// The agent prints `bytes` without waiting for the relay to store them.
    pub async fn print_fast(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
        self.agent.send_output(bytes).await;
    }

    /// The agent prints while the relay is down: the bytes are only kept,
    /// to be resent by [`restart_relay`](Self::restart_relay).
    pub fn print_while_relay_is_down(&mut self, bytes: &[u8]) {
        self.printed.extend_from_slice(bytes);
    }

    /// The agent sets the session's size.
    pub async fn resize(&mut self, cols: u16, rows: u16) {
        self.agent.send(&[Frame::Resize(Size { rows, cols })]).await;
    }

    /// The terminal page's address, signed in with the API key.
    pub fn terminal_url(&self) -> String {
        format!(
            "{}/s/{}#key={}",
            self.relay.http_url(),
            self.session,
            self.key
        )
    }

    /// The session list's address, signed in with the API key.
    pub fn dashboard_url(&self) -> String {
        format!("{}/#key={}", self.relay.http_url(), self.key)
    }

    /// Ends the session with the agent's `exit_status`, as the wrapper does
    /// when the agent exits.
    pub async fn end_session(&self, exit_status: i32) {
        let body = json!({"agent_instance_id": self.session, "exit_status": exit_status});
        let (status, reply) = self
            .relay
            .api("POST", "sessions/end", &self.key, Some(&body))
            .await;
        assert_eq!(status, 200, "{reply}");
    }

    /// Kills the relay (its memory is lost), starts it again on the same
    /// port, and reconnects the agent, which resends what the relay lacks.
    pub async fn restart_relay(&mut self, name: &str, cols: u16, rows: u16) {
        self.relay.restart();
        self.agent = self.relay.connect_agent(&self.session, &self.key).await;
        self.announce(name, cols, rows).await;
        let held = usize::try_from(self.agent.held)
            .unwrap_or(usize::MAX)
            .min(self.printed.len());
        let resend = self.printed[held..].to_vec();
        self.agent
            .send(&[Frame::StreamOffset(held as u64), Frame::Output(resend)])
            .await;
        self.agent.wait_ack(self.printed.len() as u64).await;
    }

    /// Collects INPUT bytes reaching the agent until there are as many as
    /// `want` has, and checks they are equal. RESIZE requests are ignored.
    pub async fn agent_receives(&mut self, want: &[u8]) {
        let mut typed = Vec::new();
        while typed.len() < want.len() {
            if let Frame::Input(bytes) = self.agent.next_command().await {
                typed.extend_from_slice(&bytes);
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&typed),
            String::from_utf8_lossy(want),
            "input that reached the agent"
        );
    }

    /// INPUT bytes reaching the agent within `wait` (for checking that
    /// nothing arrives).
    pub async fn agent_input_within(&mut self, wait: Duration) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut typed = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.agent.next_event_within(left).await {
                Some(Event::Frame(Frame::Input(bytes))) => typed.extend_from_slice(&bytes),
                Some(Event::Frame(_)) => {}
                Some(other) => panic!("agent link ended: {other:?}"),
                None => break,
            }
        }
        typed
    }

    /// A share link (valid ten minutes) for the session with `role`.
    pub async fn share_url(&self, role: Role) -> String {
        let share = self.relay.share(&self.key, &self.session, role, 600).await;
        format!(
            "{}/s/{}#token={}",
            self.relay.http_url(),
            self.session,
            share.token
        )
    }

    /// The next RESIZE request reaching the agent, as (cols, rows).
    pub async fn agent_resize_request(&mut self) -> (u16, u16) {
        loop {
            if let Frame::Resize(Size { rows, cols }) = self.agent.next_command().await {
                return (cols, rows);
            }
        }
    }
}
