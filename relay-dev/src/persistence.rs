//! Which store a relay (or a `keys` command) uses: PostgreSQL at
//! `--database-url`, shared by every node, or else SQLite in the data
//! directory — and the key-signing secret that goes with it.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::auth::Signer;
use crate::config::Config;
use crate::store::{PgStore, SqliteStore, Store};

/// Opens the store `config` names, with its signer: PostgreSQL (schema
/// migrated, the signing secret read from the database, or stored there by
/// the first node) when `--database-url` is given, else the data directory.
/// Blocking: call it off the async runtime.
pub(crate) fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, Signer)> {
    let Some(url) = &config.database_url else {
        let data_dir = config.data_dir()?;
        let (store, signer) = open_data_dir(&data_dir)?;
        tracing::debug!("store: SQLite in {}", data_dir.display());
        return Ok((Arc::new(store), signer));
    };
    let store = PgStore::connect(url.expose(), config.database_connections)?;
    let secret = store.signing_secret(&Signer::random_secret()?)?;
    tracing::info!("store: {store:?}");
    Ok((Arc::new(store), Signer::new(secret)))
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
