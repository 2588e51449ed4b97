//! [`ViewerFeed`]: what one viewer is sent next, read from the session's
//! shared log through the viewer's own cursor.
//!
//! A feed goes through three stages. *Join*: role, metadata, size, a gap if
//! the viewer asked for bytes the ring no longer holds, and the start offset.
//! *Replay*: the history up to the end of the log at join time, through the
//! session's history policy (Codex's erase-in-display removed), then
//! `history_complete`. *Live*: new output as is, metadata changes, and size
//! changes and the session's end, each placed after the output before it.
//! A viewer that sends ACKs gets at most [`WINDOW`] bytes beyond its latest
//! one; a raw-history viewer whose cursor the ring overran is told of the gap
//! and goes on from the oldest byte kept.
//!
//! A Tether viewer that joins, resumes from before the ring, or resumes far
//! behind gets a *snapshot* instead of the replay ([`snapshot_join`]): the
//! terminal as it is at the end of the stream, then live output from there.
//! So does one that the ring overruns later, or whose ACKs fall far behind.

use std::sync::Arc;

use protocol::{Control, Frame, HistoryPolicy, Role, Size};
use tokio::sync::watch;

use super::log::{CursorRead, ViewerCursor};
use super::snapshot::HistoryMode;
use super::strip::EraseInDisplayFilter;
use super::{Liveness, Session, SessionState, ViewerGuard};
pub(crate) use outbox::Batch;
use outbox::{Outbox, CHUNK};
use snapshot_join::PendingSnapshot;

/// Output bytes sent beyond a viewer's ACK before waiting for the next one
/// (only for viewers that send ACKs; a browser renders more slowly than a
/// socket delivers).
pub(crate) const WINDOW: u64 = 2 << 20;

/// How a viewer joins.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedOptions<'a> {
    /// The role the viewer was granted (sent first).
    pub(crate) role: Role,
    /// Who shared the session, for a share link's viewer (sent with the role).
    pub(crate) shared_by: Option<&'a str>,
    /// The offset to resume from; `None` replays all the ring holds.
    pub(crate) from: Option<u64>,
    /// The registered agent type, for the history policy when the metadata
    /// names none.
    pub(crate) agent_type: &'a str,
    /// Whether the viewer understands Tether's extension frames (types 4+);
    /// a legacy viewer gets only OUTPUT, RESIZE and METADATA.
    pub(crate) extensions: bool,
    /// Snapshot or raw history (`?history=`).
    pub(crate) history: HistoryMode,
    /// Lines of scrollback a snapshot carries.
    pub(crate) snapshot_lines: usize,
}

/// One viewer's stream: yields the next message (encoded frames) given what
/// the viewer has been sent so far. Holds the viewer's place in the session:
/// dropping the feed leaves.
#[derive(Debug)]
pub(crate) struct ViewerFeed {
    viewer: ViewerGuard,
    changes: watch::Receiver<u64>,
    role: Role,
    /// Who shared the session, for a share link's viewer.
    shared_by: Option<String>,
    from: Option<u64>,
    default_policy: HistoryPolicy,
    extensions: bool,
    history: HistoryMode,
    snapshot_lines: usize,
    stage: Stage,
    cursor: ViewerCursor,
    seen: Seen,
    /// The viewer's latest ACK (rendered offset), once it sends one: from
    /// then on at most [`WINDOW`] bytes are sent beyond it.
    acked: Option<u64>,
}

#[derive(Debug)]
enum Stage {
    Join,
    Snapshot(PendingSnapshot),
    Replay(Replay),
    Live,
}

/// The history replay in progress: up to `end`, through the policy's filter.
#[derive(Debug)]
struct Replay {
    end: u64,
    filter: Option<EraseInDisplayFilter>,
}

/// What this viewer has been told about the session so far.
#[derive(Debug, Default)]
struct Seen {
    metadata_version: u64,
    attention_version: u64,
    size: Option<Size>,
    liveness: Option<Liveness>,
}

