//! [`AsyncStore`]: the [`Store`] as async code calls it, each call on tokio's
//! blocking pool, so a slow disk stalls only the request that waits for it,
//! never the links sharing the runtime's threads.

use std::sync::Arc;

use uuid::Uuid;

use super::{KeyRecord, MessageRecord, SessionRecord, ShareRecord, Store, StoreError, StoreResult};

/// A shared [`Store`] whose calls run off the async runtime.
#[derive(Clone)]
pub(crate) struct AsyncStore(Arc<dyn Store>);

impl std::fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncStore(..)")
    }
}

impl AsyncStore {
    /// Wraps a store.
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self(store)
    }

    /// Runs `f` with the store on the blocking pool: one hop for several
    /// calls that belong together (read, change, write).
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|e| StoreError(format!("store task failed: {e}")))?
    }

    /// [`Store::insert_key`].
    pub(crate) async fn insert_key(&self, key: KeyRecord) -> StoreResult<()> {
        self.call(move |s| s.insert_key(&key)).await
    }

    /// [`Store::key`].
    pub(crate) async fn key(&self, id: String) -> StoreResult<Option<KeyRecord>> {
        self.call(move |s| s.key(&id)).await
    }

    /// [`Store::keys`].
    pub(crate) async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.call(|s| s.keys()).await
    }

    /// [`Store::put_session`].
    pub(crate) async fn put_session(&self, session: SessionRecord) -> StoreResult<()> {
        self.call(move |s| s.put_session(&session)).await
    }

    /// [`Store::session`].
    pub(crate) async fn session(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        self.call(move |s| s.session(id)).await
    }

    /// [`Store::messages`].
    pub(crate) async fn messages(
        &self,
        session_id: Uuid,
        limit: usize,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.call(move |s| s.messages(session_id, limit)).await
    }

    /// [`Store::insert_share`].
    pub(crate) async fn insert_share(&self, share: ShareRecord) -> StoreResult<()> {
        self.call(move |s| s.insert_share(&share)).await
    }

    /// [`Store::share`].
    pub(crate) async fn share(&self, id: String) -> StoreResult<Option<ShareRecord>> {
        self.call(move |s| s.share(&id)).await
    }

    /// [`Store::active_shares`].
    pub(crate) async fn active_shares(
        &self,
        session_id: Uuid,
        now: u64,
    ) -> StoreResult<Vec<ShareRecord>> {
        self.call(move |s| s.active_shares(session_id, now)).await
    }

    /// [`Store::revoke_share`].
    pub(crate) async fn revoke_share(&self, id: String) -> StoreResult<bool> {
        self.call(move |s| s.revoke_share(&id)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test(flavor = "current_thread")]
    async fn calls_run_on_the_blocking_pool() {
        let store = AsyncStore::new(Arc::new(SqliteStore::in_memory().unwrap()));
        let here = std::thread::current().id();
        let there = store
            .call(|_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_ne!(here, there);
        assert!(store.keys().await.unwrap().is_empty());
    }
}
