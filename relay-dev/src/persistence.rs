//! Which store a relay (or a `keys` command) uses: PostgreSQL at
//! `--database-url`, shared by every node, or else SQLite in the data
//! directory — and the key-signing secret (and for a relay the Web Push
//! key) that goes with it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::auth::Signer;
use crate::config::Config;
use crate::push::VapidKey;
use crate::store::{PgStore, SqliteStore, Store};

/// Opens the store `config` names, with its signer: PostgreSQL (schema
/// migrated, the signing secret read from the database, or stored there by
/// the first node) when `--database-url` is given, else the data directory.
/// Blocking: call it off the async runtime.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Signer)> {
    let opened = open(config, false)?;
    Ok((opened.store, opened.signer))
}

/// What a relay opens: the store, its signer, and with PostgreSQL the Web
/// Push (VAPID) key the nodes share (PKCS#8; stored there by the first
/// node). Without PostgreSQL the key is the data directory's `vapid.pk8`.
pub(crate) struct RelayStore {
    /// The store.
    pub(crate) store: Arc<dyn Store>,
    /// Its key-signing secret.
    pub(crate) signer: Signer,
    /// The shared VAPID key, with `--database-url`.
    pub(crate) shared_vapid_key: Option<Vec<u8>>,
}

/// [`open_store`] for a relay, with the shared VAPID key. Blocking.
pub(crate) fn open_relay_store(config: &Config) -> anyhow::Result<RelayStore> {
    open(config, true)
}

fn open(config: &Config, with_vapid: bool) -> anyhow::Result<RelayStore> {
    let Some(url) = &config.database_url else {
        let data_dir = config.data_dir()?;
        let (store, signer) = open_data_dir(&data_dir)?;
        tracing::debug!("store: SQLite in {}", data_dir.display());
        return Ok(RelayStore {
            store: Arc::new(store),
            signer,
            shared_vapid_key: None,
        });
    };
    let store = PgStore::connect(url.expose(), config.database_connections)?;
    let secret = store.signing_secret(&Signer::random_secret()?)?;
    let shared_vapid_key = if with_vapid {
        Some(store.vapid_key(&VapidKey::generate_pkcs8()?)?)
    } else {
        None
    };
    tracing::info!("store: {store:?}");
    Ok(RelayStore {
        store: Arc::new(store),
        signer: Signer::new(secret),
        shared_vapid_key,
    })
}

/// The SQLite store and signer in a data directory (created 0700 if needed).
fn open_data_dir(data_dir: &Path) -> anyhow::Result<(SqliteStore, Signer)> {
    crate::private_files::create_private_dir(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let store = SqliteStore::open(&data_dir.join("relay.db")).context("opening relay.db")?;
    let signer =
        Signer::load_or_create(&data_dir.join("relay.secret")).context("reading relay.secret")?;
    Ok((store, signer))
}
