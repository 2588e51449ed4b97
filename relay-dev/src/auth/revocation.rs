//! [`Revoked`]: the grants that no longer work — revoked API keys, and share
//! links revoked on their own or with the key that minted them — which every
//! open link watches (`Shared::revoked` in `state.rs`, a `watch` channel). It is reloaded
//! from the store once a second (so a `keys revoke` run in another process
//! lands within about a second) and at once after a revocation through the
//! API ([`refresh_revocations`]).

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::watch;

use super::AuthError;
use crate::store::{AsyncStore, StoreResult};
use crate::time::unix_now;

/// Revoked keys and share links (only those not expired yet).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Revoked {
    /// Ids of revoked API keys.
    pub(crate) keys: HashSet<String>,
    /// Ids of share links that no longer work (revoked, or minted by a revoked key).
    pub(crate) shares: HashSet<String>,
}

/// What a link was opened with, as revocation sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// An API key, by id.
    Key(String),
    /// A share link, by id, and the key that minted it.
    Share {
        /// The link's id.
        id: String,
        /// The minting key's id.
        key_id: String,
    },
}

impl Revoked {
    /// The revoked grants as the store has them now.
    pub(crate) async fn load(store: &AsyncStore) -> StoreResult<Self> {
        let now = unix_now();
        store
            .call(move |s| {
                Ok(Self {
                    keys: s.revoked_key_ids()?,
                    shares: s.revoked_share_ids(now)?,
                })
            })
            .await
    }

    /// Why `grant` no longer works, if it does not.
    pub(crate) fn refusal(&self, grant: &Grant) -> Option<AuthError> {
        match grant {
            Grant::Key(id) => self.keys.contains(id).then_some(AuthError::Revoked),
            Grant::Share { id, key_id } => (self.shares.contains(id) || self.keys.contains(key_id))
                .then_some(AuthError::ShareRevoked),
        }
    }
}

/// Reloads the revoked grants and, if they changed, tells every open link.
pub(crate) async fn refresh_revocations(store: &AsyncStore, links: &watch::Sender<Arc<Revoked>>) {
    match Revoked::load(store).await {
        Ok(revoked) => {
            links.send_if_modified(|current| {
                let changed = **current != revoked;
                if changed {
                    *current = Arc::new(revoked);
                }
                changed
            });
        }
        Err(e) => tracing::error!("reading revoked keys and share links: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_link_is_refused_with_its_own_id_or_its_minting_key() {
        let share = Grant::Share {
            id: "s1".into(),
            key_id: "k1".into(),
        };
        let mut revoked = Revoked::default();
        assert!(revoked.refusal(&share).is_none());
        revoked.keys.insert("k1".into());
        assert!(matches!(
            revoked.refusal(&share),
            Some(AuthError::ShareRevoked)
        ));
        assert!(matches!(
            revoked.refusal(&Grant::Key("k1".into())),
            Some(AuthError::Revoked)
        ));
        let revoked = Revoked {
            shares: ["s1".to_string()].into(),
            ..Revoked::default()
        };
        assert!(revoked.refusal(&share).is_some());
        assert!(revoked.refusal(&Grant::Key("k1".into())).is_none());
    }
}
