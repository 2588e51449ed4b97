//! `tether-relay keys create|list|revoke`: API keys, managed in the store
//! directly — the data directory's, or with `--database-url` the shared
//! PostgreSQL database from any machine (no server needed; running relays
//! pick up a revocation within a second, and at once with `--redis-url`,
//! which tells every node).

use crate::config::{Config, KeysCommand};
use crate::persistence::open_store;
use crate::time::rfc3339;

/// Runs one `keys` command, printing its result on stdout.
pub fn run_keys_command(config: &Config, command: KeysCommand) -> anyhow::Result<()> {
    let (store, signer) = open_store(config)?;
    match command {
        KeysCommand::Create { user } => {
            let (key, record) = signer.mint_api_key(&user)?;
            store.insert_key(&record)?;
            println!("created key {} for user {user}", record.id);
            println!("{key}");
        }
        KeysCommand::List => {
            for key in store.keys()? {
                let state = if key.revoked { "revoked" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{state}",
                    key.id,
                    key.user,
                    rfc3339(key.created_at)
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_key(&id)? {
                anyhow::bail!("no key with id {id}");
            }
            println!("revoked key {id}");
            if let Some(url) = &config.redis_url {
                crate::cluster::publish_revocation_blocking(url)?;
            }
        }
    }
    Ok(())
}
