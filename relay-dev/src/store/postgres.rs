//! The PostgreSQL [`Store`] (`--database-url postgres://…`), which several
//! relay nodes share: a bounded pool of connections ([`deadpool_postgres`]
//! over [`tokio_postgres`]), schema migrated on connect ([`schema`]), and the
//! key-signing secret kept in the database ([`PgStore::signing_secret`]) so
//! that every node verifies every key.
//!
//! The [`Store`] is blocking; this one drives its connections on a small
//! runtime of its own and blocks the calling thread (one of tokio's blocking
//! pool, through [`AsyncStore`](super::AsyncStore), or the `keys` command's)
//! on each query. Queries live in [`records`] (keys, sessions, the secret),
//! [`lists`] (messages, pages) and [`shares`].

mod lists;
mod push;
mod records;
mod schema;
mod shares;
mod tls;

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use rustls_tokio_postgres::MakeRustlsConnect;
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::{
    KeyRecord, MessageRecord, PushSubscriptionRecord, SessionRecord, ShareRecord, Store,
    StoreError, StoreResult,
};

/// How long a query waits for a free connection, and a new connection for
/// the server, before it fails.
const CONNECTION_WAIT: Duration = Duration::from_secs(10);

/// Why a query failed: the server's (or the driver's) error, or ours.
#[derive(Debug)]
enum PgFailure {
    /// From the driver: connection, SQL, conversion.
    Driver(tokio_postgres::Error),
    /// Found wrong by this store (e.g. a schema newer than this relay).
    Invalid(String),
}

impl From<tokio_postgres::Error> for PgFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Driver(e)
    }
}

/// What a query returns.
type PgResult<T> = Result<T, PgFailure>;

/// An error with its causes, `outer: inner: …` (the driver's own message
/// says only "db error" and keeps the server's words in its source).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A [`Store`] in a PostgreSQL database.
pub(crate) struct PgStore {
    pool: Pool,
    /// `host:port/db` for messages (never the password).
    target: String,
    /// Drives the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgreSQL at {}", self.target)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code (where
        // the last `Arc` of a server's store may go): shut it down without waiting.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `host:port/database` of a connection config, for messages.
fn describe_target(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

impl PgStore {
    /// Connects to the database at `url` with at most `max_connections`
    /// open at once, and creates or migrates the schema (safe when several
    /// nodes start together).
    pub(crate) fn connect(url: &str, max_connections: usize) -> StoreResult<Self> {
        let (url, tls) = tls::split_url(url)?;
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("--database-url: {}", with_causes(&e))))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECTION_WAIT);
        }
        if config.get_application_name().is_none() {
            config.application_name("tether-relay");
        }
        let target = describe_target(&config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tether-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("starting the PostgreSQL client: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls {
            Some(tls) => Manager::from_config(config, MakeRustlsConnect::new(tls), manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(CONNECTION_WAIT))
            .create_timeout(Some(CONNECTION_WAIT))
            .recycle_timeout(Some(CONNECTION_WAIT))
            .build()
            .map_err(|e| StoreError(format!("PostgreSQL connection pool: {e}")))?;
        let store = Self {
            pool,
            target,
            runtime: Some(runtime),
        };
        store.run(async |mut c| schema::migrate(&mut c).await)?;
        Ok(store)
    }

    /// The key-signing secret all nodes share: the one stored, or `fresh`
    /// when none is yet (the first node to start stores its own).
    pub(crate) fn signing_secret(&self, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        self.run(async |c| records::signing_secret(&c, fresh).await)
    }

    /// The Web Push (VAPID) key all nodes share, PKCS#8: the one stored, or
    /// `fresh` when none is yet (the first node to start stores its own), so
    /// that a browser subscribed through one node is pushed to by any.
    pub(crate) fn vapid_key(&self, fresh: &[u8]) -> StoreResult<Vec<u8>> {
        self.run(async |c| records::vapid_key(&c, fresh).await)
    }

    /// Runs `query` with a pooled connection, blocking this thread until it
    /// is done; every failure comes back as a [`StoreError`] naming the
    /// database.
    fn run<T, F: Future<Output = PgResult<T>>>(
        &self,
        query: impl FnOnce(Object) -> F,
    ) -> StoreResult<T> {
        let Some(runtime) = &self.runtime else {
            return Err(self.error("the store is closing".into()));
        };
        runtime.block_on(async {
            let client = self.pool.get().await.map_err(|e| self.pool_error(e))?;
            query(client).await.map_err(|e| match e {
                PgFailure::Driver(e) => self.error(with_causes(&e)),
                PgFailure::Invalid(text) => self.error(text),
            })
        })
    }

    fn error(&self, text: String) -> StoreError {
        StoreError(format!("PostgreSQL at {}: {text}", self.target))
    }

    fn pool_error(&self, e: PoolError) -> StoreError {
        match e {
            PoolError::Timeout(_) => self.error(format!(
                "no connection free within {CONNECTION_WAIT:?} (all {} in use, or the server does not answer)",
                self.pool.status().max_size
            )),
            PoolError::Backend(e) => self.error(with_causes(&e)),
            other => self.error(with_causes(&other)),
        }
    }
}

