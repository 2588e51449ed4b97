//! The snapshot join: when a viewer gets a snapshot instead of the replay
//! (or, having fallen far behind, instead of the bytes it missed), and how
//! the feed waits for it (built off the async runtime) and sends it —
//! SNAPSHOT, STREAM_OFFSET and `history_complete` at its offset — so that
//! live output follows from there.

use std::sync::Arc;

use protocol::{Control, Frame, Snapshot};
use tokio::sync::oneshot;

use super::{Batch, Outbox, Stage, ViewerFeed};
use crate::session::log::ViewerCursor;
use crate::session::snapshot::{HistoryMode, FAR_BEHIND};
use crate::session::SessionState;

/// A snapshot on its way.
#[derive(Debug, Default)]
pub(super) enum PendingSnapshot {
    /// Not asked for yet.
    #[default]
    Wanted,
    /// Being built on a blocking thread.
    Building(oneshot::Receiver<Option<Arc<Snapshot>>>),
    /// Built (`None`: too large for a frame; the viewer gets the replay).
    Built(Option<Arc<Snapshot>>),
}

impl PendingSnapshot {
    /// Waits until the snapshot is built (at once if it is not building).
    /// Cancel-safe.
    pub(super) async fn built(&mut self) {
        if let PendingSnapshot::Building(receiver) = self {
            let built = receiver.await.ok().flatten();
            *self = PendingSnapshot::Built(built);
        }
    }
}

impl ViewerFeed {
    /// Whether this viewer joins by snapshot: a Tether viewer that did not
    /// ask for the raw history, and joins, or resumes from an offset the
    /// ring dropped, or more than [`FAR_BEHIND`] bytes behind the end. A
    /// resume closer than that gets exactly the bytes it missed; one beyond
    /// the end (a restarted relay) waits for them.
    pub(super) fn wants_snapshot(&self, state: &SessionState) -> bool {
        if !self.extensions || self.history == HistoryMode::Raw {
            return false;
        }
        let (start, end) = (state.log.start(), state.log.end());
        match self.from {
            None => true,
            Some(from) if from > end => false,
            Some(from) => from < start || end - from > FAR_BEHIND,
        }
    }

    /// Whether this viewer, past its join, fell so far behind that a
    /// snapshot brings it up to date sooner than the bytes: overrun by the
    /// ring, or (a viewer that acknowledges what it rendered, as the browser
    /// does) rendered more than [`FAR_BEHIND`] behind the end. A viewer that
    /// sends no ACKs gets the bytes until the ring overruns it, so one that
    /// stopped reading still fills its socket and is dropped after the send
    /// timeout. A raw-history or legacy viewer gets the bytes, or the gap.
    pub(super) fn fell_far_behind(&self, state: &SessionState) -> bool {
        if !self.extensions || self.history == HistoryMode::Raw {
            return false;
        }
        if !matches!(self.stage, Stage::Replay(_) | Stage::Live) {
            return false;
        }
        let overrun = self.cursor.position() < state.log.start();
        let end = state.log.end();
        overrun
            || self
                .acked
                .is_some_and(|acked| end.saturating_sub(acked) > FAR_BEHIND)
    }

    /// The snapshot stage: starts the build, or sends the snapshot once it
    /// is built (or, if it could not be, starts the replay instead).
    pub(super) fn snapshot_step(&mut self) -> Option<Batch> {
        if let Stage::Snapshot(PendingSnapshot::Wanted) = self.stage {
            self.stage = Stage::Snapshot(self.start_build());
        }
        if let Stage::Snapshot(PendingSnapshot::Building(receiver)) = &mut self.stage {
            if let Ok(built) = receiver.try_recv() {
                self.stage = Stage::Snapshot(PendingSnapshot::Built(built));
            }
        }
        let Stage::Snapshot(PendingSnapshot::Built(built)) = &mut self.stage else {
            return None; // still building: `changed` waits for it
        };
        let built = built.take();
        let session = self.viewer.session().clone();
        let state = session.lock();
        let mut out = Outbox::new(self.extensions);
        match built {
            Some(snapshot) => self.send_snapshot(&snapshot, &state, &mut out),
            None => {
                // Too large for a frame: this viewer gets bytes from now on.
                self.history = HistoryMode::Raw;
                self.start_replay(&state, &mut out);
            }
        }
        out.into_batch()
    }

    /// Builds on a blocking thread when on the runtime, else (unit tests) here.
    fn start_build(&self) -> PendingSnapshot {
        let session = self.viewer.session().clone();
        let lines = self.snapshot_lines;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (sender, receiver) = oneshot::channel();
                runtime.spawn_blocking(move || {
                    let _ = sender.send(session.snapshot(lines));
                });
                PendingSnapshot::Building(receiver)
            }
            Err(_) => PendingSnapshot::Built(session.snapshot(lines)),
        }
    }

    /// SNAPSHOT, STREAM_OFFSET, `history_complete`; live output follows
    /// from the snapshot's offset.
    fn send_snapshot(&mut self, snapshot: &Snapshot, state: &SessionState, out: &mut Outbox) {
        // A viewer that fell behind may have missed a size change; the
        // snapshot is drawn at the size in force at its offset.
        if state.size_offset <= snapshot.offset && self.seen.size != state.size {
            if let Some(size) = state.size {
                out.push(&Frame::Resize(size));
            }
        }
        out.progressed = true;
        snapshot.encode(&mut out.bytes);
        out.push(&Frame::StreamOffset(snapshot.offset));
        out.push(&Frame::Control(Control::HistoryComplete {
            offset: snapshot.offset,
        }));
        self.cursor = ViewerCursor::at(snapshot.offset);
        // A viewer that fell behind: its pacing window restarts here.
        self.acked = self.acked.map(|acked| acked.max(snapshot.offset));
        // The snapshot is drawn at the size in force at its offset; a later
        // change comes in the live stream.
        if state.size_offset <= snapshot.offset {
            self.seen.size = state.size;
        }
        self.stage = Stage::Live;
    }
}
