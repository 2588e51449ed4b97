//! A relay that cannot be trusted, for the wrapper's hardening tests
//! (`wrapper_hardening.rs`): a small axum server that answers the
//! registration and treats the agent link exactly as a [`Script`] says (a
//! refusal, a close with a given reason, scripted messages), and keeps what
//! the wrapper sends.
//!
//! ```no_run
//! # async fn story() {
//! use tests::hostile_relay::{HostileRelay, Link, Script};
//! let relay = HostileRelay::start(Script::link(Link::Close("\u{1b}[2J".into()))).await;
//! let home = tempfile::tempdir().unwrap();
//! let tether = relay.tether(home.path()).args(["--command", "true"]).spawn();
//! # }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use protocol::{Control, Frame};
use tokio::task::AbortHandle;

use crate::fake_relay::SESSION_ID;
use crate::wrapper::TetherCommand;

/// The key `tether` is given (the hostile relay takes any).
pub const KEY: &str = "tk1.hardening.secret-key-value";

/// What the agent link gets.
#[derive(Debug, Clone)]
pub enum Link {
    /// The upgrade is refused with this status and body.
    Refuse(StatusCode, String),
    /// Upgraded, then closed at once with this reason.
    Close(String),
    /// Tether's `ready` and ACK(0), then each message the given number of
    /// times; then what the wrapper sends is read, kept and acknowledged.
    Send(Vec<(Vec<u8>, usize)>),
}

/// What a [`HostileRelay`] answers.
#[derive(Debug, Clone)]
pub struct Script {
    /// Status and JSON body of `POST /api/v1/agent-instances`.
    pub register: (StatusCode, String),
    /// What the agent link gets.
    pub link: Link,
}

impl Script {
    /// Registers [`SESSION_ID`], then treats the link as `link` says.
    pub fn link(link: Link) -> Self {
        let answer = serde_json::json!({ "agent_instance_id": SESSION_ID });
        Self {
            register: (StatusCode::CREATED, answer.to_string()),
            link,
        }
    }
}

/// A relay that answers what its [`Script`] says; stops when dropped.
pub struct HostileRelay {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Frame>>>,
    server: AbortHandle,
}

/// What the handlers share.
#[derive(Clone)]
struct Shared {
    script: Script,
    received: Arc<Mutex<Vec<Frame>>>,
}

impl HostileRelay {
    /// Starts serving `script` on an ephemeral loopback port.
    pub async fn start(script: Script) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            script,
            received: Arc::clone(&received),
        };
        let router = Router::new()
            .route("/agent", get(agent_link))
            .fallback(api)
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            addr,
            received,
            server: server.abort_handle(),
        }
    }

    /// A `tether` run against this relay, with a private home.
    pub fn tether(&self, home: &Path) -> TetherCommand {
        TetherCommand::new(home)
            .env("TETHER_API_URL", format!("http://{}", self.addr))
            .env("TETHER_API_KEY", KEY)
    }

    /// The frames the wrapper sent so far.
    pub fn received(&self) -> Vec<Frame> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for HostileRelay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The REST API: the scripted registration, `{}` for everything else.
async fn api(State(shared): State<Shared>, request: Request) -> Response {
    if request.uri().path() == "/api/v1/agent-instances" {
        let (status, body) = shared.script.register.clone();
        let json = [("content-type", "application/json")];
        return (status, json, body).into_response();
    }
    (StatusCode::OK, "{}").into_response()
}

/// `/agent`: as the script's [`Link`] says.
async fn agent_link(State(shared): State<Shared>, upgrade: WebSocketUpgrade) -> Response {
    match shared.script.link.clone() {
        Link::Refuse(status, body) => (status, body).into_response(),
        Link::Close(reason) => upgrade.on_upgrade(|mut socket| async move {
            let close = CloseFrame {
                code: 1008,
                reason: reason.into(),
            };
            let _ = socket.send(Message::Close(Some(close))).await;
            // Until the wrapper answers the close: its hello is not refused.
            while let Some(Ok(_)) = socket.recv().await {}
        }),
        Link::Send(messages) => {
            upgrade.on_upgrade(move |socket| serve(socket, messages, shared.received))
        }
    }
}

/// [`Link::Send`]: the hello, the scripted messages, then reads and ACKs.
async fn serve(
    mut socket: WebSocket,
    messages: Vec<(Vec<u8>, usize)>,
    received: Arc<Mutex<Vec<Frame>>>,
) {
    let mut hello = Frame::Control(Control::Ready).to_bytes();
    Frame::Ack(0).encode(&mut hello);
    if socket.send(Message::Binary(hello.into())).await.is_err() {
        return;
    }
    for (message, times) in messages {
        let message = Bytes::from(message);
        for _ in 0..times {
            if socket.send(Message::Binary(message.clone())).await.is_err() {
                return;
            }
        }
    }
    let mut end = 0u64;
    while let Some(Ok(message)) = socket.recv().await {
        let Message::Binary(bytes) = message else {
            continue;
        };
        for frame in protocol::decode_message(&bytes, 1 << 24).unwrap_or_default() {
            match &frame {
                Frame::StreamOffset(offset) => end = *offset,
                Frame::Output(data) => end += data.len() as u64,
                _ => {}
            }
            received.lock().unwrap().push(frame);
        }
        let _ = socket
            .send(Message::Binary(Frame::Ack(end).to_bytes().into()))
            .await;
    }
}
