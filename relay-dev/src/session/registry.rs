//! [`Registry`]: the sessions held in memory, by id, within the memory
//! budgets: a session gets a ring only when its user's and the relay's
//! budgets have room for it, freeing ended sessions' rings (oldest first)
//! to make room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::budget::{make_room, Holding};
use super::snapshot::{SnapshotStats, Warmer};
use super::{AttentionNow, Budget, BudgetError, Session};

/// The sessions held in memory, by id.
#[derive(Debug)]
pub(crate) struct Registry {
    sessions: Mutex<HashMap<Uuid, Arc<Session>>>,
    history_bytes: usize,
    budget: Budget,
    /// Builds the snapshots of quiet sessions in the background.
    warmer: Warmer,
    /// What the sessions' snapshot builds parsed.
    snapshot_stats: Arc<SnapshotStats>,
}

/// A session whose agent link is attached here: what its owner tells the
/// other nodes (`cluster`), so that every node lists it alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveSession {
    /// The session.
    pub(crate) id: Uuid,
    /// Viewers attached (relayed ones included).
    pub(crate) viewers: usize,
    /// Of those, the viewers of each share link, by its id.
    pub(crate) shares: Vec<(String, usize)>,
    /// The attention in force, once the agent reported one.
    pub(crate) attention: Option<AttentionNow>,
}

/// `session` as a [`LiveSession`], if its agent link is attached.
fn live(session: &Session) -> Option<LiveSession> {
    let state = session.lock();
    (state.liveness() == super::Liveness::Live).then(|| LiveSession {
        id: session.id,
        viewers: state.seats.total(),
        shares: state.seats.by_share(),
        attention: state.attention.current().cloned(),
    })
}

/// A session [`Registry::admit`] let in.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// The session, open.
    pub(crate) session: Arc<Session>,
    /// How many ended sessions' rings were freed to make room.
    pub(crate) freed: usize,
}

