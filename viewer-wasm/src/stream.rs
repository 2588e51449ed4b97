//! The session's output stream as this viewer sees it: absolute offsets,
//! duplicate removal after a resume, and flow control towards xterm.
//!
//! A SNAPSHOT (the terminal as it is at an offset) replaces whatever was
//! queued: it is written first, after a full reset (`ESC c`, in the same
//! write so that xterm applies it after what it was still parsing), and the
//! stream goes on from its offset.
//!
//! Bytes go through three stages: *received* (queued here), *written* (handed
//! to xterm, whose parser works asynchronously) and *rendered* (xterm called
//! back). Only a bounded amount is written but not rendered (the high
//! watermark), so a flood never makes xterm buffer without limit; the queue
//! itself is bounded too: past [`MAX_QUEUED`] the viewer drops it and resumes
//! from the relay at the last written offset ([`OutputStream::resync`]).
//!
//! No browser types here, so this is tested natively.

use std::collections::VecDeque;

/// Most bytes handed to xterm in one `write` call.
pub const WRITE_CHUNK: usize = 64 * 1024;
/// Most bytes written to xterm but not yet rendered; writing pauses above it.
pub const HIGH_WATERMARK: usize = 256 * 1024;
/// Most bytes received but not yet written before the viewer resyncs.
pub const MAX_QUEUED: usize = 8 * 1024 * 1024;
/// Rendered bytes between two acknowledgements sent to the relay.
pub const ACK_EVERY: u64 = 64 * 1024;
/// Written before a snapshot: a full reset (RIS) of the terminal, its
/// screens, scrollback and modes.
pub const RESET: &[u8] = b"\x1bc";

/// A chunk of output ready for xterm, with the offset just past its last byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteChunk {
    /// Offset of the byte after this chunk's last byte.
    pub end: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Viewer-side state of one session's output stream (see the module docs).
#[derive(Debug, Default)]
pub struct OutputStream {
    /// Offset of the next byte the relay will send; `None` before the first
    /// STREAM_OFFSET (or OUTPUT) of the first connection.
    next: Option<u64>,
    /// Resent bytes still to drop because they were already received.
    skip: u64,
    /// A snapshot to write before the queue: its offset and bytes (reset
    /// included).
    snapshot: Option<(u64, Vec<u8>)>,
    /// Received chunks with their start offsets, not yet written.
    queue: VecDeque<(u64, Vec<u8>)>,
    queued: usize,
    /// Offset just past the last byte handed to xterm.
    written: u64,
    /// Offset just past the last byte xterm rendered.
    rendered: u64,
    /// Bytes written but not rendered.
    in_flight: usize,
    /// Last offset acknowledged to the relay.
    acked: u64,
    /// Where live output starts on the current connection, once known.
    history_end: Option<u64>,
    /// Bytes skipped by gaps, for display.
    lost: u64,
    /// Snapshots received.
    snapshots: u32,
}

impl OutputStream {
    /// An empty stream that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The `from` offset to resume with on a reconnect: just past the last
    /// byte received. `None` before anything was received.
    pub fn resume_from(&self) -> Option<u64> {
        self.next
    }

    /// Offset just past the last byte xterm rendered.
    pub fn rendered(&self) -> u64 {
        self.rendered
    }

    /// Bytes received but not yet handed to xterm.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Bytes lost to gaps (the relay no longer had them).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// How many snapshots this stream was rebuilt from.
    pub fn snapshots(&self) -> u32 {
        self.snapshots
    }

    /// A new connection starts: history will be replayed again.
    pub fn on_connect(&mut self) {
        self.history_end = None;
        self.skip = 0;
    }

    /// STREAM_OFFSET: the next OUTPUT byte has offset `start`.
    ///
    /// Bytes before what was already received are dropped when they arrive
    /// again; a jump forward is a gap.
    pub fn on_stream_offset(&mut self, start: u64) {
        match self.next {
            None => {
                self.next = Some(start);
                self.written = start;
                self.rendered = start;
                self.acked = start;
            }
            Some(next) if start <= next => self.skip = next - start,
            Some(next) => {
                self.lost = self.lost.saturating_add(start - next);
                self.skip = 0;
                self.next = Some(start);
            }
        }
    }