impl ViewerFeed {
    /// The feed of a viewer who just joined; its first batch is the join.
    pub(crate) fn new(viewer: ViewerGuard, options: FeedOptions<'_>) -> Self {
        let changes = viewer.session().changed.subscribe();
        Self {
            viewer,
            changes,
            role: options.role,
            shared_by: options.shared_by.map(str::to_owned),
            from: options.from,
            default_policy: HistoryPolicy::default_for(options.agent_type),
            extensions: options.extensions,
            history: options.history,
            snapshot_lines: options.snapshot_lines,
            stage: Stage::Join,
            cursor: ViewerCursor::at(0),
            seen: Seen::default(),
            acked: None,
        }
    }

    /// The session this feed reads.
    pub(crate) fn session(&self) -> &Arc<Session> {
        self.viewer.session()
    }

    /// The viewer rendered everything below `offset`.
    pub(crate) fn ack(&mut self, offset: u64) {
        self.acked = Some(self.acked.map_or(offset, |a| a.max(offset)));
    }

    /// Waits until the session changes (new output, size, metadata, agent
    /// link, end). Cancel-safe.
    pub(crate) async fn changed(&mut self) {
        if let Stage::Snapshot(pending) = &mut self.stage {
            return pending.built().await;
        }
        if self.changes.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// The next message, or `None` when there is nothing to send until the
    /// session changes or the viewer acknowledges more.
    pub(crate) fn next_batch(&mut self) -> Option<Batch> {
        self.changes.borrow_and_update();
        if let Stage::Snapshot(_) = self.stage {
            return self.snapshot_step();
        }
        let session = self.viewer.session().clone();
        let state = session.lock();
        if self.fell_far_behind(&state) {
            drop(state);
            self.stage = Stage::Snapshot(PendingSnapshot::default());
            return self.snapshot_step();
        }
        let mut out = Outbox::new(self.extensions);
        match self.stage {
            Stage::Join => self.join(&state, &mut out),
            Stage::Snapshot(_) => {} // handled above, without the lock
            Stage::Replay(_) if self.paced() => {}
            Stage::Replay(_) => self.replay_step(&state, &mut out),
            Stage::Live => self.live_step(&state, &mut out),
        }
        out.into_batch()
    }

    fn paced(&self) -> bool {
        self.acked
            .is_some_and(|acked| self.cursor.position().saturating_sub(acked) >= WINDOW)
    }

    /// Role, metadata, size; then the snapshot, or gap?, start offset and
    /// the replay.
    fn join(&mut self, state: &SessionState, out: &mut Outbox) {
        out.push(&Frame::Control(Control::Role {
            role: self.role,
            shared_by: self.shared_by.clone(),
        }));
        if let Some(metadata) = &state.metadata {
            out.push(&Frame::Metadata(metadata.clone()));
        }
        if let Some(size) = state.size {
            out.push(&Frame::Resize(size));
        }
        self.seen.metadata_version = state.metadata_version;
        self.seen.size = state.size;
        self.push_attention(state, out);
        if self.wants_snapshot(state) {
            self.stage = Stage::Snapshot(PendingSnapshot::default());
        } else {
            self.start_replay(state, out);
        }
    }

    /// Gap?, start offset; the replay starts.
    fn start_replay(&mut self, state: &SessionState, out: &mut Outbox) {
        let start = state.log.start();
        // `from` beyond the end is kept: the viewer already has those bytes
        // (e.g. the relay restarted and the wrapper is re-uploading).
        let from = self.from.unwrap_or(start);
        if from < start {
            out.push(&Frame::Control(Control::Gap { from, to: start }));
        }
        let begin = from.max(start);
        out.push(&Frame::StreamOffset(begin));
        self.cursor = ViewerCursor::at(begin);
        let policy = state
            .metadata
            .as_ref()
            .map_or(self.default_policy, |m| m.effective_history_policy());
        self.stage = Stage::Replay(Replay {
            end: state.log.end(),
            filter: (policy == HistoryPolicy::StripEscJ).then(EraseInDisplayFilter::default),
        });
    }

    /// One step of the history replay: a chunk through the policy's filter,
    /// a gap, or the end (`history_complete`).
    fn replay_step(&mut self, state: &SessionState, out: &mut Outbox) {
        let Stage::Replay(replay) = &mut self.stage else {
            return;
        };
        let read = match replay.filter.as_mut() {
            // Verbatim: straight from the ring into the message.
            None => out.push_output_from(&mut self.cursor, &state.log, replay.end),
            Some(filter) => {
                let read = self.cursor.read(&state.log, CHUNK, replay.end);
                let mut kept = Vec::new();
                match &read {
                    CursorRead::Bytes { data, .. } => filter.push(data, &mut kept),
                    _ => filter.finish(&mut kept),
                }
                out.push_output(&kept);
                read
            }
        };
        match read {
            CursorRead::UpToDate => {
                out.push(&Frame::Control(Control::HistoryComplete {
                    offset: self.cursor.position(),
                }));
                self.stage = Stage::Live;
            }
            CursorRead::Gap { from, to } => self.skip_gap(from, to, out),
            CursorRead::Bytes { .. } => {}
        }
    }

    /// What changed since the last batch and the next output chunk. A size
    /// change or the end is sent where it happened in the stream: a viewer
    /// still behind that offset first gets the output before it.
    fn live_step(&mut self, state: &SessionState, out: &mut Outbox) {
        if state.metadata_version != self.seen.metadata_version {
            self.seen.metadata_version = state.metadata_version;
            if let Some(metadata) = &state.metadata {
                out.push(&Frame::Metadata(metadata.clone()));
            }
        }
        if state.attention.version() != self.seen.attention_version {
            self.push_attention(state, out);
        }
        let liveness = state.liveness();
        let size_pending = state.size != self.seen.size;
        let end_pending = liveness == Liveness::Ended && self.seen.liveness != Some(liveness);
        let mut limit = u64::MAX;
        if size_pending && self.cursor.position() < state.size_offset {
            limit = state.size_offset;
        }
        if end_pending && self.cursor.position() < state.ended_offset {
            limit = limit.min(state.ended_offset);
        }
        if !self.paced() && !out.push_recent(&mut self.cursor, state, limit) {
            if let CursorRead::Gap { from, to } =
                out.push_output_from(&mut self.cursor, &state.log, limit)
            {
                self.skip_gap(from, to, out);
            }
        }
        let at = self.cursor.position();
        if size_pending && at >= state.size_offset {
            self.seen.size = state.size;
            if let Some(size) = state.size {
                out.push(&Frame::Resize(size));
            }
        }
        if self.seen.liveness != Some(liveness)
            && (liveness != Liveness::Ended || at >= state.ended_offset)
        {
            let first = self.seen.liveness.is_none();
            self.seen.liveness = Some(liveness);
            let event = match liveness {
                Liveness::Live if first => None,
                Liveness::Live => Some(Control::AgentOnline),
                Liveness::Offline => Some(Control::AgentOffline),
                Liveness::Ended => Some(Control::SessionEnded {
                    exit_status: state.ended.flatten(),
                }),
            };
            match event {
                Some(event) => out.push(&Frame::Control(event)),
                None => out.progressed = true,
            }
        }
    }

    /// The session's attention, if it has one (at once, not in stream order:
    /// it is about now).
    fn push_attention(&mut self, state: &SessionState, out: &mut Outbox) {
        self.seen.attention_version = state.attention.version();
        match state.attention.current() {
            Some(now) => out.push(&Frame::Control(Control::Attention(now.attention.clone()))),
            None => out.progressed = true,
        }
    }

    /// The ring dropped `from..to` before this viewer read it: say so and
    /// go on from `to` (the pacing window restarts there).
    fn skip_gap(&mut self, from: u64, to: u64, out: &mut Outbox) {
        out.push(&Frame::Control(Control::Gap { from, to }));
        out.push(&Frame::StreamOffset(to));
        out.skipped = Some((from, to));
        self.acked = self.acked.map(|_| to);
    }
}

#[cfg(test)]
mod fixture;
mod outbox;
mod snapshot_join;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;
