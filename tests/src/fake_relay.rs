//! Relays that misbehave on purpose, for the wrapper's tests: small axum
//! servers on an ephemeral loopback port that register any session and
//! then treat the agent link in one particular way ([`Behaviour`]), and a
//! proxy whose connections can be cut ([`CuttableProxy`]).
//!
//! ```no_run
//! # async fn story() {
//! use tests::fake_relay::{Behaviour, FakeRelay};
//! let relay = FakeRelay::start(Behaviour::Stuck).await;
//! // TETHER_API_URL=relay.api_url() tether …: its link is never read.
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::api::{EndResponse, ErrorBody, SessionInfo};
use protocol::{Control, Frame};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::wait::DEADLINE;

/// The id every fake relay gives the session it registers.
pub const SESSION_ID: &str = "5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12";

/// What a fake relay does with the agent link (`GET /agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Says `ready` and ACK(0), then never reads again: TCP backs up.
    Stuck,
    /// Has forgotten every session on the first link (HTTP 404, as after a
    /// restart with a new data dir); later links are as [`Stuck`](Self::Stuck).
    Forgetful,
    /// A legacy (Omnara) relay: says `{"type":"ready"}` as text and keeps
    /// every frame it receives (see [`FakeRelay::next_frame`]).
    Legacy,
}

/// A running fake relay; stops when dropped.
pub struct FakeRelay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    frames: mpsc::UnboundedReceiver<Frame>,
    server: AbortHandle,
}

struct Shared {
    behaviour: Behaviour,
    /// `POST /api/v1/… {body}` and `GET /agent #N`, in arrival order.
    requests: Mutex<Vec<String>>,
    frames: mpsc::UnboundedSender<Frame>,
}

impl FakeRelay {
    /// Starts a fake relay that treats agent links as `behaviour` says.
    pub async fn start(behaviour: Behaviour) -> Self {
        let (frames_tx, frames) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            behaviour,
            requests: Mutex::new(Vec::new()),
            frames: frames_tx,
        });
        let router = Router::new()
            .route("/agent", get(agent_link))
            .fallback(api)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the fake relay");
        let addr = listener.local_addr().expect("the fake relay's address");
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("fake relay");
        });
        Self {
            addr,
            shared,
            frames,
            server: server.abort_handle(),
        }
    }

    /// `http://127.0.0.1:PORT`, for `TETHER_API_URL` (the agent link's URL
    /// follows from it).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the relay was asked so far, in order: `POST /api/v1/PATH BODY`
    /// for REST calls, `GET /agent #N` for the N-th agent link.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The next frame a [`Behaviour::Legacy`] relay received; panics after
    /// [`DEADLINE`].
    pub async fn next_frame(&mut self) -> Frame {
        tokio::time::timeout(DEADLINE, self.frames.recv())
            .await
            .expect("a frame from the wrapper in time")
            .expect("the fake relay runs")
    }
}

impl Drop for FakeRelay {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// `GET /agent`: the agent link, as the behaviour says.
async fn agent_link(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    let link = {
        let mut requests = shared.requests.lock().unwrap();
        let link = requests
            .iter()
            .filter(|r| r.starts_with("GET /agent"))
            .count()
            + 1;
        requests.push(format!("GET /agent #{link}"));
        link
    };
    match shared.behaviour {
        Behaviour::Forgetful if link == 1 => {
            let refusal = Json(ErrorBody::new("unknown session"));
            (StatusCode::NOT_FOUND, refusal).into_response()
        }
        Behaviour::Stuck | Behaviour::Forgetful => upgrade.on_upgrade(never_read),
        Behaviour::Legacy => upgrade.on_upgrade(move |socket| forward_frames(socket, shared)),
    }
}

/// Says `ready` and ACK(0) in one message, then holds the link unread.
async fn never_read(mut socket: WebSocket) {
    let mut hello = Frame::Control(Control::Ready).to_bytes();
    Frame::Ack(0).encode(&mut hello);
    let _ = socket.send(Message::Binary(hello.into())).await;
    std::future::pending::<()>().await;
}

/// Says the legacy `ready`, then hands every frame received to the test.
async fn forward_frames(mut socket: WebSocket, shared: Arc<Shared>) {
    let _ = socket.send(Message::text(r#"{"type":"ready"}"#)).await;
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Binary(bytes) = message {
            let frames = protocol::decode_message(&bytes, 1 << 24).expect("whole frames");
            for frame in frames {
                let _ = shared.frames.send(frame);
            }
        }
    }
}

/// Every REST call: recorded, and answered as a relay that knows the one
/// session [`SESSION_ID`] would.
async fn api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    shared.requests.lock().unwrap().push(format!(
        "{} {path} {}",
        parts.method,
        String::from_utf8_lossy(&body)
    ));
    match path.as_str() {
        "/api/v1/agent-instances" => (StatusCode::CREATED, Json(session_info())).into_response(),
        "/api/v1/sessions/end" => Json(EndResponse {
            success: true,
            agent_instance_id: SESSION_ID.into(),
            final_status: "ended".into(),
        })
        .into_response(),
        _ if path.starts_with("/api/v1/agent-instances/") => Json(session_info()).into_response(),
        _ => Json(serde_json::json!({ "success": true })).into_response(),
    }
}

fn session_info() -> SessionInfo {
    let now = "2026-01-01T00:00:00Z".to_owned();
    SessionInfo {
        id: SESSION_ID.into(),
        agent_instance_id: SESSION_ID.into(),
        agent_type: "sh".into(),
        name: None,
        status: "offline".into(),
        created_at: now.clone(),
        last_activity: now,
        ended_at: None,
        exit_status: None,
        viewer_count: 0,
        attention: None,
        messages: None,
    }
}

/// A TCP proxy in front of a relay whose connections can all be cut at
/// once (a network blip: the relay itself keeps running and remembers).
pub struct CuttableProxy {
    addr: SocketAddr,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    refusing: Arc<AtomicBool>,
    server: AbortHandle,
}

impl CuttableProxy {
    /// Starts forwarding an ephemeral loopback port to `backend`.
    pub async fn start(backend: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let links = Arc::new(Mutex::new(Vec::new()));
        let registry = Arc::clone(&links);
        let refusing = Arc::new(AtomicBool::new(false));
        let refuse = Arc::clone(&refusing);
        let server = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                registry.lock().unwrap().push(link.abort_handle());
            }
        });
        Self {
            addr,
            links,
            refusing,
            server: server.abort_handle(),
        }
    }

    /// `ws://127.0.0.1:PORT/agent`: the relay's agent endpoint through the proxy.
    pub fn agent_url(&self) -> String {
        format!("ws://{}/agent", self.addr)
    }

    /// While `refuse` is set, new connections are closed at once (as if
    /// the relay were down); open ones are kept.
    pub fn refuse_new(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`: the relay's API (and agent link) through
    /// the proxy.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Drops every open connection (new ones are still accepted).
    pub fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.server.abort();
        self.cut();
    }
}
