//! Snapshots: what a joining viewer gets instead of the raw history — the
//! bytes that rebuild the session's terminal as it is at a stream offset,
//! so that a phone draws one screen instead of parsing megabytes.
//!
//! Where the terminal state lives was decided by measurement (BENCHMARKS.md,
//! "Snapshot join"): a virtual terminal parses 10–30 MB/s and holds ~50 KiB
//! even when blank (MiBs with its scrollback), so one kept per session and
//! fed every chunk would cost the relay most of its throughput and every
//! idle session its memory budget. Instead a snapshot is built when a viewer
//! asks, on a blocking thread, from the ring ([`VirtualTerminal`] fed chunk
//! by chunk under short locks, taking each PTY size where the PTY took it:
//! [`SizeHistory`]), and the last one is kept: a viewer joining at the same
//! offset gets it as is, and the next build starts from it (fed into a
//! fresh terminal, then only the output since) instead of from the ring's
//! start. A session that goes quiet after enough output gets its snapshot
//! built in the background ([`warm`]), so that even the first join parses
//! only what came since. What a session keeps for this
//! ([`Session::snapshot_bytes`]) counts in the memory budgets with its ring.

mod cache;
#[cfg(test)]
mod costs;
mod lines;
mod modes;
mod sizes;
mod terminal;
#[cfg(test)]
mod tests;
mod warm;
#[cfg(test)]
mod warm_tests;

pub(crate) use cache::{SnapshotCache, SnapshotStats};
pub(crate) use sizes::SizeHistory;
pub(crate) use warm::Warmer;

use std::sync::Arc;
use std::time::Instant;

use protocol::{Size, Snapshot};

use super::log::{CursorRead, ViewerCursor};
use super::{Session, SessionState};
use cache::{Latest, Rebuild};
use terminal::VirtualTerminal;

/// A viewer resuming more than this many bytes behind the end gets a
/// snapshot instead of the bytes it missed.
pub(crate) const FAR_BEHIND: u64 = 256 << 10;

/// The size a terminal is rebuilt at when the agent never sent one.
const DEFAULT_SIZE: Size = Size::new(24, 80);

/// Most bytes of a snapshot: what fits one frame a viewer accepts.
const MAX_DATA: usize = protocol::DEFAULT_MAX_PAYLOAD - Snapshot::PREFIX_LEN;

/// Ring bytes read per lock while rebuilding (the agent's upload waits at
/// most one such copy).
const READ_CHUNK: usize = 1 << 20;

/// How a viewer asked for the history (`?history=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HistoryMode {
    /// A snapshot when joining, resuming from before the ring, or resuming
    /// far behind; the missed bytes otherwise (the default).
    #[default]
    Snapshot,
    /// The raw history from the ring, always (`history=raw`).
    Raw,
}

impl HistoryMode {
    /// The mode a `history` query value names.
    pub(crate) fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("snapshot") => Ok(Self::Snapshot),
            Some("raw") => Ok(Self::Raw),
            Some(other) => Err(format!(
                "unknown history mode {other:?} (use snapshot or raw)"
            )),
        }
    }
}

/// Why a viewer's `from` cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FromError {
    /// The offset is beyond every byte the stream has had.
    #[error("offset {from} is beyond the end of the stream ({end})")]
    Future {
        /// The offset asked for.
        from: u64,
        /// The end of the stream.
        end: u64,
    },
}

/// How far [`Session::feed_until`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fed {
    /// To the end it was given.
    Done,
    /// Stopped early, when asked to.
    Stopped,
}

impl Session {
    /// The snapshot of the terminal at the current end of the stream, with
    /// up to `lines` lines of scrollback, or `None` if even its screen
    /// alone does not fit a frame. CPU-bound (up to the whole ring is
    /// parsed): call it off the async runtime. Concurrent calls for one
    /// session wait for each other and share the result; one that comes
    /// while a warm build runs takes that build's terminal over.
    pub(crate) fn snapshot(&self, lines: usize) -> Option<Arc<Snapshot>> {
        let mut latest = self.snapshots.lock_for_join();
        let started = Instant::now();
        let (end, size) = self.end_and_size();
        if let Some(snapshot) = latest.reusable(end, size, lines) {
            return Some(snapshot);
        }
        let mut rebuild = self.resume(&mut latest, lines);
        let base = rebuild.at;
        let (_, parsed) = self.feed_until(&mut rebuild, end, READ_CHUNK, |_| false);
        SnapshotStats::count(&self.snapshots.stats.at_join, parsed);
        let from_checkpoint = rebuild.from_checkpoint;
        let snapshot = self.keep_snapshot(&mut latest, rebuild, end)?;
        tracing::debug!(
            session = %self.id,
            parsed,
            from = base,
            from_checkpoint,
            bytes = snapshot.data.len(),
            elapsed = ?started.elapsed(),
            "snapshot built"
        );
        Some(snapshot)
    }

    /// This session, counting what its snapshot builds parse in `stats`.
    pub(crate) fn counting_in(mut self, stats: Arc<SnapshotStats>) -> Self {
        self.snapshots = SnapshotCache::counting_in(stats);
        self
    }

    /// The end of the stream and the PTY size now.
    fn end_and_size(&self) -> (u64, Size) {
        let state = self.lock();
        (state.log.end(), state.size.unwrap_or(DEFAULT_SIZE))
    }

