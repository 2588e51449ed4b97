//! The listener: accepts TCP connections within the caps ([`limits`]: in
//! all, below the descriptor limit ([`descriptors`]), and per client
//! address), refuses beyond them at once with a 503 and the reason, and
//! serves each connection with hyper under timers axum's own server lacks:
//! a header-read timeout (also between keep-alive requests) and an idle
//! timeout. A WebSocket link keeps its connection's place until it closes.
//! Failed accepts are counted and logged, never a silent stall.

mod descriptors;
mod idle;
mod limits;

use descriptors::{connection_cap, raise_limit};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::metrics::{add, set};
use crate::state::AppState;
use idle::{Activity, Watched};
use limits::{ConnectionLimits, Full, Place};

/// Connections being refused at once (each holds a descriptor for a moment);
/// beyond this, refused connections are closed without an answer.
const MAX_REFUSING: usize = 32;

/// How long a refused connection is kept to read what the client sent
/// (closing with unread data would reset the connection, losing the 503).
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// How long shutdown waits for HTTP requests in flight.
const DRAIN: Duration = Duration::from_secs(3);

/// Serves `app` on `listener` until `stop` turns `true`; then lets the
/// requests in flight finish (briefly) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    state: AppState,
    mut stop: watch::Receiver<bool>,
) {
    let cap = connection_cap(state.config.max_connections, raise_limit());
    if cap < state.config.max_connections {
        tracing::info!(
            cap,
            "connection cap lowered to fit the file-descriptor limit"
        );
    }
    set(&state.metrics.connection_limit, cap as u64);
    let gauge = state.clone();
    let limits = Arc::new(ConnectionLimits::new(
        cap,
        state.config.max_connections_per_ip,
        Box::new(move |open| set(&gauge.metrics.connections, open as u64)),
    ));
    let refusing = Arc::new(AtomicUsize::new(0));
    let (serving, _) = watch::channel(0usize);
    let mut errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                add(&state.metrics.accept_errors, 1);
                errors.log(&e);
                // Out of descriptors or memory: give closing links a moment.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        match limits.try_open(peer.ip()) {
            Ok(place) => {
                serving.send_modify(|n| *n += 1);
                let connection = Connection {
                    state: state.clone(),
                    app: app.clone(),
                    serving: serving.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(connection.serve(tcp, peer, place));
            }
            Err(full) => {
                add(&state.metrics.connections_refused, 1);
                tracing::debug!(%peer, "connection refused: {full}");
                if refusing.load(Ordering::Relaxed) < MAX_REFUSING {
                    refusing.fetch_add(1, Ordering::Relaxed);
                    let refusing = refusing.clone();
                    tokio::spawn(async move {
                        refuse(tcp, full).await;
                        refusing.fetch_sub(1, Ordering::Relaxed);
                    });
                }
            }
        }
    }
    drop(listener);
    let mut serving = serving.subscribe();
    let _ = tokio::time::timeout(DRAIN, serving.wait_for(|n| *n == 0)).await;
}

/// Kernel keepalive probes: the first after 30 s of silence, then every
/// 10 s; three unanswered and the connection is reset.
const TCP_KEEPALIVE: socket2::TcpKeepalive = socket2::TcpKeepalive::new()
    .with_time(Duration::from_secs(30))
    .with_interval(Duration::from_secs(10))
    .with_retries(3);

/// What one connection's task needs.
struct Connection {
    state: AppState,
    app: Router,
    serving: watch::Sender<usize>,
    stop: watch::Receiver<bool>,
}

impl Connection {
    /// Serves HTTP on `tcp` until it closes, is idle too long, or upgrades
    /// (then the link holds `place`).
    async fn serve(mut self, tcp: TcpStream, peer: SocketAddr, place: Place) {
        // Terminal traffic is many small writes (keystrokes, echoes): Nagle's
        // algorithm would hold each one back until the previous is acked.
        let _ = tcp.set_nodelay(true);
        // A peer that vanished without a FIN (a phone off the network) is
        // found by the kernel within about a minute, also on links the relay
        // does not ping (legacy agents).
        let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&TCP_KEEPALIVE);
        let config = &self.state.config;
        let activity = Activity::new();
        let io = TokioIo::new(Watched::new(tcp, activity.clone(), place));
        let app = self.app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(config.header_timeout.max(1)));
        let mut connection = Box::pin(http.serve_connection(io, service).with_upgrades());
        let idle_timeout = Duration::from_secs(config.idle_timeout.max(1));
        let mut check = tokio::time::interval(Duration::from_secs(1).min(idle_timeout));
        let mut stopping = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                    break;
                }
                _ = self.stop.wait_for(|stopping| *stopping), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = check.tick() => {
                    if activity.idle_for() >= idle_timeout {
                        tracing::debug!(%peer, "closing an idle connection");
                        break;
                    }
                }
            }
        }
        // A WebSocket link took the socket (and its place) if it upgraded.
        drop(connection);
        self.serving.send_modify(|n| *n -= 1);
    }
}

/// Answers a connection beyond the caps with a 503 and the reason, then
/// closes it once the client's request is read (or after a moment).
async fn refuse(mut tcp: TcpStream, full: Full) {
    let body =
        serde_json::to_string(&protocol::api::ErrorBody::new(full.to_string())).unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 5\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let answered = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await?;
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(REFUSAL_LINGER, answered).await;
}

/// Logs failed accepts: the first at once, then at most one line a second
/// with how many failed meanwhile.
#[derive(Default)]
struct AcceptErrors {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    fn log(&mut self, error: &std::io::Error) {
        if self
            .last_logged
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        tracing::error!(
            also_failed = self.unlogged,
            "accepting a connection failed: {error} (out of file descriptors? see --max-connections)"
        );
        self.last_logged = Some(Instant::now());
        self.unlogged = 0;
    }
}
