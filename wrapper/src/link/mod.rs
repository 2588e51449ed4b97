//! The relay link: streams the agent's output to `tether-relay` and brings
//! viewers' input and resize requests back.
//!
//! The output thread appends to a shared [`ResendBuffer`] and wakes the link;
//! it never waits for the network. The link runs on its own thread (a small
//! tokio runtime), sends whatever is buffered past its cursor as soon as it is
//! woken, and after any reconnect resumes from the offset the relay
//! acknowledges (see `protocol/PROTOCOL.md`, "Agent link"). Retries: at once
//! after a drop, then every [`RETRY_INTERVAL`].
//!
//! | module | job |
//! |---|---|
//! | this one | [`Link`] / [`RunningLink`]: start the thread, the output and size sinks, finish |
//! | `reconnect` | the thread's loop: register late, connect, handshake, resume offset, retry |
//! | `connection` | one established connection: the output pump, RESIZE, pings, the exit |
//! | `incoming` | what the relay sends: `ready`, ACKs, INPUT, RESIZE |
//! | `resend` | [`ResendBuffer`], the recent output with its offsets |
//! | `error` | `LinkError`, why a connection failed or dropped |
//! | `tls` | `wss://` connectors |

mod connection;
mod error;
mod incoming;
mod reconnect;
mod resend;
mod tls;

use error::LinkError;
use resend::ResendBuffer;
pub use resend::DEFAULT_CAPACITY;

use crate::api::ApiClient;
use crate::inbox::AgentInbox;
use futures_util::stream::SplitSink;
use protocol::{Attention, Metadata, Size, DEFAULT_MAX_PAYLOAD};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Wait between two connection attempts (the first retry after a drop is immediate).
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Longest the end of a session waits for the link to deliver and close.
const FINISH_WAIT: Duration = Duration::from_secs(12);

/// Largest OUTPUT payload sent in one frame (the protocol's default limit).
const MAX_CHUNK: usize = DEFAULT_MAX_PAYLOAD;

/// The WebSocket to the relay.
type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// Its sending half.
type WsSink = SplitSink<Ws, Message>;

/// Everything the link needs to know to connect.
#[derive(Clone)]
pub struct LinkConfig {
    /// Agent endpoint, e.g. `ws://localhost:8080/agent` (query added by the link).
    pub relay_url: String,
    /// The API key (sent as `Authorization: Bearer`, never logged).
    pub api_key: String,
    /// The session id.
    pub session_id: String,
    /// Whether the session still needs registering (the API was unreachable at start).
    pub needs_registration: bool,
    /// Whether this run re-attaches to an existing session (`--resume`): its
    /// stream continues after what the relay already holds.
    pub resumed: bool,
    /// Sent first on every connection.
    pub metadata: Metadata,
    /// Bytes of output kept for resending.
    pub resend_capacity: usize,
    /// Skip TLS certificate verification (`wss://` to a self-signed relay).
    pub insecure: bool,
    /// The API, to register late and (by the caller) to end the session.
    pub api: ApiClient,
    /// The PTY's size at start.
    pub initial_size: Size,
}

impl std::fmt::Debug for LinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("LinkConfig")
            .field("relay_url", &self.relay_url)
            .field("session_id", &self.session_id)
            .field("needs_registration", &self.needs_registration)
            .field("resumed", &self.resumed)
            .field("metadata", &self.metadata)
            .field("resend_capacity", &self.resend_capacity)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// State shared between the output thread and the link thread.
#[derive(Debug)]
struct Shared {
    buffer: Mutex<ResendBuffer>,
    wake: Notify,
}