    /// Where a build of `lines` of scrollback starts: a warm build's
    /// terminal handed over, else the latest snapshot, else the ring.
    fn resume(&self, latest: &mut Latest, lines: usize) -> Rebuild {
        match latest.handed_over.take() {
            Some(rebuild) if rebuild.lines == lines => rebuild,
            _ => {
                let checkpoint = latest.snapshot.as_ref().map(|(s, _)| s.clone());
                self.rebuild_from(checkpoint.as_deref(), lines)
            }
        }
    }

    /// Dumps the rebuilt terminal (at `end`) as the latest snapshot, with
    /// less scrollback if it must to fit a frame; `None` if even its screen
    /// alone does not.
    fn keep_snapshot(
        &self,
        latest: &mut Latest,
        rebuild: Rebuild,
        end: u64,
    ) -> Option<Arc<Snapshot>> {
        let lines = rebuild.lines;
        let mut data = rebuild.terminal.dump(lines);
        let mut kept_lines = lines;
        while data.len() > MAX_DATA && kept_lines > 0 {
            kept_lines /= 2;
            data = rebuild.terminal.dump(kept_lines);
        }
        if data.len() > MAX_DATA {
            tracing::warn!(session = %self.id, bytes = data.len(), "snapshot too large for a frame: raw replay instead");
            return None;
        }
        data.shrink_to_fit();
        let snapshot = Arc::new(Snapshot {
            offset: end,
            size: rebuild.terminal.size(),
            data,
        });
        self.snapshots.keep(latest, snapshot.clone(), lines);
        Some(snapshot)
    }

    /// Bytes this session keeps for snapshots: the latest one (the size
    /// history counts with the ring, [`SessionState::held_bytes`]). Counted
    /// in the memory budgets; never waits for a build.
    pub(crate) fn snapshot_bytes(&self) -> u64 {
        self.snapshots.held_bytes()
    }

    /// Refuses a `from` beyond the end of a stream this relay has seen
    /// whole. (After a relay restart the offset may be real — the wrapper is
    /// still re-uploading — and the viewer waits for it instead.)
    pub(crate) fn check_from(&self, from: Option<u64>) -> Result<(), FromError> {
        let state = self.lock();
        let end = state.log.end();
        match from {
            Some(from) if from > end && state.whole_stream => Err(FromError::Future { from, end }),
            _ => Ok(()),
        }
    }

    /// This relay registered the session: it sees its stream from byte 0.
    pub(crate) fn mark_whole_stream(&self) {
        self.lock().whole_stream = true;
    }

    /// A terminal to rebuild from: the checkpoint if the ring still holds
    /// everything after it, else a blank one at the ring's start.
    fn rebuild_from(&self, checkpoint: Option<&Snapshot>, lines: usize) -> Rebuild {
        let state = self.lock();
        let (start, end) = (state.log.start(), state.log.end());
        match checkpoint {
            Some(c) if (start..=end).contains(&c.offset) => {
                let mut terminal = VirtualTerminal::new(c.size, lines);
                terminal.feed(&c.data);
                if let Some(size) = state.sizes.at(c.offset) {
                    terminal.resize(size);
                }
                Rebuild {
                    terminal,
                    at: c.offset,
                    lines,
                    from_checkpoint: true,
                }
            }
            _ => Rebuild {
                terminal: VirtualTerminal::new(
                    state.sizes.at(start).unwrap_or(DEFAULT_SIZE),
                    lines,
                ),
                at: start,
                lines,
                from_checkpoint: false,
            },
        }
    }

    /// Feeds the ring's bytes from `rebuild.at` to `end` into the terminal,
    /// up to `chunk_bytes` per lock, resizing where the PTY was resized. If
    /// the ring overruns the rebuild meanwhile, it starts again from the
    /// ring. Between chunks, `stop` (asked under the session's lock) may
    /// end it early. Returns whether it got to `end`, and the ring bytes it
    /// parsed.
    fn feed_until(
        &self,
        rebuild: &mut Rebuild,
        end: u64,
        chunk_bytes: usize,
        stop: impl Fn(&SessionState) -> bool,
    ) -> (Fed, u64) {
        let mut chunk = Vec::with_capacity(chunk_bytes.min((end - rebuild.at) as usize));
        let mut parsed = 0;
        while rebuild.at < end {
            chunk.clear();
            let resize = {
                let state = self.lock();
                if parsed > 0 && stop(&state) {
                    return (Fed::Stopped, parsed);
                }
                let resize = state
                    .sizes
                    .next_after(rebuild.at)
                    .filter(|&(at, _)| at <= end);
                let limit = resize.map_or(end, |(at, _)| at);
                let mut cursor = ViewerCursor::at(rebuild.at);
                match cursor.read_into(&state.log, chunk_bytes, limit, &mut chunk) {
                    CursorRead::Gap { .. } => {
                        drop(state);
                        *rebuild = self.rebuild_from(None, rebuild.lines);
                        continue;
                    }
                    CursorRead::UpToDate | CursorRead::Bytes { .. } => {}
                }
                rebuild.at = cursor.position();
                resize.filter(|&(at, _)| at == rebuild.at)
            };
            rebuild.terminal.feed(&chunk);
            parsed += chunk.len() as u64;
            if let Some((_, size)) = resize {
                rebuild.terminal.resize(size);
            }
            if chunk.is_empty() && resize.is_none() {
                break; // the log holds less than it said (cannot happen)
            }
        }
        (Fed::Done, parsed)
    }
}
