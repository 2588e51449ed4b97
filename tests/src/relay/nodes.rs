//! Several relay nodes sharing one store and one Redis ([`RelayNodes`]):
//! the set-up of the multi-node tests. The store is a real PostgreSQL
//! ([`RelayNodes::start_on_postgres`], as a deployment has it) or, where a
//! test is about Redis alone and should start fast, a shared data directory
//! (SQLite, in WAL mode, serves several processes on one machine; the
//! signing secret is the same file). Each node has its own id and port
//! (and, with [`RelayNodes::start_apart`], its own data directory, as
//! separate machines have); all are killed on drop, the servers last.

use super::RelayProcess;
use crate::services::postgres::PostgresServer;
use crate::services::redis::RedisServer;

/// Relay nodes on Redis, sharing one store.
pub struct RelayNodes {
    /// The nodes, `node1`, `node2`, … in order.
    pub nodes: Vec<RelayProcess>,
    /// The Redis they share.
    pub redis: RedisServer,
    /// One home (data directory) for all nodes, or one each.
    homes: Vec<tempfile::TempDir>,
    /// The PostgreSQL they share, if they do.
    _postgres: Option<PostgresServer>,
}

impl RelayNodes {
    /// Starts Redis and `count` nodes with extra `args`; `None` (after the
    /// note, or a failure under `TETHER_REQUIRE_TOOLS=1`) without Redis.
    pub fn start(count: usize, args: &[&str]) -> Option<Self> {
        Self::start_with_store(count, args, None, false)
    }

    /// Like [`start`](Self::start), the store in a fresh PostgreSQL
    /// database; `None` without PostgreSQL or Redis.
    pub fn start_on_postgres(count: usize, args: &[&str]) -> Option<Self> {
        Self::on_postgres(count, args, false)
    }

    /// Like [`start_on_postgres`](Self::start_on_postgres), each node with
    /// a data directory of its own: all they share is in the database.
    pub fn start_apart(count: usize, args: &[&str]) -> Option<Self> {
        Self::on_postgres(count, args, true)
    }

    fn on_postgres(count: usize, args: &[&str], apart: bool) -> Option<Self> {
        let postgres = PostgresServer::start()?;
        let url = postgres.create_database("tether");
        let mut all = vec!["--database-url", url.as_str()];
        all.extend(args);
        Self::start_with_store(count, &all, Some(postgres), apart)
    }

    fn start_with_store(
        count: usize,
        args: &[&str],
        postgres: Option<PostgresServer>,
        apart: bool,
    ) -> Option<Self> {
        let redis = RedisServer::start()?;
        let home = || tempfile::tempdir().expect("a temporary home for the nodes");
        let homes: Vec<_> = (0..if apart { count } else { 1 }).map(|_| home()).collect();
        let url = redis.url();
        let nodes = (1..=count)
            .map(|i| {
                let home = homes[if apart { i - 1 } else { 0 }].path();
                let id = format!("node{i}");
                let mut all = vec!["--redis-url", &url, "--node-id", &id];
                // Relayed viewers all come from the other nodes' address.
                all.extend(["--max-connections-per-ip", "0"]);
                all.extend(args);
                RelayProcess::start_in(home, &all)
            })
            .collect();
        Some(Self {
            nodes,
            redis,
            homes,
            _postgres: postgres,
        })
    }

    /// Node `i` (0-based).
    pub fn node(&self, i: usize) -> &RelayProcess {
        &self.nodes[i]
    }

    /// The local-dev key the first node created (user `local`).
    pub fn key(&self) -> String {
        self.nodes[0].api_key()
    }

    /// Creates a key for `user` in the shared store.
    pub fn create_key(&self, user: &str) -> String {
        self.nodes[0].create_key(user)
    }

    /// Revokes `key` with `tether-relay keys revoke ID --redis-url …`, which
    /// tells every node at once.
    pub fn revoke_key(&self, key: &str) {
        let id = key.split('.').nth(1).expect("key has an id part");
        let url = self.redis.url();
        self.nodes[0].keys_command(&["revoke", id, "--redis-url", &url]);
    }

    /// Every node's log, for failure messages.
    pub fn logs(&self) -> String {
        if self.homes.len() == 1 {
            // The nodes share their home: one log, interleaved.
            return self.nodes[0].log();
        }
        self.nodes.iter().map(RelayProcess::log).collect()
    }
}
