//! [`Shared`]: the state every handler, link and background task of one
//! relay shares (built by [`Server::bind`](crate::Server::bind)). It holds
//! the parts; the parts never reach back for it, so it sits between them
//! and the code that uses them all (the API, the transports, the tasks).

use std::sync::Arc;

use tokio::sync::watch;

use crate::auth::{self, Revoked, ShareViewers, Signer};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::input_rate::InputRates;
use crate::metrics::Metrics;
use crate::push::{self, PushService};
use crate::session::Registry;
use crate::store::AsyncStore;

/// Everything the handlers share.
pub(crate) struct Shared {
    /// Settings.
    pub(crate) config: Config,
    /// Keys, sessions, messages.
    pub(crate) store: AsyncStore,
    /// Signs and verifies keys and share tokens.
    pub(crate) signer: Signer,
    /// Sessions in memory.
    pub(crate) registry: Registry,
    /// Counters for `/metrics`.
    pub(crate) metrics: Metrics,
    /// Viewers' input buckets, by session and credential.
    pub(crate) input_rates: InputRates,
    /// Revoked keys and share links; links holding one close when it changes.
    pub(crate) revoked: watch::Sender<Arc<Revoked>>,
    /// Viewers open now through each share link.
    pub(crate) share_viewers: ShareViewers,
    /// Web Push to the owners of sessions that start waiting (`None` when
    /// the relay has no data directory for its VAPID key).
    pub(crate) push: Option<PushService>,
    /// Becomes `true` when the relay shuts down.
    pub(crate) shutdown: watch::Sender<bool>,
    /// The other nodes, through Redis (`--redis-url`); `None` for one node.
    pub(crate) cluster: Option<Cluster>,
}

/// The handlers' state.
pub(crate) type AppState = Arc<Shared>;

impl Shared {
    /// Reloads the revoked grants and, if they changed, tells every open link.
    pub(crate) async fn refresh_revocations(&self) {
        auth::refresh_revocations(&self.store, &self.revoked).await;
    }
}

impl push::SenderContext for Shared {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn store(&self) -> &AsyncStore {
        &self.store
    }
}
