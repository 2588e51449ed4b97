//! Test helpers for the relay: start the real `tether-relay` binary, and talk
//! to it as an agent ([`AgentClient`]), a viewer ([`ViewerClient`]) or a REST
//! client ([`http`]).
//!
//! ```no_run
//! # async fn story() {
//! use tests::relay::{AgentClient, RelayProcess, ViewerClient};
//! let relay = RelayProcess::start();
//! let key = relay.api_key();
//! let session = relay.register_session(&key, "claude");
//! let mut agent = AgentClient::connect(&relay.ws_url(), &session, &key).await.unwrap();
//! agent.send_output(b"hello").await;
//! let mut viewer = ViewerClient::connect(&relay.ws_url(), &session, &key, None).await.unwrap();
//! let join = viewer.read_history().await;
//! assert_eq!(join.output, b"hello");
//! # }
//! ```
//!
//! Every wait has a deadline ([`WAIT`]); a test fails instead of hanging.
//! The relay child process is killed when the [`RelayProcess`] is dropped,
//! also when the test panics.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use protocol::{Control, Frame};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long any helper waits for something before failing the test.
pub const WAIT: Duration = Duration::from_secs(10);

/// A WebSocket client stream.
pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A binary built by this workspace, found next to the test executable
/// (`target/debug/deps/test-…` → `target/debug/NAME`).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// A running `tether-relay` child process with its own temporary
/// `TETHER_HOME` (also its data dir), listening on an ephemeral loopback port.
pub struct RelayProcess {
    child: Option<Child>,
    home: PathBuf,
    _temp: Option<tempfile::TempDir>,
    addr: SocketAddr,
    args: Vec<String>,
}

impl RelayProcess {
    /// Starts a relay in a fresh temporary home, with the local-dev key
    /// created (see [`api_key`](Self::api_key)).
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a relay in a fresh temporary home with extra flags
    /// (e.g. `["--history-bytes", "64"]`).
    pub fn start_with(args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir for TETHER_HOME");
        let mut relay = Self::start_in(temp.path(), args);
        relay._temp = Some(temp);
        relay
    }

