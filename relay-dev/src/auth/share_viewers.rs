//! [`ShareViewers`]: how many viewers each share link has open now, as
//! `GET /api/v1/agent-instances/{id}/shares` shows them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Open viewers per share link id.
#[derive(Debug, Default)]
pub(crate) struct ShareViewers(Counts);

fn lock(counts: &Counts) -> MutexGuard<'_, HashMap<String, usize>> {
    counts.lock().unwrap_or_else(|e| e.into_inner())
}

impl ShareViewers {
    /// Counts one more viewer of share link `id` until the guard drops.
    pub(crate) fn join(&self, id: &str) -> ShareViewerGuard {
        *lock(&self.0).entry(id.to_string()).or_default() += 1;
        ShareViewerGuard {
            counts: self.0.clone(),
            id: id.to_string(),
        }
    }

    /// Viewers of share link `id` open now.
    pub(crate) fn count(&self, id: &str) -> usize {
        lock(&self.0).get(id).copied().unwrap_or(0)
    }
}

/// One viewer of a share link; uncounted on drop.
#[derive(Debug)]
pub(crate) struct ShareViewerGuard {
    counts: Counts,
    id: String,
}

impl Drop for ShareViewerGuard {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(n) = counts.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_count_while_their_guards_live() {
        let viewers = ShareViewers::default();
        let first = viewers.join("a");
        let second = viewers.join("a");
        let _other = viewers.join("b");
        assert_eq!((viewers.count("a"), viewers.count("b")), (2, 1));
        drop(first);
        drop(second);
        assert_eq!((viewers.count("a"), viewers.count("c")), (0, 0));
        assert!(
            !viewers.0.lock().unwrap().contains_key("a"),
            "no empty entries"
        );
    }
}
