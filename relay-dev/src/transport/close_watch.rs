//! [`CloseWatch`]: what ends a running link besides its peer — the relay
//! shutting down, the link's grant (its API key, or its share link or the key
//! that minted it) being revoked, its share token expiring, its session
//! moving to another node (a viewer then reconnects and is served from there).
//!
//! A link is authorized before it subscribes to revocations: a revocation
//! broadcast in between would never reach it as a change. So the watch checks
//! the revoked set right after subscribing, and a link whose grant is already
//! revoked closes at once.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::CloseReason;
use crate::auth::{Grant, Revoked};
use crate::state::Shared;
use crate::time::unix_now;

/// Watches one link's reasons to close.
pub(super) struct CloseWatch {
    shutdown: watch::Receiver<bool>,
    revoked: watch::Receiver<Arc<Revoked>>,
    /// What the link was opened with.
    grant: Option<Grant>,
    /// A revocation found when the watch began, not reported yet.
    pending: Option<CloseReason>,
    /// When the link's share token expires.
    expiry: Option<Pin<Box<Sleep>>>,
    /// Changes when the link's session moves to another node.
    moves: Option<watch::Receiver<u64>>,
}

impl CloseWatch {
    /// Watches the relay's shutdown, the revocation of `grant` and the
    /// expiry at `expires_at` (Unix seconds).
    pub(super) fn new(state: &Shared, grant: Option<Grant>, expires_at: Option<u64>) -> Self {
        Self::watching(
            state.shutdown.subscribe(),
            state.revoked.subscribe(),
            grant,
            expires_at,
        )
    }

    fn watching(
        shutdown: watch::Receiver<bool>,
        revoked: watch::Receiver<Arc<Revoked>>,
        grant: Option<Grant>,
        expires_at: Option<u64>,
    ) -> Self {
        let expiry = expires_at.map(|at| {
            let left = Duration::from_secs(at.saturating_sub(unix_now()));
            Box::pin(tokio::time::sleep_until(Instant::now() + left))
        });
        let mut watch = Self {
            shutdown,
            revoked,
            grant,
            pending: None,
            expiry,
            moves: None,
        };
        // Subscribed: a revocation made while the link was authorized is
        // in the set now, and later ones arrive as changes.
        watch.pending = watch.revocation();
        watch
    }

    /// Also closes the link when `moves` changes (its session moved to
    /// another node; changes before this call do not count).
    pub(super) fn closing_when_moved(mut self, mut moves: watch::Receiver<u64>) -> Self {
        moves.mark_unchanged();
        self.moves = Some(moves);
        self
    }

    /// Why the link's grant no longer works, if it does not (marks the
    /// revoked set seen).
    fn revocation(&mut self) -> Option<CloseReason> {
        let grant = self.grant.as_ref()?;
        let refusal = self.revoked.borrow_and_update().refusal(grant);
        refusal.map(|e| CloseReason::policy(e.to_string()))
    }

    /// The close, if there is a reason already: the relay is shutting down,
    /// or the grant was revoked.
    pub(super) fn now(&mut self) -> Option<CloseReason> {
        if *self.shutdown.borrow_and_update() {
            return Some(CloseReason::going_away());
        }
        if self
            .moves
            .as_ref()
            .is_some_and(|m| m.has_changed().unwrap_or(false))
        {
            return Some(CloseReason::moved());
        }
        self.pending.clone()
    }

    /// The close, if a reason came since the last look, found without
    /// waiting: no waker is registered (each registration locks lists every
    /// link shares), so a link busy sending looks between messages.
    pub(super) fn check(&mut self) -> Option<CloseReason> {
        if let Some(why) = self.now() {
            return Some(why);
        }
        if self.shutdown.has_changed().unwrap_or(true) {
            return Some(CloseReason::going_away());
        }
        if self.revoked.has_changed().unwrap_or(false) {
            self.pending = self.revocation();
            if let Some(why) = &self.pending {
                return Some(why.clone());
            }
        }
        if self
            .expiry
            .as_ref()
            .is_some_and(|sleep| sleep.deadline() <= Instant::now())
        {
            return Some(CloseReason::policy("share token expired"));
        }
        None
    }