    /// Starts a relay whose `TETHER_HOME` and data dir is `home` (kept after
    /// drop), so a wrapper can share the same config.json.
    pub fn start_in(home: &Path, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, addr) = spawn(home, "127.0.0.1:0", &args);
        Self {
            child: Some(child),
            home: home.to_path_buf(),
            _temp: None,
            addr,
            args,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT`
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's `TETHER_HOME` (holds config.json, relay.db, relay.log).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// What the relay wrote to stderr so far (its log), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.join("relay.log")).unwrap_or_default()
    }

    /// The local-dev API key the relay saved in `$TETHER_HOME/config.json`
    /// on its first start (user `local`).
    pub fn api_key(&self) -> String {
        let text = std::fs::read_to_string(self.home.join("config.json")).expect("config.json");
        let json: Value = serde_json::from_str(&text).expect("config.json is JSON");
        json["api_key"]
            .as_str()
            .expect("api_key in config.json")
            .to_string()
    }

    /// Creates a key for `user` with `tether-relay keys create`.
    pub fn create_key(&self, user: &str) -> String {
        let out = self.keys_command(&["create", "--user", user]);
        out.lines()
            .last()
            .expect("keys create prints the key")
            .trim()
            .to_string()
    }

    /// Revokes `key` with `tether-relay keys revoke ID`.
    pub fn revoke_key(&self, key: &str) {
        let id = key.split('.').nth(1).expect("key has an id part");
        self.keys_command(&["revoke", id]);
    }

    fn keys_command(&self, args: &[&str]) -> String {
        let output = Command::new(workspace_binary("tether-relay"))
            .arg("keys")
            .args(args)
            .env("TETHER_HOME", &self.home)
            .env("TETHER_LOG", "warn")
            .stderr(Stdio::inherit())
            .output()
            .expect("run tether-relay keys");
        assert!(output.status.success(), "tether-relay keys {args:?} failed");
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// Registers a session for `key` over REST; returns its id.
    pub fn register_session(&self, key: &str, agent_type: &str) -> String {
        let body = serde_json::json!({"agent_type": agent_type, "transport": "ws"});
        let (status, json) = block_on(http(
            "POST",
            &format!("{}/api/v1/agent-instances", self.http_url()),
            Some(key),
            Some(&body),
        ));
        assert!(
            status == 200 || status == 201,
            "register failed: {status} {json}"
        );
        json["agent_instance_id"]
            .as_str()
            .expect("agent_instance_id")
            .to_string()
    }

    /// The relay's process id while it runs (for memory measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the relay at once (SIGKILL: memory lost, nothing flushed).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Asks the relay to stop (SIGTERM) and waits for it to exit; returns
    /// whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Kills the relay and starts it again with the same home, data and port.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + WAIT;
        loop {
            match try_spawn(&self.home, &self.addr.to_string(), &self.args) {
                Ok((child, addr)) => {
                    self.child = Some(child);
                    self.addr = addr;
                    return;
                }
                Err(e) if Instant::now() < deadline => {
                    eprintln!("relay restart: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("relay did not restart on {}: {e}", self.addr),
            }
        }
    }
}

impl RelayProcess {
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

    /// Connects a viewer (from the start of the history) and reads its join
    /// up to `history_complete`, so what arrives next is live.
    pub async fn joined_viewer(&self, session: &str, credential: &str) -> ViewerClient {
        let mut viewer = self.connect_viewer(session, credential, None).await;
        viewer.read_history().await;
        viewer
    }

    /// A REST call to `/api/v1/{path}` (e.g. `agent-instances`) with `key` in
    /// `X-API-Key`: the status and the body as JSON (see [`http`]).
    pub async fn api(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}/api/v1/{path}", self.http_url());
        http(method, &url, Some(key), body).await
    }

    /// The value of the Prometheus gauge or counter `name` (e.g.
    /// `tether_relay_viewers`) from `GET /metrics`; panics if it is missing.
    pub async fn metric(&self, name: &str) -> u64 {
        let (_, body) = http_raw("GET", &format!("{}/metrics", self.http_url()), None, None).await;
        let text = String::from_utf8_lossy(&body);
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} not in /metrics:\n{text}"))
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

    /// Connects a viewer of the session with the key, from `from` if given.
    pub async fn connect_viewer(&self, from: Option<u64>) -> ViewerClient {
        self.relay
            .connect_viewer(&self.session, &self.key, from)
            .await
    }

    /// Connects a viewer with the key and reads its join up to
    /// `history_complete`, so what arrives next is live.
    pub async fn joined_viewer(&self) -> ViewerClient {
        self.relay.joined_viewer(&self.session, &self.key).await
    }
}

/// Checks `condition` every 100 ms until it holds; panics with `what` if it
/// still does not after `within`.
pub async fn eventually(within: Duration, what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(home: &Path, listen: &str, args: &[String]) -> (Child, SocketAddr) {
    try_spawn(home, listen, args).unwrap_or_else(|e| panic!("starting tether-relay: {e}"))
}

/// Starts the binary and waits for its `listening on` line.
fn try_spawn(home: &Path, listen: &str, args: &[String]) -> Result<(Child, SocketAddr), String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("relay.log"))
        .map_err(|e| format!("relay.log: {e}"))?;
    let mut child = Command::new(workspace_binary("tether-relay"))
        .arg("--listen")
        .arg(listen)
        .args(args)
        .env("TETHER_HOME", home)
        .env("TETHER_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading so the relay never blocks on a full pipe.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("tether-relay listening on http://") {
                    let addr = addr
                        .trim()
                        .parse()
                        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
                    return Ok((child, addr));
                }
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "no `listening on` line within {WAIT:?} (see {}/relay.log)",
                    home.display()
                ));
            }
        }
    }
}

/// Runs a future to completion on a small runtime (for sync helpers).
fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send,
    F::Output: Send,
{
    match tokio::runtime::Handle::try_current() {
        Ok(_) => std::thread::scope(|s| {
            s.spawn(|| new_runtime().block_on(future))
                .join()
                .expect("helper thread")
        }),
        Err(_) => new_runtime().block_on(future),
    }
}

fn new_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A minimal HTTP/1.1 request: returns the status and the body as JSON
/// (`Value::String` when the body is not JSON). `key` goes in `X-API-Key`.
pub async fn http(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, body) = http_raw(method, url, key, body).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

/// Like [`http`], returning the raw body bytes (and nothing is parsed).
pub async fn http_raw(
    method: &str,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").expect("http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = tokio::time::timeout(WAIT, TcpStream::connect(host))
        .await
        .expect("HTTP connect in time")
        .expect("HTTP connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    if let Some(key) = key {
        request.push_str(&format!("X-API-Key: {key}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("HTTP write");
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("HTTP response in time")
        .expect("HTTP read");
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP header end");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let mut body = response[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// How a WebSocket client presents itself.
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// Credential sent as `X-API-Key`.
    pub header_key: Option<String>,
    /// Credential sent as subprotocol `omnara-key.{token}`.
    pub subprotocol_key: Option<String>,
    /// Append `protocol=tether.v1` (a Tether peer); `false` is a legacy client.
    pub tether: bool,
}

/// Opens a WebSocket to `url` (path and query included). Returns the stream
/// and the subprotocol the server echoed.
pub async fn ws_connect(url: &str, how: &Connect) -> Result<(WsStream, Option<String>), String> {
    let url = if how.tether {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}protocol={}", protocol::PROTOCOL_NAME)
    } else {
        url.to_string()
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(key) = &how.header_key {
        request.headers_mut().insert(
            "x-api-key",
            HeaderValue::from_str(key).map_err(|e| e.to_string())?,
        );
    }
    if let Some(token) = &how.subprotocol_key {
        let value =
            HeaderValue::from_str(&format!("omnara-key.{token}")).map_err(|e| e.to_string())?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", value);
    }
    let (ws, response) = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async_with_config(request, None, true),
    )
    .await
    .map_err(|_| "WebSocket connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let echoed = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((ws, echoed))
}

/// What a WebSocket delivered next, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One decoded frame (a message with several frames yields several events).
    Frame(Frame),
    /// A text message (only the legacy `ready`).
    Text(String),
    /// The server closed with this code and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Gone,
}

/// A WebSocket that yields [`Event`]s, one frame at a time.
pub struct FrameSocket {
    ws: WsStream,
    pending: std::collections::VecDeque<Event>,
    /// Pings received (legacy clients must get none).
    pub pings: usize,
}

impl FrameSocket {
    /// Wraps a connected stream.
    pub fn new(ws: WsStream) -> Self {
        Self {
            ws,
            pending: Default::default(),
            pings: 0,
        }
    }

    /// The next event, or `None` after [`WAIT`] without one.
    pub async fn next_event_within(&mut self, wait: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()?;
            match message {
                None | Some(Err(_)) => return Some(Event::Gone),
                Some(Ok(Message::Binary(bytes))) => {
                    match protocol::decode_message(&bytes, usize::MAX >> 1) {
                        Ok(frames) => self.pending.extend(frames.into_iter().map(Event::Frame)),
                        Err(e) => panic!("relay sent an undecodable message: {e}"),
                    }
                }
                Some(Ok(Message::Text(text))) => return Some(Event::Text(text.to_string())),
                Some(Ok(Message::Close(frame))) => {
                    return Some(match frame {
                        Some(f) => Event::Closed(u16::from(f.code), f.reason.to_string()),
                        None => Event::Closed(1005, String::new()),
                    })
                }
                Some(Ok(Message::Ping(_))) => self.pings += 1,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next event; panics after [`WAIT`].
    pub async fn next_event(&mut self) -> Event {
        self.next_event_within(WAIT)
            .await
            .expect("an event from the relay in time")
    }

    /// Sends frames as one binary message.
    pub async fn send(&mut self, frames: &[Frame]) {
        let mut bytes = Vec::new();
        for frame in frames {
            frame.encode(&mut bytes);
        }
        self.send_raw(bytes).await;
    }

    /// Sends raw bytes as one binary message (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(Message::Binary(bytes.into()))
            .await
            .expect("WebSocket send");
    }

    /// Waits for the server's close and returns its code and reason
    /// (`None` if the connection ended without one). Frames are skipped.
    pub async fn closed(&mut self) -> Option<(u16, String)> {
        loop {
            match self.next_event().await {
                Event::Closed(code, reason) => return Some((code, reason)),
                Event::Gone => return None,
                _ => {}
            }
        }
    }

    /// Closes from this side.
    pub async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// A wrapper-side (agent) link speaking the Tether dialect.
pub struct AgentClient {
    /// The socket, for anything the methods below do not cover.
    pub socket: FrameSocket,
    /// The offset the relay acknowledged on connect (what it already holds).
    pub held: u64,
    /// The latest ACK seen.
    pub acked: u64,
}

impl AgentClient {
    /// Connects to `ws_url` (`ws://HOST`) for `session_id` with `key` in the
    /// `X-API-Key` header, and waits for `ready` and the first ACK.
    pub async fn connect(ws_url: &str, session_id: &str, key: &str) -> Result<Self, String> {
        let how = Connect {
            header_key: Some(key.to_string()),
            tether: true,
            ..Default::default()
        };
        let (ws, _) = ws_connect(&format!("{ws_url}/agent?session_id={session_id}"), &how).await?;
        let mut socket = FrameSocket::new(ws);
        match socket.next_event().await {
            Event::Frame(Frame::Control(Control::Ready)) => {}
            Event::Closed(code, reason) => return Err(format!("closed {code}: {reason}")),
            other => return Err(format!("expected ready, got {other:?}")),
        }
        let held = match socket.next_event().await {
            Event::Frame(Frame::Ack(n)) => n,
            other => return Err(format!("expected ACK, got {other:?}")),
        };
        Ok(Self {
            socket,
            held,
            acked: held,
        })
    }

    /// Sends one OUTPUT frame.
    pub async fn send_output(&mut self, data: &[u8]) {
        self.socket.send(&[Frame::Output(data.to_vec())]).await;
    }

    /// Sends frames as one message.
    pub async fn send(&mut self, frames: &[Frame]) {
        self.socket.send(frames).await;
    }

    /// Waits until the relay acknowledges at least `offset`; returns frames
    /// (INPUT, RESIZE, …) received meanwhile.
    pub async fn wait_ack(&mut self, offset: u64) -> Vec<Frame> {
        let mut others = Vec::new();
        while self.acked < offset {
            match self.socket.next_event().await {
                Event::Frame(Frame::Ack(n)) => self.acked = n,
                Event::Frame(frame) => others.push(frame),
                other => panic!("waiting for ACK {offset}, got {other:?}"),
            }
        }
        others
    }

    /// The next frame that is not an ACK (e.g. INPUT or RESIZE from a viewer).
    pub async fn next_command(&mut self) -> Frame {
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Ack(n)) => self.acked = n,
                Event::Frame(frame) => return frame,
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    }
}

