//! [`CloseWatch`]: what ends a running link besides its peer — the relay
//! shutting down, the link's API key being revoked, its share token
//! expiring.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::CloseReason;
use crate::server::Shared;
use crate::time::unix_now;

/// Watches one link's reasons to close.
pub(super) struct CloseWatch {
    shutdown: watch::Receiver<bool>,
    revoked: watch::Receiver<Arc<HashSet<String>>>,
    /// The API key the link was opened with (a share token has none).
    key_id: Option<String>,
    /// When the link's share token expires.
    expiry: Option<Pin<Box<Sleep>>>,
}

impl CloseWatch {
    /// Watches the relay's shutdown, the revocation of `key_id` and the
    /// expiry at `expires_at` (Unix seconds).
    pub(super) fn new(state: &Shared, key_id: Option<String>, expires_at: Option<u64>) -> Self {
        let expiry = expires_at.map(|at| {
            let left = Duration::from_secs(at.saturating_sub(unix_now()));
            Box::pin(tokio::time::sleep_until(Instant::now() + left))
        });
        Self {
            shutdown: state.shutdown.subscribe(),
            revoked: state.revoked.subscribe(),
            key_id,
            expiry,
        }
    }

    /// The close, if the relay is shutting down already.
    pub(super) fn now(&mut self) -> Option<CloseReason> {
        let stopping = *self.shutdown.borrow_and_update();
        stopping.then(CloseReason::going_away)
    }

    /// Waits for a reason to close. Cancel-safe.
    pub(super) async fn wait(&mut self) -> CloseReason {
        loop {
            tokio::select! {
                _ = self.shutdown.changed() => return CloseReason::going_away(),
                Ok(()) = self.revoked.changed() => {
                    let revoked = self
                        .key_id
                        .as_ref()
                        .is_some_and(|k| self.revoked.borrow_and_update().contains(k));
                    if revoked {
                        return CloseReason::policy("API key revoked");
                    }
                }
                () = async {
                    match self.expiry.as_mut() {
                        Some(sleep) => sleep.await,
                        None => std::future::pending().await,
                    }
                } => return CloseReason::policy("share token expired"),
            }
        }
    }
}
