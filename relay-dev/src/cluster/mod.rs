//! What spans relay nodes, kept in Redis (`--redis-url`); without it the
//! relay is one node and none of this runs.
//!
//! * `tether:node:{node}` → the node's internal URL (`--node-url`), with a
//!   short TTL the node keeps alive ([`Cluster::heartbeat`]).
//! * `tether:session:{id}` → `"{node} {report}"`: the node holding the
//!   session's agent link (its owner) and, as JSON, the viewers it serves
//!   (in all and per share link) and the session's attention, with a TTL
//!   the owner keeps alive and renews with a fresh report every second;
//!   gone when the agent link goes or the owner dies. Every node's session
//!   and share lists read liveness, viewer counts and attention from here.
//! * Channel `tether:events` (heard in [`cluster_upkeep`](crate::cluster_upkeep)): `revoked` (a key or share link was
//!   revoked: reload the revocations now) and `owner {id} {node}` (that node
//!   took the session's agent link: others close their links to it).
//!
//! Viewers reaching a node that does not own their session are served from
//! the owner through [`proxy`](crate::transport). Redis failures are logged
//! and leave the node serving what it holds; they never fail a link.

mod keys;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands as _;
use uuid::Uuid;

use keys::{node_key, session_key, OwnerValue, Report};
pub(crate) use keys::{Event, EVENTS};

use crate::session::{AttentionNow, LiveSession};

/// How long a node's or an owner's key lives without a heartbeat.
const TTL: Duration = Duration::from_secs(3);
/// How often the keys are kept alive (well inside [`TTL`]).
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(1);
/// Longest wait for one Redis answer: a slow Redis delays a join or a list
/// by this much at most, then the node goes on without it.
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Keeps an owner's key alive only while it is still that node's: another
/// node's claim is never overwritten. Returns 1 when kept, 0 when lost.
const REFRESH: &str = r"
local v = redis.call('GET', KEYS[1])
if v == false or string.match(v, '^%S+') == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0";

/// Deletes an owner's key only if it is still that node's.
const RELEASE: &str = r"
local v = redis.call('GET', KEYS[1])
if v ~= false and string.match(v, '^%S+') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Where a session's owner is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The owner's node id.
    pub(crate) node: String,
    /// Its internal URL (`http://ADDR:PORT`).
    pub(crate) url: String,
}

/// A session as the cluster sees it: live on `node`, as its owner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presence {
    /// The owner's node id.
    pub(crate) node: String,
    /// Viewers its owner serves (viewers proxied from other nodes included).
    pub(crate) viewers: u64,
    /// Of those, the viewers of each share link, by its id.
    pub(crate) shares: BTreeMap<String, u64>,
    /// The session's attention, once its agent reported one.
    pub(crate) attention: Option<AttentionNow>,
}

