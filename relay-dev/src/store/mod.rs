//! Persistent records — API keys (hashed), sessions, session messages, share
//! grants — behind the [`Store`] trait, with two implementations:
//! [`SqliteStore`] (one file in the data directory, the default) and
//! [`PgStore`] (PostgreSQL at `--database-url`, shared by several nodes);
//! [`crate::persistence::open_store`] picks one. Terminal bytes are never stored. The [`Store`]
//! is blocking: async code (handlers, links) calls it through
//! [`AsyncStore`], which runs each call on tokio's blocking pool; only the
//! `keys` command, outside any runtime, calls it directly.

mod async_store;
#[cfg(test)]
mod conformance;
mod postgres;
mod sqlite;

pub(crate) use async_store::AsyncStore;
pub(crate) use postgres::PgStore;
pub(crate) use sqlite::SqliteStore;

use std::collections::HashSet;

use protocol::Role;
use uuid::Uuid;

/// A failure of the storage backend.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub(crate) struct StoreError(pub(crate) String);

/// Result of a store operation.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// An API key as stored: never the key itself, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRecord {
    /// The key's public id (also embedded in the key).
    pub(crate) id: String,
    /// The user the key belongs to.
    pub(crate) user: String,
    /// SHA-256 of the whole key, hex.
    pub(crate) hash: String,
    /// Unix seconds.
    pub(crate) created_at: u64,
    /// Whether the key was revoked.
    pub(crate) revoked: bool,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRecord {
    /// The session id.
    pub(crate) id: Uuid,
    /// The owner.
    pub(crate) user: String,
    /// `claude`, `codex`, … as registered.
    pub(crate) agent_type: String,
    /// Display name, if any.
    pub(crate) name: Option<String>,
    /// Unix seconds.
    pub(crate) created_at: u64,
    /// Unix seconds of the last registration, link or message.
    pub(crate) last_activity: u64,
    /// Unix seconds at which it ended, if it did.
    pub(crate) ended_at: Option<u64>,
    /// The agent's exit status, if known.
    pub(crate) exit_status: Option<i32>,
}

/// One entry of a session's message log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageRecord {
    /// Message id.
    pub(crate) id: Uuid,
    /// Session it belongs to.
    pub(crate) session_id: Uuid,
    /// The text.
    pub(crate) content: String,
    /// Who wrote it: `agent` or `user`.
    pub(crate) sender: String,
    /// Whether the agent waits for an answer.
    pub(crate) requires_user_input: bool,
    /// Unix seconds.
    pub(crate) created_at: u64,
}

/// A share link as stored: the grant its token names (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShareRecord {
    /// The link's public id (also in the token).
    pub(crate) id: String,
    /// The session it opens.
    pub(crate) session_id: Uuid,
    /// What its holder may do.
    pub(crate) role: Role,
    /// The API key that minted it: revoking the key revokes the link.
    pub(crate) key_id: String,
    /// Unix seconds.
    pub(crate) created_at: u64,
    /// Unix seconds after which it is refused.
    pub(crate) expires_at: u64,
    /// Whether it was revoked.
    pub(crate) revoked: bool,
}

/// A browser's Web Push subscription (RFC 8030), as the viewer registered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushSubscriptionRecord {
    /// Its id (random), for deleting it.
    pub(crate) id: String,
    /// The user it alerts.
    pub(crate) user: String,
    /// The push service's URL for it (a capability: never logged).
    pub(crate) endpoint: String,
    /// The browser's P-256 public key, base64url (RFC 8291 `p256dh`).
    pub(crate) p256dh: String,
    /// The 16-byte authentication secret, base64url (RFC 8291 `auth`).
    pub(crate) auth: String,
    /// Unix seconds.
    pub(crate) created_at: u64,
}

/// Where the relay keeps keys, sessions, messages and share grants.
pub(crate) trait Store: Send + Sync {
    /// Saves a new key.
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// The key with this id.
    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>>;
    /// Every key, oldest first.
    fn keys(&self) -> StoreResult<Vec<KeyRecord>>;
    /// Revokes a key; `false` if there is no such key.
    fn revoke_key(&self, id: &str) -> StoreResult<bool>;
    /// Ids of all revoked keys.
    fn revoked_key_ids(&self) -> StoreResult<HashSet<String>>;

    /// Creates or replaces a session record.
    fn put_session(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The session with this id.
    fn session(&self, id: Uuid) -> StoreResult<Option<SessionRecord>>;
    /// A user's sessions, newest first.
    fn sessions_of(&self, user: &str) -> StoreResult<Vec<SessionRecord>>;

    /// Appends a message to a session's log.
    fn add_message(&self, message: &MessageRecord) -> StoreResult<()>;
    /// The last `limit` messages of a session, oldest first.
    fn messages(&self, session_id: Uuid, limit: usize) -> StoreResult<Vec<MessageRecord>>;
    /// The last `limit` messages of a session before message `before` (all
    /// of them when `None`), oldest first.
    fn messages_before(
        &self,
        session_id: Uuid,
        limit: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<MessageRecord>>;
    /// Deletes all but the latest `keep` messages of a session; returns how many went.
    fn trim_messages(&self, session_id: Uuid, keep: usize) -> StoreResult<usize>;
    /// A user's sessions, newest first: `limit` after skipping `offset`.
    fn sessions_page(
        &self,
        user: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<SessionRecord>>;

    /// Saves a new share grant (and may forget grants expired by then).
    fn insert_share(&self, share: &ShareRecord) -> StoreResult<()>;
    /// The share grant with this id.
    fn share(&self, id: &str) -> StoreResult<Option<ShareRecord>>;
    /// A session's grants that work at `now` (not expired, not revoked,
    /// minting key not revoked), oldest first.
    fn active_shares(&self, session_id: Uuid, now: u64) -> StoreResult<Vec<ShareRecord>>;
    /// Revokes a share grant; `false` if there is no such grant.
    fn revoke_share(&self, id: &str) -> StoreResult<bool>;
    /// Ids of grants unexpired at `now` that no longer work: revoked, or
    /// minted by a revoked key.
    fn revoked_share_ids(&self, now: u64) -> StoreResult<HashSet<String>>;

    /// Records that session `session_id`'s wait at stream offset `offset`
    /// was alerted; `false` if this wait (or a later one) already was.
    fn claim_alert(&self, session_id: Uuid, offset: u64) -> StoreResult<bool>;
    /// Saves a push subscription, replacing the user's one with the same endpoint.
    fn put_push_subscription(&self, subscription: &PushSubscriptionRecord) -> StoreResult<()>;
    /// A user's push subscriptions, oldest first.
    fn push_subscriptions_of(&self, user: &str) -> StoreResult<Vec<PushSubscriptionRecord>>;
    /// Deletes push subscription `id` of `user`; `false` if there is none.
    fn delete_push_subscription(&self, user: &str, id: &str) -> StoreResult<bool>;
}
