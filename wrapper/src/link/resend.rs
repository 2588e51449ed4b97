//! The wrapper's copy of recent output, with absolute offsets.

use std::collections::VecDeque;

/// Default size of the retained output: 16 MiB (the design asks for ≥ 8 MiB).
pub const DEFAULT_CAPACITY: usize = 16 << 20;

/// The most recent `capacity` bytes of the agent's output, numbered from the
/// first byte the agent printed, plus what the relay acknowledged.
///
/// Bytes are kept after they are acknowledged: a relay that restarts with an
/// empty memory gets them again.
///
/// With a capacity of 4, after `abcdef` the buffer holds `cdef` as offsets
/// 2..6: reading from 3 gives `def`, reading from 0 is `Err(2)` (gone).
#[derive(Debug)]
pub struct ResendBuffer {
    data: VecDeque<u8>,
    start: u64,
    capacity: usize,
    acked: u64,
}

impl ResendBuffer {
    /// An empty buffer keeping at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            data: VecDeque::new(),
            start: 0,
            capacity: capacity.max(1),
            acked: 0,
        }
    }

    /// Offset of the oldest byte kept.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// Offset of the next byte the agent will write (total bytes written).
    pub fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }

    /// Highest offset the relay acknowledged.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Appends output, dropping the oldest bytes beyond the capacity.
    pub fn push(&mut self, bytes: &[u8]) {
        let bytes = if bytes.len() > self.capacity {
            let skipped = bytes.len() - self.capacity;
            self.start += (self.data.len() + skipped) as u64;
            self.data.clear();
            &bytes[skipped..]
        } else {
            bytes
        };
        let overflow = (self.data.len() + bytes.len()).saturating_sub(self.capacity);
        if overflow > 0 {
            self.data.drain(..overflow);
            self.start += overflow as u64;
        }
        self.data.extend(bytes);
    }

    /// Up to `max` bytes from `offset`; `Err(start)` when `offset` is older
    /// than the oldest byte kept. An offset at or past the end gives no bytes.
    #[cfg(test)]
    pub fn read_from(&self, offset: u64, max: usize) -> Result<Vec<u8>, u64> {
        let mut out = Vec::new();
        self.read_into(offset, max, &mut out).map(|_| out)
    }

    /// Like [`read_from`](Self::read_from), but appends the bytes to `out`
    /// (right after a frame header: the one copy between the buffer and the
    /// message) and returns how many.
    pub fn read_into(&self, offset: u64, max: usize, out: &mut Vec<u8>) -> Result<usize, u64> {
        if offset < self.start {
            return Err(self.start);
        }
        let skip = usize::try_from(offset - self.start).unwrap_or(usize::MAX);
        if skip >= self.data.len() {
            return Ok(0);
        }
        let take = max.min(self.data.len() - skip);
        let (a, b) = self.data.as_slices();
        out.reserve(take);
        if skip < a.len() {
            let from_a = take.min(a.len() - skip);
            out.extend_from_slice(&a[skip..skip + from_a]);
            out.extend_from_slice(&b[..take - from_a]);
        } else {
            let skip_b = skip - a.len();
            out.extend_from_slice(&b[skip_b..skip_b + take]);
        }
        Ok(take)
    }

    /// Records the relay's acknowledgement (it only moves forward, and never
    /// past what was written).
    pub fn ack(&mut self, offset: u64) {
        self.acked = self.acked.max(offset.min(self.end()));
    }

    /// Whether the relay can be resumed from `offset` without a gap.
    pub fn holds(&self, offset: u64) -> bool {
        (self.start..=self.end()).contains(&offset)
    }

    /// A resumed session: this run's output, numbered from 0 so far,
    /// continues the relay's stream, which ends at `relay_end`. Every offset
    /// moves up by `relay_end` (bytes already dropped leave a gap after it).
    pub fn continue_after(&mut self, relay_end: u64) {
        self.start += relay_end;
        self.acked = self.acked.max(self.start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recent_bytes_with_offsets() {
        let mut buf = ResendBuffer::new(10);
        for chunk in [&b"0123"[..], b"4567", b"89ab", b"cd"] {
            buf.push(chunk);
        }
        assert_eq!(buf.start(), 4);
        assert_eq!(buf.end(), 14);
        assert_eq!(buf.read_from(4, 100).unwrap(), b"456789abcd");
        assert_eq!(buf.read_from(12, 100).unwrap(), b"cd");
        assert_eq!(buf.read_from(14, 100).unwrap(), b"");
        assert_eq!(buf.read_from(3, 100), Err(4));
    }

    #[test]
    fn a_push_larger_than_capacity_keeps_its_tail() {
        let mut buf = ResendBuffer::new(3);
        buf.push(b"ab");
        buf.push(b"cdefg");
        assert_eq!((buf.start(), buf.end()), (4, 7));
        assert_eq!(buf.read_from(4, 10).unwrap(), b"efg");
    }

    #[test]
    fn reads_across_the_ring_seam_and_respect_max() {
        let mut buf = ResendBuffer::new(8);
        buf.push(b"abcdefgh");
        buf.push(b"ijk"); // drains the front: the deque wraps
        assert_eq!(buf.read_from(3, 8).unwrap(), b"defghijk");
        assert_eq!(buf.read_from(5, 4).unwrap(), b"fghi");
        assert_eq!(buf.read_from(9, 1).unwrap(), b"j");
    }

    #[test]
    fn acks_only_move_forward_and_stay_within_written() {
        let mut buf = ResendBuffer::new(8);
        buf.push(b"abc");
        buf.ack(2);
        buf.ack(1);
        assert_eq!(buf.acked(), 2);
        buf.ack(100);
        assert_eq!(buf.acked(), 3);
    }

    #[test]
    fn holds_and_continue_after() {
        let mut buf = ResendBuffer::new(4);
        buf.push(b"abcdef");
        assert_eq!((buf.start(), buf.end()), (2, 6));
        assert_eq!(buf.read_from(3, 10), Ok(b"def".to_vec()));
        assert_eq!(
            buf.read_from(0, 10),
            Err(2),
            "gone: the oldest kept byte is 2"
        );
        assert!(buf.holds(2) && buf.holds(6));
        assert!(!buf.holds(1) && !buf.holds(7));
        // A resumed run: after the relay's 1000 bytes, with the 2 this
        // buffer dropped as a gap.
        buf.continue_after(1000);
        assert_eq!((buf.start(), buf.end()), (1002, 1006));
        assert_eq!(buf.read_from(1004, 9).unwrap(), b"ef");
        assert!(!buf.holds(1000));
    }

    #[test]
    fn matches_a_reference_model() {
        // Pseudo-random pushes and reads checked against a plain Vec.
        let mut seed = 0x2545_f491_u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut buf = ResendBuffer::new(100);
        let mut all = Vec::new();
        for i in 0..2000u64 {
            let len = next(40) as usize;
            let chunk: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            buf.push(&chunk);
            all.extend_from_slice(&chunk);
            assert_eq!(buf.end(), all.len() as u64);
            assert_eq!(buf.start(), all.len().saturating_sub(100) as u64);
            let offset = buf.start() + next(buf.end() - buf.start() + 1);
            let max = next(120) as usize;
            let got = buf.read_from(offset, max).unwrap();
            let from = offset as usize;
            assert_eq!(got, all[from..(from + max).min(all.len())]);
        }
    }
}