/// This node's handle on Redis.
pub(crate) struct Cluster {
    node_id: String,
    node_url: String,
    client: redis::Client,
    redis: ConnectionManager,
    refresh: redis::Script,
    release: redis::Script,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the Redis URL: it may hold a password.
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("node_url", &self.node_url)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to Redis at `url` as node `node_id`, reachable by other
    /// nodes at `node_url`, and publishes that URL.
    pub(crate) async fn connect(
        url: &str,
        node_id: String,
        node_url: String,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("--redis-url is not a Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let redis = tokio::time::timeout(
            Duration::from_secs(5),
            client.get_connection_manager_with_config(config),
        )
        .await
        .context("connecting to Redis timed out")?
        .context("connecting to Redis")?;
        let cluster = Self {
            node_id,
            node_url,
            client,
            redis,
            refresh: redis::Script::new(REFRESH),
            release: redis::Script::new(RELEASE),
        };
        cluster.heartbeat(&[]).await.context("writing to Redis")?;
        Ok(cluster)
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> &str {
        &self.node_id
    }

    /// A client for a new connection (the events subscription).
    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    fn owner_value(&self, live: &LiveSession) -> String {
        OwnerValue::format(&self.node_id, &Report::of(live))
    }

    /// Makes this node the owner of `live` (it holds the agent link now),
    /// and tells the other nodes, which close their links to it.
    pub(crate) async fn claim(&self, live: &LiveSession) {
        let session = live.id;
        let mut redis = self.redis.clone();
        let claimed: redis::RedisResult<()> = redis::pipe()
            .set_ex(node_key(&self.node_id), &self.node_url, TTL.as_secs())
            .ignore()
            .pset_ex(session_key(session), self.owner_value(live), ttl_ms())
            .ignore()
            .publish(EVENTS, format!("owner {session} {}", self.node_id))
            .ignore()
            .query_async(&mut redis)
            .await;
        if let Err(e) = claimed {
            tracing::warn!(session = %session, "claiming the session in Redis: {e}");
        }
    }

    /// Gives up ownership of `session` (its agent link left), unless
    /// another node has it by now.
    pub(crate) async fn release(&self, session: Uuid) {
        let mut redis = self.redis.clone();
        let released: redis::RedisResult<i64> = self
            .release
            .key(session_key(session))
            .arg(&self.node_id)
            .invoke_async(&mut redis)
            .await;
        if let Err(e) = released {
            tracing::warn!(session = %session, "releasing the session in Redis: {e}");
        }
    }

    /// Keeps this node's URL and its sessions' owner keys alive, with fresh
    /// reports (`live`: the sessions whose agent link it holds); a key Redis
    /// lost (it restarted) is written again. Returns the sessions another
    /// node has claimed meanwhile.
    pub(crate) async fn heartbeat(&self, live: &[LiveSession]) -> redis::RedisResult<Vec<Uuid>> {
        let mut pipe = redis::pipe();
        pipe.set_ex(node_key(&self.node_id), &self.node_url, TTL.as_secs())
            .ignore();
        if !live.is_empty() {
            // EVALSHA needs the script loaded (a restarted Redis forgot it).
            pipe.load_script(&self.refresh).ignore();
        }
        for session in live {
            let mut call = self.refresh.key(session_key(session.id));
            call.arg(&self.node_id)
                .arg(self.owner_value(session))
                .arg(ttl_ms());
            pipe.invoke_script(&call);
        }
        let mut redis = self.redis.clone();
        let kept: Vec<i64> = pipe.query_async(&mut redis).await?;
        Ok(live
            .iter()
            .zip(kept)
            .filter(|(_, kept)| *kept == 0)
            .map(|(session, _)| session.id)
            .collect())
    }

    /// Which of `sessions` are live, on which node, as their owners report
    /// them; `None` when Redis does not answer.
    pub(crate) async fn presence(&self, sessions: &[Uuid]) -> Option<HashMap<Uuid, Presence>> {
        if sessions.is_empty() {
            return Some(HashMap::new());
        }
        let keys: Vec<String> = sessions.iter().map(|id| session_key(*id)).collect();
        let mut redis = self.redis.clone();
        let values: Vec<Option<String>> = match redis.mget(&keys).await {
            Ok(values) => values,
            Err(e) => {
                tracing::warn!("reading sessions' liveness from Redis: {e}");
                return None;
            }
        };
        let presence = sessions
            .iter()
            .zip(values)
            .filter_map(|(id, value)| {
                let owner = OwnerValue::parse(value.as_deref()?)?;
                let presence = Presence {
                    node: owner.node.to_string(),
                    viewers: owner.report.viewers,
                    attention: owner.report.attention_now(),
                    shares: owner.report.shares,
                };
                Some((*id, presence))
            })
            .collect();
        Some(presence)
    }

    /// The node that holds `session`'s agent link and its URL, if some node
    /// does and Redis answers.
    pub(crate) async fn owner(&self, session: Uuid) -> Option<Owner> {
        let mut redis = self.redis.clone();
        let value: Option<String> = match redis.get(session_key(session)).await {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(session = %session, "reading the session's owner from Redis: {e}");
                return None;
            }
        };
        let node = OwnerValue::parse(value.as_deref()?)?.node.to_string();
        if node == self.node_id {
            return Some(Owner {
                node,
                url: self.node_url.clone(),
            });
        }
        let url: Option<String> = redis.get(node_key(&node)).await.ok()?;
        Some(Owner { node, url: url? })
    }

    /// Tells every node that a key or share link was revoked.
    pub(crate) async fn publish_revocation(&self) {
        let mut redis = self.redis.clone();
        let published: redis::RedisResult<i64> = redis.publish(EVENTS, "revoked").await;
        if let Err(e) = published {
            tracing::warn!("broadcasting a revocation through Redis: {e}");
        }
    }
}

/// [`TTL`] in milliseconds.
fn ttl_ms() -> u64 {
    TTL.as_millis() as u64
}

/// Tells every node of a revocation made outside a running relay (the
/// `keys revoke` command), when a Redis URL is given.
pub(crate) fn publish_revocation_blocking(url: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url).context("--redis-url is not a Redis URL")?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .context("connecting to Redis")?;
    redis::cmd("PUBLISH")
        .arg(EVENTS)
        .arg("revoked")
        .query::<i64>(&mut conn)
        .context("publishing the revocation")?;
    Ok(())
}
