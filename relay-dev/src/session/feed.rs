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

use bytes::Bytes;
use protocol::{Control, Frame, FrameType, HistoryPolicy, Role, Size};
use tokio::sync::watch;

use super::log::{CursorRead, StreamLog, ViewerCursor};
use super::snapshot::HistoryMode;
use super::strip::EraseInDisplayFilter;
use super::{Liveness, Session, SessionState, ViewerGuard};
use snapshot_join::PendingSnapshot;

/// Most output bytes sent to a viewer in one message.
const CHUNK: usize = 64 << 10;

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

/// What to send the viewer next: a shared OUTPUT frame, then one message.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Batch {
    /// An OUTPUT frame every caught-up viewer is sent as these same bytes
    /// ([`RecentFrames`](super::recent::RecentFrames)), to send as its own
    /// message before `bytes`.
    pub(crate) shared: Option<Bytes>,
    /// Encoded frames, to send as one message (empty when the only frames
    /// were extensions a legacy viewer does not get).
    pub(crate) bytes: Vec<u8>,
    /// OUTPUT bytes in it.
    pub(crate) output_bytes: u64,
    /// Bytes `from..to` the ring dropped before the viewer read them.
    pub(crate) skipped: Option<(u64, u64)>,
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

/// A message being built, encoded as frames are added (under the session
/// lock; sent after it is released). Frames a legacy viewer does not know
/// are left out.
struct Outbox {
    shared: Option<Bytes>,
    bytes: Vec<u8>,
    extensions: bool,
    /// Whether anything happened (also a frame left out, or a state change
    /// with nothing to say): the caller then asks again before waiting.
    progressed: bool,
    output_bytes: u64,
    skipped: Option<(u64, u64)>,
}

impl Outbox {
    fn new(extensions: bool) -> Self {
        Self {
            shared: None,
            bytes: Vec::new(),
            extensions,
            progressed: false,
            output_bytes: 0,
            skipped: None,
        }
    }

    fn into_batch(self) -> Option<Batch> {
        self.progressed.then_some(Batch {
            shared: self.shared,
            bytes: self.bytes,
            output_bytes: self.output_bytes,
            skipped: self.skipped,
        })
    }

    fn push(&mut self, frame: &Frame) {
        self.progressed = true;
        if self.extensions || frame.frame_type().is_legacy() {
            frame.encode(&mut self.bytes);
        }
    }

    /// Adds an OUTPUT frame with `data`, if any.
    fn push_output(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.progressed = true;
            self.output_bytes += data.len() as u64;
            protocol::encode_output(data, &mut self.bytes);
        }
    }

    /// Takes the session's newest frame as is when it holds exactly what
    /// the cursor reads next (a caught-up viewer, nothing else to say before
    /// it); `false` when the ring must be read instead.
    fn push_recent(&mut self, cursor: &mut ViewerCursor, state: &SessionState, limit: u64) -> bool {
        let from = cursor.position();
        let to = state.log.end().min(limit);
        if !self.bytes.is_empty() || self.shared.is_some() || from < state.log.start() {
            return false;
        }
        let Some((frame, len)) = state.recent.exactly(from, to) else {
            return false;
        };
        *cursor = ViewerCursor::at(to);
        self.shared = Some(frame);
        self.progressed = true;
        self.output_bytes += len;
        true
    }

    /// Adds an OUTPUT frame read by `cursor` straight from the ring (one copy).
    fn push_output_from(
        &mut self,
        cursor: &mut ViewerCursor,
        log: &StreamLog,
        limit: u64,
    ) -> CursorRead {
        let header_at = self.bytes.len();
        protocol::encode_header(FrameType::Output, 0, &mut self.bytes);
        let read = cursor.read_into(log, CHUNK, limit, &mut self.bytes);
        let len = self.bytes.len() - header_at - protocol::HEADER_LEN;
        if len == 0 {
            self.bytes.truncate(header_at);
        } else {
            let len32 = u32::try_from(len).unwrap_or(u32::MAX);
            self.bytes[header_at + 1..header_at + protocol::HEADER_LEN]
                .copy_from_slice(&len32.to_be_bytes());
            self.progressed = true;
            self.output_bytes += len as u64;
        }
        read
    }
}

#[cfg(test)]
impl Batch {
    /// Everything the batch sends, as one byte string of frames.
    pub(crate) fn all_bytes(&self) -> Vec<u8> {
        let mut all = self.shared.as_deref().unwrap_or_default().to_vec();
        all.extend_from_slice(&self.bytes);
        all
    }
}

mod snapshot_join;
#[cfg(test)]
mod snapshot_tests;
#[cfg(test)]
mod tests;