impl Store for PgStore {
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.run(async |c| records::insert_key(&c, key).await)
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.run(async |c| records::key(&c, id).await)
    }

    fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.run(async |c| records::keys(&c).await)
    }

    fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        self.run(async |c| records::revoke_key(&c, id).await)
    }

    fn revoked_key_ids(&self) -> StoreResult<HashSet<String>> {
        self.run(async |c| records::revoked_key_ids(&c).await)
    }

    fn put_session(&self, session: &SessionRecord) -> StoreResult<()> {
        self.run(async |c| records::put_session(&c, session).await)
    }

    fn session(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        self.run(async |c| records::session(&c, id).await)
    }

    fn sessions_of(&self, user: &str) -> StoreResult<Vec<SessionRecord>> {
        self.run(async |c| lists::sessions(&c, user, None).await)
    }

    fn add_message(&self, message: &MessageRecord) -> StoreResult<()> {
        self.run(async |c| lists::add_message(&c, message).await)
    }

    fn messages(&self, session_id: Uuid, limit: usize) -> StoreResult<Vec<MessageRecord>> {
        self.run(async |c| lists::messages(&c, session_id, limit, None).await)
    }

    fn messages_before(
        &self,
        session_id: Uuid,
        limit: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.run(async |c| lists::messages(&c, session_id, limit, before).await)
    }

    fn trim_messages(&self, session_id: Uuid, keep: usize) -> StoreResult<usize> {
        self.run(async |c| lists::trim(&c, session_id, keep).await)
    }

    fn sessions_page(
        &self,
        user: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.run(async |c| lists::sessions(&c, user, Some((limit, offset))).await)
    }

    fn insert_share(&self, share: &ShareRecord) -> StoreResult<()> {
        self.run(async |c| shares::insert(&c, share).await)
    }

    fn share(&self, id: &str) -> StoreResult<Option<ShareRecord>> {
        self.run(async |c| shares::get(&c, id).await)
    }

    fn active_shares(&self, session_id: Uuid, now: u64) -> StoreResult<Vec<ShareRecord>> {
        self.run(async |c| shares::active(&c, session_id, now).await)
    }

    fn revoke_share(&self, id: &str) -> StoreResult<bool> {
        self.run(async |c| shares::revoke(&c, id).await)
    }

    fn revoked_share_ids(&self, now: u64) -> StoreResult<HashSet<String>> {
        self.run(async |c| shares::revoked_ids(&c, now).await)
    }

    fn claim_alert(&self, session_id: Uuid, offset: u64) -> StoreResult<bool> {
        self.run(async |c| records::claim_alert(&c, session_id, offset).await)
    }

    fn put_push_subscription(&self, subscription: &PushSubscriptionRecord) -> StoreResult<()> {
        self.run(async |c| push::put(&c, subscription).await)
    }

    fn push_subscriptions_of(&self, user: &str) -> StoreResult<Vec<PushSubscriptionRecord>> {
        self.run(async |c| push::of_user(&c, user).await)
    }

    fn delete_push_subscription(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.run(async |c| push::delete(&c, user, id).await)
    }
}

#[cfg(test)]
mod tests;