    /// Waits for a reason to close. Cancel-safe.
    pub(super) async fn wait(&mut self) -> CloseReason {
        if let Some(why) = self.pending.clone() {
            return why;
        }
        loop {
            tokio::select! {
                _ = self.shutdown.changed() => return CloseReason::going_away(),
                Ok(()) = self.revoked.changed() => {
                    if let Some(why) = self.revocation() {
                        self.pending = Some(why.clone());
                        return why;
                    }
                }
                () = async {
                    match self.expiry.as_mut() {
                        Some(sleep) => sleep.await,
                        None => std::future::pending().await,
                    }
                } => return CloseReason::policy("share token expired"),
                Ok(()) = async {
                    match self.moves.as_mut() {
                        Some(moves) => moves.changed().await,
                        None => std::future::pending().await,
                    }
                } => return CloseReason::moved(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoked_key(id: &str) -> Arc<Revoked> {
        Arc::new(Revoked {
            keys: [id.to_string()].into(),
            ..Revoked::default()
        })
    }

    #[tokio::test]
    async fn a_revocation_made_before_subscribing_still_closes_the_link() {
        let (_stop, shutdown) = watch::channel(false);
        // Revoked while the link was being authorized: already broadcast.
        let (_revoke, revoked) = watch::channel(revoked_key("k1"));
        let mut watch =
            CloseWatch::watching(shutdown, revoked, Some(Grant::Key("k1".into())), None);
        let why = tokio::time::timeout(Duration::from_secs(1), watch.wait())
            .await
            .expect("closed at once, not left open");
        assert_eq!(why, CloseReason::policy("API key revoked"));
        assert_eq!(watch.now(), Some(why));
    }

    #[tokio::test]
    async fn a_busy_link_finds_a_reason_to_close_without_waiting() {
        let (_stop, shutdown) = watch::channel(false);
        let (revoke, revoked) = watch::channel(Arc::new(Revoked::default()));
        let mut watch =
            CloseWatch::watching(shutdown, revoked, Some(Grant::Key("k1".into())), None);
        assert_eq!(watch.check(), None);
        revoke.send_replace(revoked_key("other"));
        assert_eq!(watch.check(), None, "another key's revocation");
        revoke.send_replace(revoked_key("k1"));
        assert_eq!(watch.check(), Some(CloseReason::policy("API key revoked")));

        let (stop, shutdown) = watch::channel(false);
        let (_revoke, revoked) = watch::channel(Arc::new(Revoked::default()));
        let mut stopping = CloseWatch::watching(shutdown, revoked, None, None);
        assert_eq!(stopping.check(), None);
        stop.send_replace(true);
        assert_eq!(stopping.check(), Some(CloseReason::going_away()));

        let (_stop, shutdown) = watch::channel(false);
        let (_revoke, revoked) = watch::channel(Arc::new(Revoked::default()));
        let mut expiring = CloseWatch::watching(shutdown, revoked, None, Some(unix_now()));
        assert_eq!(
            expiring.check(),
            Some(CloseReason::policy("share token expired"))
        );
    }

    #[tokio::test]
    async fn later_revocations_of_the_share_or_its_key_close_it() {
        let (_stop, shutdown) = watch::channel(false);
        let (revoke, revoked) = watch::channel(Arc::new(Revoked::default()));
        let share = Grant::Share {
            id: "s1".into(),
            key_id: "k1".into(),
        };
        let mut watch = CloseWatch::watching(shutdown, revoked, Some(share), None);
        assert_eq!(watch.now(), None);
        revoke.send_replace(revoked_key("other"));
        let waited = tokio::time::timeout(Duration::from_millis(50), watch.wait()).await;
        assert!(waited.is_err(), "another key's revocation leaves it open");
        revoke.send_replace(revoked_key("k1"));
        assert_eq!(
            watch.wait().await,
            CloseReason::policy("share link revoked")
        );
    }
}