/// What a viewer received from joining up to `history_complete`.
#[derive(Debug, Default, Clone)]
pub struct Join {
    /// Every frame, in order.
    pub frames: Vec<Frame>,
    /// The OUTPUT bytes of the history, concatenated.
    pub output: Vec<u8>,
    /// The STREAM_OFFSET before the history.
    pub start: Option<u64>,
    /// The offset in `history_complete`.
    pub complete_at: u64,
}

/// A browser-side (viewer) link.
pub struct ViewerClient {
    /// The socket.
    pub socket: FrameSocket,
    /// The subprotocol the relay echoed.
    pub echoed: Option<String>,
}

impl ViewerClient {
    /// Connects as a Tether viewer of `session_id`, with `credential` (API key
    /// or share token) as subprotocol `omnara-key.…`, from `from` if given.
    pub async fn connect(
        ws_url: &str,
        session_id: &str,
        credential: &str,
        from: Option<u64>,
    ) -> Result<Self, String> {
        let how = Connect {
            subprotocol_key: Some(credential.to_string()),
            tether: true,
            ..Default::default()
        };
        Self::connect_with(ws_url, session_id, from, &how).await
    }

    /// Connects with explicit options (legacy, header auth, no auth …).
    pub async fn connect_with(
        ws_url: &str,
        session_id: &str,
        from: Option<u64>,
        how: &Connect,
    ) -> Result<Self, String> {
        let mut url = format!("{ws_url}/terminal/{session_id}");
        if let Some(from) = from {
            url.push_str(&format!("?from={from}"));
        }
        let (ws, echoed) = ws_connect(&url, how).await?;
        Ok(Self {
            socket: FrameSocket::new(ws),
            echoed,
        })
    }

