//! `tether-relay`: streams terminal sessions from `tether` wrappers to browsers.
//!
//! A wrapper connects to `/agent` and streams its PTY output; the relay appends
//! it to the session's [`session::StreamLog`] (a bounded ring with absolute
//! offsets) and acknowledges it. Viewers connect to `/terminal/{id}`, replay
//! the history through their own cursor, then follow live output and send
//! INPUT/RESIZE back to the agent. Keys, sessions and messages live in a
//! [`store::Store`] (SQLite); terminal bytes stay in memory. The REST API
//! ([`api`]) and the viewer's static files ([`web`]) share the same listener.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod config;
pub mod home;
pub mod lifecycle;
pub mod metrics;
pub mod session;
pub mod store;
pub mod time;
pub mod transport;
pub mod web;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::routing::{any, get, post};
use axum::serve::ListenerExt as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;

use auth::Signer;
use metrics::Metrics;
use session::Registry;
use store::{SqliteStore, Store};

/// Everything the handlers share.
pub struct Shared {
    /// Settings.
    pub config: Config,
    /// Keys, sessions, messages.
    pub store: Arc<dyn Store>,
    /// Signs and verifies keys and share tokens.
    pub signer: Signer,
    /// Sessions in memory.
    pub registry: Registry,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Ids of revoked keys; links holding one close when it changes.
    pub revoked: watch::Sender<Arc<HashSet<String>>>,
    /// Becomes `true` when the relay shuts down.
    pub shutdown: watch::Sender<bool>,
    /// The viewer's files, if built.
    pub static_dir: Option<PathBuf>,
}

/// The handlers' state.
pub type AppState = Arc<Shared>;

/// The store and signer in a data directory (created if needed).
pub fn open_data_dir(data_dir: &std::path::Path) -> anyhow::Result<(SqliteStore, Signer)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let store = SqliteStore::open(&data_dir.join("relay.db")).context("opening relay.db")?;
    let signer =
        Signer::load_or_create(&data_dir.join("relay.secret")).context("reading relay.secret")?;
    Ok((store, signer))
}

/// A relay bound to its listener, ready to [`run`](Server::run).
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let server = relay_dev::Server::bind(relay_dev::Config::for_tests("/tmp/relay".into())).await?;
/// println!("listening on {}", server.local_addr());
/// let stop = server.shutdown_handle();
/// tokio::spawn(server.run());
/// stop.shutdown();
/// # Ok(()) }
/// ```
pub struct Server {
    state: AppState,
    listener: TcpListener,
}

/// Stops a running [`Server`] gracefully (viewers and agents get close 1001).
#[derive(Clone)]
pub struct ShutdownHandle(AppState);

impl ShutdownHandle {
    /// Asks the server to stop.
    pub fn shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }
}

impl Server {
    /// Opens the store in the data directory and binds the listener.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let (store, signer) = open_data_dir(&config.data_dir())?;
        let revoked = store.revoked_key_ids()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let state = Arc::new(Shared {
            static_dir: config.static_dir(),
            registry: Registry::new(config.history_bytes),
            config,
            store: Arc::new(store),
            signer,
            metrics: Metrics::default(),
            revoked: watch::Sender::new(Arc::new(revoked)),
            shutdown: watch::Sender::new(false),
        });
        Ok(Self { state, listener })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.config.listen)
    }

    /// The shared state (store, signer, registry), e.g. to mint keys in tests.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.state.clone())
    }

    /// The HTTP routes.
    pub fn router(state: AppState) -> Router {
        Router::new()
            .route("/agent", any(transport::agent::upgrade))
            .route("/terminal/{id}", any(transport::viewer::upgrade))
            .route(
                "/api/v1/agent-instances",
                post(api::register).get(api::list),
            )
            .route("/api/v1/agent-instances/{id}", get(api::show))
            .route("/api/v1/agent-instances/{id}/share", post(api::share))
            .route("/api/v1/messages/agent", post(api::post_message))
            .route("/api/v1/messages/user", post(api::post_user_message))
            .route("/api/v1/messages/pending", get(api::pending_messages))
            .route("/api/v1/sessions/end", post(api::end))
            .route("/health", get(api::health))
            .route("/metrics", get(api::metrics))
            .fallback(web::serve)
            .with_state(state)
    }

    /// Serves until [`ShutdownHandle::shutdown`]; then tells every link,
    /// waits (briefly) for them to close, and returns.
    pub async fn run(self) -> anyhow::Result<()> {
        let state = self.state;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let mut stop = state.shutdown.subscribe();
        let stopped = async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        // Terminal traffic is many small writes (keystrokes, echoes): Nagle's
        // algorithm would hold each one back until the previous is acked.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = Self::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
            .context("serving")?;
        housekeeping.abort();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while state.metrics.agents.load(Ordering::Relaxed)
            + state.metrics.viewers.load(Ordering::Relaxed)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

/// Once a second: pick up key revocations (also made by `keys revoke` in
/// another process) and drop sessions idle past the retention time.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        match state.store.revoked_key_ids() {
            Ok(revoked) => {
                state.revoked.send_if_modified(|current| {
                    let changed = **current != revoked;
                    if changed {
                        *current = Arc::new(revoked);
                    }
                    changed
                });
            }
            Err(e) => tracing::error!("reading revoked keys: {e}"),
        }
        let dropped = state.registry.sweep(state.config.retention());
        if dropped > 0 {
            tracing::info!(dropped, "dropped idle sessions from memory");
        }
    }
}

/// The local-dev first start: when the store holds no key at all, creates the
/// user `local` and a key, and saves it in `config_path` together with this
/// relay's URLs (`api_url`, `relay_url`) unless the config already names
/// some. `addr` is the bound address. Returns the saved path if a key was
/// created.
pub fn ensure_local_key(
    state: &Shared,
    config_path: &std::path::Path,
    addr: SocketAddr,
) -> anyhow::Result<Option<PathBuf>> {
    if !state.store.keys()?.is_empty() {
        return Ok(None);
    }
    let (key, record) = state.signer.mint_api_key("local")?;
    state.store.insert_key(&record)?;
    let base = format!("http://{}", browsable_addr(addr));
    home::save_local_dev(config_path, &key, &base)
        .with_context(|| format!("writing {}", config_path.display()))?;
    Ok(Some(config_path.to_path_buf()))
}

/// The address a browser or `tether` on this machine can open: loopback for
/// a wildcard bind (`0.0.0.0`, `::`).
pub fn browsable_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => {
            (std::net::Ipv4Addr::LOCALHOST, addr.port()).into()
        }
        ip if ip.is_unspecified() => (std::net::Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}
