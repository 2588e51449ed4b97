//! [`SnapshotCache`]: what a session keeps between snapshot builds — the
//! latest snapshot (given as is to a viewer joining at its offset, and the
//! next build's starting point), the terminal of a warm build that a join
//! took over — and [`SnapshotStats`], the bytes the builds parsed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use protocol::{Size, Snapshot};

use super::terminal::VirtualTerminal;

/// Where a rebuild stands: a terminal, the offset of the next byte it
/// takes, and the scrollback it keeps.
pub(super) struct Rebuild {
    pub(super) terminal: VirtualTerminal,
    pub(super) at: u64,
    pub(super) lines: usize,
    pub(super) from_checkpoint: bool,
}

/// What the cache's lock guards.
#[derive(Default)]
pub(super) struct Latest {
    /// The latest snapshot and the scrollback it was built with.
    pub(super) snapshot: Option<(Arc<Snapshot>, usize)>,
    /// A warm build stopped for a join that came meanwhile: the join goes
    /// on from here (it never outlives that join's build).
    pub(super) handed_over: Option<Rebuild>,
}

impl Latest {
    /// The latest snapshot if it is the one a build at `end`, `size` and
    /// `lines` would make (then no terminal is handed over any more).
    pub(super) fn reusable(&mut self, end: u64, size: Size, lines: usize) -> Option<Arc<Snapshot>> {
        let (snapshot, built_with) = self.snapshot.as_ref()?;
        let same = snapshot.offset == end && snapshot.size == size && *built_with == lines;
        if !same {
            return None;
        }
        self.handed_over = None;
        Some(snapshot.clone())
    }
}

/// Ring bytes the snapshot builds of sessions parsed (fed to a virtual
/// terminal), by who asked.
#[derive(Debug, Default)]
pub(crate) struct SnapshotStats {
    /// By builds a joining viewer waited for.
    pub(crate) at_join: AtomicU64,
    /// By warm builds in the background.
    pub(crate) warm: AtomicU64,
}

impl SnapshotStats {
    pub(super) fn count(counter: &AtomicU64, bytes: u64) {
        counter.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The session's latest snapshot, what builds it, and their counters.
#[derive(Default)]
pub(crate) struct SnapshotCache {
    latest: Mutex<Latest>,
    /// Bytes the latest snapshot holds, readable while a build holds
    /// `latest` (the budgets must not wait for a build).
    held: AtomicU64,
    /// Joins waiting for `latest`: a warm build holding it stops for them.
    pub(super) joins_waiting: AtomicUsize,
    /// A warm build is queued or running.
    pub(super) warming: AtomicBool,
    /// Where the parsed bytes are counted (the registry's, for the relay's
    /// metrics).
    pub(super) stats: Arc<SnapshotStats>,
}

impl std::fmt::Debug for SnapshotCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotCache")
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl SnapshotCache {
    /// A cache counting its parsed bytes in `stats`.
    pub(crate) fn counting_in(stats: Arc<SnapshotStats>) -> Self {
        Self {
            stats,
            ..Self::default()
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Latest> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lock, for a join: a warm build holding it hands its terminal
    /// over within one chunk.
    pub(super) fn lock_for_join(&self) -> MutexGuard<'_, Latest> {
        self.joins_waiting.fetch_add(1, Ordering::Relaxed);
        let latest = self.lock();
        self.joins_waiting.fetch_sub(1, Ordering::Relaxed);
        latest
    }

    /// The lock if no build holds it.
    pub(super) fn try_lock(&self) -> Option<MutexGuard<'_, Latest>> {
        self.latest.try_lock().ok()
    }

    /// Whether a join waits for the lock.
    pub(super) fn join_waiting(&self) -> bool {
        self.joins_waiting.load(Ordering::Relaxed) > 0
    }

    /// Keeps `snapshot` (built with `lines` of scrollback) as the latest.
    pub(super) fn keep(&self, latest: &mut Latest, snapshot: Arc<Snapshot>, lines: usize) {
        let held = (snapshot.data.capacity() + std::mem::size_of::<Snapshot>()) as u64;
        latest.snapshot = Some((snapshot, lines));
        self.held.store(held, Ordering::Relaxed);
    }

    /// Bytes the latest snapshot holds.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Drops the latest snapshot (its session's history was freed). A build
    /// in progress keeps it and stores what it builds, counted as usual.
    pub(crate) fn free(&self) {
        let Some(mut latest) = self.try_lock() else {
            return;
        };
        *latest = Latest::default();
        self.held.store(0, Ordering::Relaxed);
    }
}
