//! [`Server`]: the relay bound to its listener — the state every handler
//! shares ([`Shared`], built here), the routes, housekeeping, and a
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::{Revoked, ShareViewers};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::input_rate::InputRates;
use crate::metrics::{set, Metrics};
use crate::persistence::{open_relay_store, RelayStore};
use crate::push::{self, PushQueue, PushService, VapidKey};
use crate::session::{Budget, Registry};
use crate::state::{AppState, Shared};
use crate::store::AsyncStore;
use crate::{api, listen, local_key, transport, web};

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

/// The push service, with the VAPID key the nodes share (`shared`, from
/// the database), else the one in the data directory (made on first start,
/// 0600).
fn open_push(config: &Config, shared: Option<&[u8]>) -> anyhow::Result<(PushService, PushQueue)> {
    if let Some(pkcs8) = shared {
        let vapid =
            VapidKey::from_pkcs8(pkcs8, &config.push_contact(), "the database's Web Push key")?;
        return Ok(PushService::new(vapid, config.push_allow_http));
    }
    let dir = config.data_dir()?;
    crate::private_files::create_private_dir(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("vapid.pk8");
    let vapid = VapidKey::load_or_create(&path, &config.push_contact())
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(PushService::new(vapid, config.push_allow_http))
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
    /// Opens the store (PostgreSQL at `--database-url`, else SQLite in the
    /// data directory) and binds the listener.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let options = config.clone();
        let RelayStore {
            store,
            signer,
            shared_vapid_key,
        } = tokio::task::spawn_blocking(move || open_relay_store(&options))
            .await
            .context("opening the store")??;
        let store = AsyncStore::new(store);
        let revoked = Revoked::load(&store).await?;
        let (push, push_queue) = match open_push(&config, shared_vapid_key.as_deref()) {
            Ok((push, queue)) => (Some(push), Some(queue)),
            Err(e) => {
                tracing::warn!("Web Push is off: {e:#}");
                (None, None)
            }
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let cluster = match &config.redis_url {
            Some(url) => Some(join_cluster(&config, url, listener.local_addr()?).await?),
            None => None,
        };
        let state = Arc::new(Shared {
            cluster,
            registry: Registry::new(
                config.history_bytes,
                Budget {
                    per_user: config.user_memory_budget,
                    global: config.memory_budget,
                },
            ),
            input_rates: InputRates::new(config.max_input_rate),
            config,
            store,
            signer,
            metrics: Metrics::default(),
            revoked: watch::Sender::new(Arc::new(revoked)),
            share_viewers: ShareViewers::default(),
            push,
            shutdown: watch::Sender::new(false),
        });
        if let (Some(push), Some(queue)) = (&state.push, push_queue) {
            push::spawn_sender(Arc::downgrade(&state), queue, push.vapid());
        }
        Ok(Self { state, listener })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.config.listen)
    }

    /// The dashboard's address for a browser on this machine (loopback for
    /// a wildcard bind).
    pub fn dashboard_url(&self) -> String {
        format!("{}/", local_key::browsable_base(self.local_addr()))
    }

    /// A handle that stops the server.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.state.clone())
    }

    /// Creates an API key for `user` (as `tether-relay keys create` does)
    /// and returns it.
    pub async fn create_api_key(&self, user: &str) -> anyhow::Result<String> {
        let (key, record) = self.state.signer.mint_api_key(user)?;
        self.state.store.insert_key(record).await?;
        Ok(key)
    }

    /// The local-dev first start: when the store holds no key at all,
    /// creates the user `local` and a key, and saves it in Tether's home
    /// (`config.json`) with this relay's URLs — unless that file holds a key
    /// already or names another relay, which is never replaced. Returns what
    /// was done, if a key was created.
    pub async fn ensure_local_key(&self) -> anyhow::Result<Option<local_key::LocalKey>> {
        local_key::ensure(&self.state, self.local_addr()).await
    }

    /// The HTTP routes.
    fn router(state: AppState) -> Router {
        let static_dir = state.config.static_dir();
        Router::new()
            .merge(transport::routes(&state))
            .merge(api::routes())
            .merge(web::routes(static_dir))
            .with_state(state)
    }

    /// Serves until [`ShutdownHandle::shutdown`]; then tells every link,
    /// waits (briefly) for them to close, and returns.
    pub async fn run(self) -> anyhow::Result<()> {
        let state = self.state;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let upkeep = state
            .cluster
            .is_some()
            .then(|| tokio::spawn(crate::cluster_upkeep::run(state.clone())));
        let stop = state.shutdown.subscribe();
        let app = Self::router(state.clone());
        listen::serve(self.listener, app, state.clone(), stop).await;
        housekeeping.abort();
        if let Some(upkeep) = upkeep {
            upkeep.abort();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while state.metrics.agents.load(Ordering::Relaxed)
            + state.metrics.viewers.load(Ordering::Relaxed)
            + state.metrics.proxied_viewers.load(Ordering::Relaxed)
            > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

/// Connects to the cluster's Redis as this node (`--node-id`, else a random
/// one), reachable at `--node-url` (else the bound address).
async fn join_cluster(config: &Config, url: &str, bound: SocketAddr) -> anyhow::Result<Cluster> {
    let node_id = config
        .node_id
        .clone()
        .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    let node_url = match &config.node_url {
        Some(url) => url.clone(),
        None if bound.ip().is_unspecified() => anyhow::bail!(
            "listening on {bound}, a wildcard address: pass --node-url http://ADDR:PORT (where the other nodes reach this one)"
        ),
        None => format!("http://{bound}"),
    };
    let cluster = Cluster::connect(url, node_id, node_url).await?;
    tracing::info!(node = cluster.node_id(), "joined the cluster through Redis");
    Ok(cluster)
}

/// Once a second: pick up revocations of keys and share links (also made by
/// `keys revoke` in another process), drop sessions idle past the
/// retention time, and warm the snapshots of sessions that went quiet.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        state.refresh_revocations().await;
        state.input_rates.sweep();
        let dropped = state.registry.sweep(state.config.retention());
        set(&state.metrics.history_bytes, state.registry.held_bytes());
        state
            .registry
            .warm_quiet_sessions(state.config.snapshot_lines);
        let parsed = state.registry.snapshot_stats();
        set(
            &state.metrics.snapshot_parsed_at_join,
            parsed.at_join.load(Ordering::Relaxed),
        );
        set(
            &state.metrics.snapshot_parsed_warm,
            parsed.warm.load(Ordering::Relaxed),
        );
        if dropped > 0 {
            tracing::info!(dropped, "dropped idle sessions from memory");
        }
    }
}