impl Registry {
    /// An empty registry whose sessions keep `history_bytes` of output each,
    /// within `budget`.
    pub(crate) fn new(history_bytes: usize, budget: Budget) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            history_bytes,
            budget,
            warmer: Warmer::default(),
            snapshot_stats: Arc::default(),
        }
    }

    /// A new session, counted in this registry's snapshot stats.
    fn new_session(&self, id: Uuid, user: &str) -> Session {
        Session::new(id, user, self.history_bytes).counting_in(self.snapshot_stats.clone())
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Uuid, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session `id` if it is in memory.
    pub(crate) fn get(&self, id: Uuid) -> Option<Arc<Session>> {
        self.map().get(&id).cloned()
    }

    /// Session `id` of `user`, open, with room for its whole ring: created,
    /// or reopened if it had ended. When the budgets are short, ended
    /// sessions' rings are freed, oldest first; when that is not enough,
    /// the session is refused. Its idle clock restarts, so
    /// [`sweep`](Self::sweep) leaves it to the caller.
    pub(crate) fn admit(&self, id: Uuid, user: &str) -> Result<Admitted, BudgetError> {
        let mut map = self.map();
        let existing = map.get(&id).cloned();
        let held_now = existing.as_ref().map_or(0, |s| s.held_bytes());
        let ended = existing.as_ref().is_none_or(|s| s.lock().ended.is_some());
        let mut freed = 0;
        if ended {
            let need = (self.history_bytes as u64).saturating_sub(held_now);
            let holdings: Vec<Holding> = map
                .values()
                .filter(|s| s.id != id)
                .map(|s| s.holding())
                .collect();
            for free in make_room(&holdings, user, need, self.budget)? {
                if let Some(session) = map.get(&free) {
                    session.free_history();
                    freed += 1;
                }
            }
        }
        let session = match existing {
            Some(session) => {
                session.reopen();
                session
            }
            None => {
                let session = Arc::new(self.new_session(id, user));
                map.insert(id, session.clone());
                session
            }
        };
        session.restart_idle_clock();
        Ok(Admitted { session, freed })
    }

    /// Session `id` of `user`, created ended (it needs no room) if not in
    /// memory: for a session the store says has ended.
    pub(crate) fn get_or_create_ended(
        &self,
        id: Uuid,
        user: &str,
        exit_status: Option<i32>,
    ) -> Arc<Session> {
        let mut map = self.map();
        let session = map
            .entry(id)
            .or_insert_with(|| {
                let session = self.new_session(id, user);
                session.end(exit_status);
                Arc::new(session)
            })
            .clone();
        session.restart_idle_clock();
        session
    }

    /// How many sessions are in memory.
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }

    /// The sessions whose agent link is attached here, as the other nodes
    /// are told of them.
    pub(crate) fn live_sessions(&self) -> Vec<LiveSession> {
        self.map().values().filter_map(|s| live(s)).collect()
    }

    /// Session `id` as [`live_sessions`](Self::live_sessions) reports it,
    /// if its agent link is attached here.
    pub(crate) fn live_session(&self, id: Uuid) -> Option<LiveSession> {
        live(&*self.get(id)?)
    }

    /// Bytes of history all sessions hold or reserve.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.map().values().map(|s| s.held_bytes()).sum()
    }

    /// Queues a warm snapshot build (`lines` of scrollback) for each
    /// session that went quiet with enough output since its last snapshot.
    pub(crate) fn warm_quiet_sessions(&self, lines: usize) {
        let now = Instant::now();
        let quiet: Vec<Arc<Session>> = self
            .map()
            .values()
            .filter(|s| s.wants_warming(now))
            .cloned()
            .collect();
        for session in &quiet {
            self.warmer.offer(session, lines);
        }
    }

    /// What the sessions' snapshot builds parsed.
    pub(crate) fn snapshot_stats(&self) -> &SnapshotStats {
        &self.snapshot_stats
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

impl Session {
    /// What this session holds, for the budgets.
    fn holding(&self) -> Holding {
        let snapshot = self.snapshot_bytes();
        let state = self.lock();
        Holding {
            id: self.id,
            user: self.user.clone(),
            bytes: state.held_bytes() + snapshot,
            ended: state.ended.and(state.ended_at),
        }
    }

    /// Bytes this session holds or reserves: its ring and what it keeps
    /// for snapshots.
    fn held_bytes(&self) -> u64 {
        self.snapshot_bytes() + self.lock().held_bytes()
    }

    /// Frees the history of an ended session (the budgets need it): its
    /// ring and its latest snapshot.
    fn free_history(&self) {
        self.change(|state| state.free_ring());
        self.snapshots.free();
    }

    /// Restarts the idle clock of a session nobody uses yet.
    fn restart_idle_clock(&self) {
        let mut state = self.lock();
        if state.idle_since.is_some() {
            state.idle_since = Some(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::tests::ROOMY;
    use crate::session::{Seat, Upload};
    use protocol::Frame;

    #[test]
    fn sweeps_only_sessions_idle_past_retention() {
        let registry = Registry::new(16, Budget::UNLIMITED);
        let (idle, watched) = (Uuid::new_v4(), Uuid::new_v4());
        registry.admit(idle, "ann").unwrap();
        let watched = registry.admit(watched, "ann").unwrap().session;
        let _viewer = watched.join_viewer(Seat::Owner, ROOMY).unwrap();
        assert_eq!(registry.sweep(Duration::from_secs(60)), 0);
        assert_eq!(registry.sweep(Duration::ZERO), 1);
        assert!(registry.get(idle).is_none());
        assert!(registry.get(watched.id).is_some());
        assert_eq!(registry.len(), 1);
    }

    fn output(session: &Session, bytes: usize) {
        let frames = vec![Frame::Output(vec![b'x'; bytes])];
        session.upload(&mut Upload::default(), frames).unwrap();
    }

    #[test]
    fn open_sessions_reserve_their_ring_and_ended_ones_are_freed_oldest_first() {
        let budget = Budget {
            per_user: 300,
            global: 1000,
        };
        let registry = Registry::new(100, budget);
        let first = registry.admit(Uuid::new_v4(), "ann").unwrap().session;
        let second = registry.admit(Uuid::new_v4(), "ann").unwrap().session;
        let third = registry.admit(Uuid::new_v4(), "ann").unwrap().session;
        assert_eq!(registry.held_bytes(), 300, "open sessions reserve 100 each");
        assert!(matches!(
            registry.admit(Uuid::new_v4(), "ann"),
            Err(BudgetError::User { held: 300, .. })
        ));
        assert!(
            registry.admit(Uuid::new_v4(), "bob").is_ok(),
            "another user"
        );
        for session in [&first, &second, &third] {
            output(session, 60);
        }
        first.end(None);
        second.end(None);
        let fourth = registry.admit(Uuid::new_v4(), "ann").unwrap();
        assert_eq!(fourth.freed, 1, "one ended ring is enough");
        assert_eq!(first.held_bytes(), 0, "the oldest was freed");
        assert!(second.held_bytes() >= 60, "the newer one is kept");
        // Reopening an ended session needs room for its whole ring again:
        // the next ended ring goes.
        let reopened = registry.admit(first.id, "ann").unwrap();
        assert_eq!(reopened.freed, 1);
        assert_eq!(second.held_bytes(), 0);
        assert!(
            matches!(
                registry.admit(Uuid::new_v4(), "ann"),
                Err(BudgetError::User { held: 300, .. })
            ),
            "only open sessions are left: nothing to free"
        );
    }

    #[test]
    fn a_sessions_snapshot_counts_and_goes_with_its_ring() {
        let registry = Registry::new(100, Budget::UNLIMITED);
        let session = registry.admit(Uuid::new_v4(), "ann").unwrap().session;
        output(&session, 60);
        let before = registry.held_bytes();
        let snapshot = session.snapshot(10).unwrap();
        assert!(session.snapshot_bytes() >= snapshot.data.len() as u64);
        assert_eq!(registry.held_bytes(), before + session.snapshot_bytes());
        session.end(None);
        session.free_history();
        assert_eq!((session.held_bytes(), session.snapshot_bytes()), (0, 0));
    }

    #[test]
    fn a_snapshot_can_tip_the_budget() {
        let budget = Budget {
            per_user: 250,
            global: 1000,
        };
        let registry = Registry::new(100, budget);
        let first = registry.admit(Uuid::new_v4(), "ann").unwrap().session;
        output(&first, 60);
        first.snapshot(10).unwrap();
        assert!(first.snapshot_bytes() > 50, "a screen's worth");
        assert!(
            matches!(
                registry.admit(Uuid::new_v4(), "ann"),
                Err(BudgetError::User { .. })
            ),
            "a ring and a snapshot leave no room for a second ring"
        );
    }

    #[test]
    fn a_session_known_to_have_ended_needs_no_room() {
        let registry = Registry::new(
            100,
            Budget {
                per_user: 100,
                global: 100,
            },
        );
        let _open = registry.admit(Uuid::new_v4(), "ann").unwrap();
        let ended = registry.get_or_create_ended(Uuid::new_v4(), "ann", Some(1));
        assert_eq!(ended.liveness(), crate::session::Liveness::Ended);
        assert_eq!(registry.held_bytes(), 100);
    }
}