    /// OUTPUT: appends `data` (minus bytes already received) to the queue.
    pub fn on_output(&mut self, data: &[u8]) {
        let next = *self.next.get_or_insert(0);
        let dup = usize::try_from(self.skip)
            .unwrap_or(usize::MAX)
            .min(data.len());
        self.skip -= dup as u64;
        let fresh = &data[dup..];
        if fresh.is_empty() {
            return;
        }
        // Offsets come from the network: never overflow, whatever they say.
        self.next = Some(next.saturating_add(fresh.len() as u64));
        self.queued += fresh.len();
        match self.queue.back_mut() {
            // Coalesce small chunks so that xterm gets fewer, larger writes.
            Some((start, last))
                if start.saturating_add(last.len() as u64) == next
                    && last.len() + fresh.len() <= WRITE_CHUNK =>
            {
                last.extend_from_slice(fresh);
            }
            _ => self.queue.push_back((next, fresh.to_vec())),
        }
    }

    /// SNAPSHOT: the terminal as it is at `offset`. What was queued is
    /// dropped (the snapshot shows it); the snapshot is written next, after
    /// a reset, and the stream continues at `offset`.
    pub fn on_snapshot(&mut self, offset: u64, data: &[u8]) {
        self.queue.clear();
        self.queued = 0;
        self.skip = 0;
        self.next = Some(offset);
        let mut write = Vec::with_capacity(RESET.len() + data.len());
        write.extend_from_slice(RESET);
        write.extend_from_slice(data);
        self.snapshot = Some((offset, write));
        self.snapshots += 1;
    }

    /// CONTROL history_complete: live output starts at `offset`.
    pub fn on_history_complete(&mut self, offset: u64) {
        self.history_end = Some(offset);
    }

    /// Whether history is still being replayed or rendered. Terminal replies
    /// produced by replayed queries must not reach the agent.
    pub fn is_replaying(&self) -> bool {
        match self.history_end {
            None => true,
            Some(end) => self.rendered < end,
        }
    }

    /// The next chunk to hand to xterm, unless the queue is empty or the
    /// high watermark is reached. The chunk counts as in flight until
    /// [`on_rendered`](Self::on_rendered).
    pub fn next_write(&mut self) -> Option<WriteChunk> {
        if let Some((end, data)) = self.snapshot.take() {
            // One write (at most a frame's payload), whatever is in flight.
            self.in_flight += data.len();
            self.written = end;
            return Some(WriteChunk { end, data });
        }
        if self.in_flight >= HIGH_WATERMARK {
            return None;
        }
        let (start, mut data) = self.queue.pop_front()?;
        if data.len() > WRITE_CHUNK {
            let rest = data.split_off(WRITE_CHUNK);
            self.queue
                .push_front((start.saturating_add(WRITE_CHUNK as u64), rest));
        }
        self.queued -= data.len();
        self.in_flight += data.len();
        let end = start.saturating_add(data.len() as u64);
        self.written = end;
        Some(WriteChunk { end, data })
    }

    /// xterm finished a chunk of `len` bytes ending at `end`.
    pub fn on_rendered(&mut self, end: u64, len: usize) {
        self.in_flight = self.in_flight.saturating_sub(len);
        self.rendered = self.rendered.max(end);
    }

    /// The offset to acknowledge to the relay now, if one is due: every
    /// [`ACK_EVERY`] bytes, and whenever everything received is rendered.
    pub fn ack_due(&mut self) -> Option<u64> {
        let idle = self.queue.is_empty() && self.snapshot.is_none() && self.in_flight == 0;
        if self.rendered > self.acked && (idle || self.rendered - self.acked >= ACK_EVERY) {
            self.acked = self.rendered;
            return Some(self.rendered);
        }
        None
    }

    /// Whether the queue outgrew [`MAX_QUEUED`]: the viewer should drop it
    /// with [`resync`](Self::resync) and reconnect.
    pub fn is_overflowing(&self) -> bool {
        self.queued > MAX_QUEUED
    }

    /// Drops everything received but not written; the next connection
    /// resumes from the last written byte.
    pub fn resync(&mut self) {
        self.snapshot = None;
        self.queue.clear();
        self.queued = 0;
        self.skip = 0;
        if self.next.is_some() {
            self.next = Some(self.written);
        }
    }
}

#[cfg(test)]
mod tests;
