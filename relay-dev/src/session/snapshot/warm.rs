//! Warm snapshots: a session that went quiet (no output for [`QUIET`])
//! with at least [`MIN_NEW`] bytes beyond what its latest snapshot covers
//! gets that snapshot rebuilt in the background by the relay's one
//! low-priority thread ([`Warmer`]), so that a viewer joining later — the
//! first one too — parses only what came since. Nothing runs while a
//! session writes, so the upload path is untouched; a build stops when its
//! session ends, and a join that comes during one takes its terminal over
//! within one chunk instead of waiting for it. What is kept is the
//! snapshot a join would have kept: its bytes count in the budgets as
//! before, and a small session (under [`MIN_NEW`]) keeps none.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use super::cache::SnapshotStats;
use super::Fed;
use crate::session::Session;

/// No output for this long: the session is quiet.
pub(crate) const QUIET: Duration = Duration::from_secs(1);

/// Fewest ring bytes a join would parse that make a warm build worth it
/// (at the terminal's 10–30 MB/s, 10–25 ms of a join).
pub(crate) const MIN_NEW: u64 = 256 << 10;

/// Ring bytes a warm build feeds between two looks at whether to stop (a
/// few milliseconds of parsing: what a join may wait for).
const CHUNK: usize = 64 << 10;

/// Sessions queued for a warm build at most (more wait for the next offer).
const QUEUE: usize = 64;

/// The warm thread's nice value: it takes only CPU time nothing else wants.
const NICE: i32 = 19;

/// A warm build to do.
struct Job {
    session: Weak<Session>,
    lines: usize,
}

/// The relay's warm-build thread (started at the first offer) and its queue.
#[derive(Debug, Default)]
pub(crate) struct Warmer {
    queue: OnceLock<Option<SyncSender<Job>>>,
}

impl Warmer {
    /// Queues a warm build of `session`'s snapshot with `lines` of
    /// scrollback, unless one is queued or running already (or the queue
    /// is full: the next offer tries again).
    pub(crate) fn offer(&self, session: &Arc<Session>, lines: usize) {
        let warming = &session.snapshots.warming;
        if warming.swap(true, Ordering::AcqRel) {
            return;
        }
        let job = Job {
            session: Arc::downgrade(session),
            lines,
        };
        let queued = self
            .queue
            .get_or_init(start)
            .as_ref()
            .is_some_and(|queue| queue.try_send(job).is_ok());
        if !queued {
            warming.store(false, Ordering::Release);
        }
    }
}

/// Starts the warm thread; it ends when its queue's sender goes (with the
/// registry).
fn start() -> Option<SyncSender<Job>> {
    let (queue, jobs) = mpsc::sync_channel::<Job>(QUEUE);
    let started = std::thread::Builder::new()
        .name("snapshot-warm".into())
        .spawn(move || {
            // On Linux the nice value is the calling thread's own.
            if let Err(e) = rustix::process::setpriority_process(None, NICE) {
                tracing::debug!("warm snapshots run at normal priority: {e}");
            }
            for job in jobs {
                if let Some(session) = job.session.upgrade() {
                    session.warm_snapshot(job.lines);
                    session.snapshots.warming.store(false, Ordering::Release);
                }
            }
        });
    match started {
        Ok(_) => Some(queue),
        Err(e) => {
            tracing::warn!("no warm snapshots: cannot start their thread: {e}");
            None
        }
    }
}

impl Session {
    /// Whether a warm build pays at `now`: none queued or running, no build
    /// holding the cache, the session open and quiet for [`QUIET`], and a
    /// join would parse at least [`MIN_NEW`] ring bytes.
    pub(crate) fn wants_warming(&self, now: Instant) -> bool {
        if self.snapshots.warming.load(Ordering::Acquire) {
            return false;
        }
        let Some(latest) = self.snapshots.try_lock() else {
            return false;
        };
        let covered = latest.snapshot.as_ref().map_or(0, |(s, _)| s.offset);
        drop(latest);
        let state = self.lock();
        let quiet = state.marks.since_last(now).is_some_and(|d| d >= QUIET);
        let unparsed = state.log.end() - covered.max(state.log.start());
        state.ended.is_none() && quiet && unparsed >= MIN_NEW
    }

    /// Builds and keeps the snapshot at the current end of the stream, as a
    /// join would (from the latest one), a chunk at a time: it stops when
    /// the session ends (keeping nothing) or when a join waits (which goes
    /// on from its terminal). Returns the ring bytes it parsed.
    pub(crate) fn warm_snapshot(&self, lines: usize) -> u64 {
        let mut latest = self.snapshots.lock();
        let (end, size) = self.end_and_size();
        if latest.reusable(end, size, lines).is_some() {
            return 0;
        }
        let mut rebuild = self.resume(&mut latest, lines);
        let (fed, parsed) = self.feed_until(&mut rebuild, end, CHUNK, |state| {
            state.ended.is_some() || self.snapshots.join_waiting()
        });
        SnapshotStats::count(&self.snapshots.stats.warm, parsed);
        match fed {
            Fed::Done => {
                self.keep_snapshot(&mut latest, rebuild, end);
            }
            Fed::Stopped if self.snapshots.join_waiting() => latest.handed_over = Some(rebuild),
            Fed::Stopped => {}
        }
        tracing::debug!(session = %self.id, parsed, done = fed == Fed::Done, "warm snapshot");
        parsed
    }
}
