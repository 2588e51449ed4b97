//! The session's output stream as this viewer sees it: absolute offsets,
//! duplicate removal after a resume, and flow control towards xterm.
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
        let idle = self.queue.is_empty() && self.in_flight == 0;
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
        self.queue.clear();
        self.queued = 0;
        self.skip = 0;
        if self.next.is_some() {
            self.next = Some(self.written);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(stream: &mut OutputStream) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = stream.next_write() {
            stream.on_rendered(chunk.end, chunk.data.len());
            out.extend_from_slice(&chunk.data);
        }
        out
    }

    #[test]
    fn first_connection_starts_at_the_announced_offset() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(100);
        stream.on_output(b"hello");
        assert_eq!(stream.resume_from(), Some(105));
        assert_eq!(drain(&mut stream), b"hello");
        assert_eq!(stream.rendered(), 105);
    }

    #[test]
    fn resent_bytes_are_dropped_after_a_resume() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(0);
        stream.on_output(b"abcdef");
        // The relay resends from 3 (older than asked): "def" is a duplicate.
        stream.on_connect();
        stream.on_stream_offset(3);
        stream.on_output(b"de");
        stream.on_output(b"fgh");
        assert_eq!(drain(&mut stream), b"abcdefgh");
        assert_eq!(stream.resume_from(), Some(8));
    }

    #[test]
    fn a_forward_jump_is_counted_as_lost() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(0);
        stream.on_output(b"ab");
        stream.on_stream_offset(10);
        stream.on_output(b"xy");
        assert_eq!(stream.lost(), 8);
        assert_eq!(drain(&mut stream), b"abxy");
        assert_eq!(stream.rendered(), 12);
    }

    #[test]
    fn writes_pause_at_the_high_watermark() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(0);
        stream.on_output(&vec![b'x'; HIGH_WATERMARK * 2]);
        let mut written = 0;
        let mut chunks = Vec::new();
        while let Some(chunk) = stream.next_write() {
            assert!(chunk.data.len() <= WRITE_CHUNK);
            written += chunk.data.len();
            chunks.push(chunk);
        }
        assert_eq!(written, HIGH_WATERMARK);
        let first = chunks.remove(0);
        stream.on_rendered(first.end, first.data.len());
        assert!(stream.next_write().is_some(), "room again after a render");
    }

    #[test]
    fn replay_ends_when_history_is_rendered() {
        let mut stream = OutputStream::new();
        stream.on_connect();
        stream.on_stream_offset(0);
        stream.on_output(b"old");
        stream.on_history_complete(3);
        assert!(stream.is_replaying());
        drain(&mut stream);
        assert!(!stream.is_replaying());
    }

    #[test]
    fn absurd_offsets_do_not_overflow() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(u64::MAX - 1);
        stream.on_output(b"abc");
        assert_eq!(stream.resume_from(), Some(u64::MAX));
        assert_eq!(drain(&mut stream), b"abc");
        stream.on_stream_offset(0);
        stream.on_output(b"def");
    }

    #[test]
    fn acks_follow_rendering() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(0);
        assert_eq!(stream.ack_due(), None);
        stream.on_output(b"abc");
        assert_eq!(stream.ack_due(), None, "nothing rendered yet");
        drain(&mut stream);
        assert_eq!(stream.ack_due(), Some(3));
        assert_eq!(stream.ack_due(), None);
    }

    #[test]
    fn resync_resumes_from_the_last_written_byte() {
        let mut stream = OutputStream::new();
        stream.on_stream_offset(0);
        stream.on_output(&vec![b'x'; MAX_QUEUED + HIGH_WATERMARK + 1]);
        let mut in_flight = Vec::new();
        while let Some(chunk) = stream.next_write() {
            in_flight.push(chunk);
        }
        assert!(stream.is_overflowing());
        stream.resync();
        assert!(!stream.is_overflowing());
        assert_eq!(stream.resume_from(), Some(HIGH_WATERMARK as u64));
        stream.on_connect();
        stream.on_stream_offset(HIGH_WATERMARK as u64);
        stream.on_output(b"y");
        for chunk in in_flight {
            stream.on_rendered(chunk.end, chunk.data.len());
        }
        let chunk = stream.next_write().expect("room after rendering");
        assert_eq!(chunk.data, b"y");
    }
}
