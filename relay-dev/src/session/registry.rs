//! [`Registry`]: the sessions held in memory, by id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Session;

/// The sessions held in memory, by id.
#[derive(Debug)]
pub(crate) struct Registry {
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
    history_bytes: usize,
}

impl Registry {
    /// An empty registry whose sessions keep `history_bytes` of output each.
    pub(crate) fn new(history_bytes: usize) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            history_bytes,
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session `id` if it is in memory.
    pub(crate) fn get(&self, id: Uuid) -> Option<Arc<Session>> {
        self.map().get(&id).cloned()
    }

    /// The session `id`, created empty (offline, no history) if not in memory.
    /// Its idle clock restarts, so [`sweep`](Self::sweep) leaves it to the
    /// caller, who is about to attach an agent or a viewer.
    pub(crate) fn get_or_create(&self, id: Uuid) -> Arc<Session> {
        let session = self
            .map()
            .entry(id)
            .or_insert_with(|| Arc::new(Session::new(id, self.history_bytes)))
            .clone();
        {
            let mut state = session.lock();
            if state.idle_since.is_some() {
                state.idle_since = Some(Instant::now());
            }
        }
        session
    }

    /// How many sessions are in memory.
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    /// Drops sessions that have had neither agent nor viewers for `retention`.
    /// Returns how many were dropped.
    pub(crate) fn sweep(&self, retention: Duration) -> usize {
        let mut map = self.map();
        let before = map.len();
        map.retain(|_, session| {
            session
                .lock()
                .idle_since
                .is_none_or(|since| since.elapsed() < retention)
        });
        before - map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_only_sessions_idle_past_retention() {
        let registry = Registry::new(16);
        let (idle, watched) = (Uuid::new_v4(), Uuid::new_v4());
        registry.get_or_create(idle);
        let _viewer = registry.get_or_create(watched).join_viewer(1).unwrap();
        assert_eq!(registry.sweep(Duration::from_secs(60)), 0);
        assert_eq!(registry.sweep(Duration::ZERO), 1);
        assert!(registry.get(idle).is_none());
        assert!(registry.get(watched).is_some());
        assert_eq!(registry.len(), 1);
    }
}