impl Shared {
    fn buffer(&self) -> std::sync::MutexGuard<'_, ResendBuffer> {
        self.buffer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the agent's side gives the link thread: its output (with the wake
/// signal), the PTY's size, and the agent's exit code once it exited.
#[derive(Debug)]
struct AgentFeed {
    shared: Arc<Shared>,
    size_rx: watch::Receiver<Size>,
    attention_rx: watch::Receiver<Option<Attention>>,
    exit_rx: watch::Receiver<Option<i32>>,
}

impl AgentFeed {
    /// The agent's exit code, once it exited.
    fn exit_code(&self) -> Option<i32> {
        *self.exit_rx.borrow()
    }
}

/// Where the output thread puts the agent's output for the relay.
#[derive(Debug, Clone)]
pub struct OutputSink {
    shared: Arc<Shared>,
}

impl OutputSink {
    /// Appends output and wakes the link. Never blocks on the network.
    pub fn push(&self, bytes: &[u8]) {
        self.shared.buffer().push(bytes);
        self.shared.wake.notify_one();
    }
}

/// Where the attention rule reports the session's attention; the link sends
/// the latest to the relay (again after each reconnect: the relay knows a
/// wait it has seen by its offset). Its offsets count this run's output
/// from 0; the link turns them into stream offsets (a `--resume` run's
/// stream goes on after what the relay held when the link first came up).
#[derive(Debug, Clone)]
pub struct AttentionSink {
    tx: watch::Sender<Option<Attention>>,
}

impl AttentionSink {
    /// Reports the attention now.
    pub fn report(&self, attention: Attention) {
        self.tx.send_replace(Some(attention));
    }
}

/// How the link went, for the line printed at exit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSummary {
    /// The link was up at least once.
    pub ever_connected: bool,
    /// The link dropped at least once, or never came up.
    pub lost: bool,
    /// Everything written was acknowledged by the relay before exit.
    pub fully_delivered: bool,
    /// Why the last connection attempt failed, if it did.
    pub last_error: Option<String>,
}

/// A relay link that is configured but not started.
#[derive(Debug)]
pub struct Link {
    config: LinkConfig,
}

impl Link {
    /// A link with this configuration.
    pub fn new(config: LinkConfig) -> Self {
        Self { config }
    }

    /// Starts the link thread; viewers' input and resizes go to `inbox`.
    pub fn start(self, inbox: AgentInbox) -> RunningLink {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(ResendBuffer::new(self.config.resend_capacity)),
            wake: Notify::new(),
        });
        let (size_tx, size_rx) = watch::channel(self.config.initial_size);
        let (attention_tx, attention_rx) = watch::channel(None);
        let (exit_tx, exit_rx) = watch::channel(None);
        let (done_tx, done) = std::sync::mpsc::channel();
        {
            let feed = AgentFeed {
                shared: Arc::clone(&shared),
                size_rx,
                attention_rx,
                exit_rx,
            };
            let spawned = std::thread::Builder::new()
                .name(crate::terminal::LINK_THREAD.into())
                .spawn(move || {
                    let summary = reconnect::run_thread(self.config, feed, inbox);
                    let _ = done_tx.send(summary);
                });
            if let Err(err) = spawned {
                tracing::error!(%err, "cannot start the relay link thread");
            }
        }
        RunningLink {
            shared,
            size_tx,
            attention_tx,
            exit_tx,
            done,
        }
    }
}

/// A started link.
#[derive(Debug)]
pub struct RunningLink {
    shared: Arc<Shared>,
    size_tx: watch::Sender<Size>,
    attention_tx: watch::Sender<Option<Attention>>,
    exit_tx: watch::Sender<Option<i32>>,
    done: std::sync::mpsc::Receiver<LinkSummary>,
}

impl RunningLink {
    /// The sink the output thread writes into.
    pub fn output_sink(&self) -> OutputSink {
        OutputSink {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The sink the attention rule reports into.
    pub fn attention_sink(&self) -> AttentionSink {
        AttentionSink {
            tx: self.attention_tx.clone(),
        }
    }

    /// A function that reports the PTY's new size to the relay.
    pub fn size_sink(&self) -> impl Fn(Size) + Send + 'static {
        let tx = self.size_tx.clone();
        move |size| {
            let _ = tx.send(size);
        }
    }

    /// Tells the relay the agent exited, delivers what is left (within a few
    /// seconds) and closes the link.
    pub fn finish(self, exit_code: i32) -> LinkSummary {
        let _ = self.exit_tx.send(Some(exit_code));
        // The link bounds its own work; this only guards against a hang.
        self.done.recv_timeout(FINISH_WAIT).unwrap_or(LinkSummary {
            lost: true,
            ..LinkSummary::default()
        })
    }
}