    /// Reads the join sequence up to and including `history_complete`.
    pub async fn read_history(&mut self) -> Join {
        let mut join = Join::default();
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Control(Control::HistoryComplete { offset })) => {
                    join.complete_at = offset;
                    join.frames
                        .push(Frame::Control(Control::HistoryComplete { offset }));
                    return join;
                }
                Event::Frame(frame) => {
                    match &frame {
                        Frame::Output(data) => join.output.extend_from_slice(data),
                        Frame::StreamOffset(n) if join.start.is_none() => join.start = Some(*n),
                        _ => {}
                    }
                    join.frames.push(frame);
                }
                other => panic!("during the join, got {other:?}"),
            }
        }
    }

    /// Reads frames until the OUTPUT received (from now) contains `needle`;
    /// returns that output.
    pub async fn read_output_until(&mut self, needle: &[u8]) -> Vec<u8> {
        let mut output = Vec::new();
        while !contains(&output, needle) {
            match self.socket.next_event().await {
                Event::Frame(Frame::Output(data)) => output.extend_from_slice(&data),
                Event::Frame(_) => {}
                other => panic!(
                    "waiting for {:?}, got {other:?}",
                    String::from_utf8_lossy(needle)
                ),
            }
        }
        output
    }

    /// Reads until a CONTROL frame matching `want` arrives; returns it.
    pub async fn wait_control(&mut self, want: impl Fn(&Control) -> bool) -> Control {
        loop {
            match self.socket.next_event().await {
                Event::Frame(Frame::Control(c)) if want(&c) => return c,
                Event::Frame(_) => {}
                other => panic!("waiting for a control message, got {other:?}"),
            }
        }
    }

    /// Reads until a CONTROL `error` arrives (a refused INPUT or RESIZE);
    /// returns its reason.
    pub async fn wait_error(&mut self) -> String {
        match self
            .wait_control(|c| matches!(c, Control::Error { .. }))
            .await
        {
            Control::Error { reason } => reason,
            _ => unreachable!("wait_control returned what was asked for"),
        }
    }

    /// Sends frames (INPUT, RESIZE, ACK) as one message.
    pub async fn send(&mut self, frames: &[Frame]) {
        self.socket.send(frames).await;
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
