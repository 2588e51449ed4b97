//! [`StreamLog`]: the bounded ring of a session's output, addressed by absolute
//! offsets, and [`ViewerCursor`]: one viewer's position in it.

use std::collections::VecDeque;

/// The most recent bytes of a session's output stream.
///
/// Byte 0 is the first byte the agent ever printed; the log keeps the last
/// `capacity` bytes, `start()..end()`. Viewers read it through their own
/// [`ViewerCursor`]s, so history is never copied per viewer.
#[derive(Debug)]
pub(crate) struct StreamLog {
    bytes: VecDeque<u8>,
    start: u64,
    capacity: usize,
}

/// What a cursor found when it read the log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CursorRead {
    /// The cursor is at the end of the log: nothing new.
    UpToDate,
    /// Bytes `from..to` left the ring before the cursor read them; the cursor
    /// now points at `to`.
    Gap {
        /// First byte that was lost.
        from: u64,
        /// Where the stream continues.
        to: u64,
    },
    /// New bytes starting at `offset`; the cursor moved past them.
    Bytes {
        /// Absolute offset of the first byte.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
}

impl StreamLog {
    /// An empty log keeping at most `capacity` bytes (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            bytes: VecDeque::new(),
            start: 0,
            capacity: capacity.max(1),
        }
    }

    /// The most bytes the ring keeps.
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity as u64
    }

    /// Bytes the ring has allocated now.
    pub(crate) fn allocated(&self) -> u64 {
        self.bytes.capacity() as u64
    }

    /// Gives back memory beyond what the ring holds (it stops growing).
    pub(crate) fn shrink(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Drops every byte kept (and its memory); the offsets go on from the
    /// end, so readers see a gap.
    pub(crate) fn free(&mut self) {
        self.start = self.end();
        self.bytes = VecDeque::new();
    }

    /// Offset of the oldest byte kept.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// Offset just past the newest byte: the total number of bytes ever appended.
    pub(crate) fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }

    /// Appends bytes at the end, dropping the oldest ones beyond capacity.
    pub(crate) fn append(&mut self, data: &[u8]) {
        let data = if data.len() > self.capacity {
            let cut = data.len() - self.capacity;
            self.start += (self.bytes.len() + cut) as u64;
            self.bytes.clear();
            &data[cut..]
        } else {
            data
        };
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            self.start += overflow as u64;
        }
        self.bytes.extend(data);
    }

    /// Appends `data` whose first byte has absolute offset `at`: bytes the log
    /// already holds (below `end()`) are dropped as duplicates, and if `at` is
    /// beyond `end()` the log jumps forward (the bytes in between are lost).
    pub(crate) fn append_at(&mut self, at: u64, data: &[u8]) -> Appended {
        let mut result = Appended::default();
        let end = self.end();
        if at > end {
            self.bytes.clear();
            self.start = at;
            result.gap = Some((end, at));
        }
        let duplicate = self.end().saturating_sub(at).min(data.len() as u64) as usize;
        result.duplicate = duplicate;
        self.append(&data[duplicate..]);
        result.stored = data.len() - duplicate;
        result
    }

    /// Copies at most `max` bytes starting at `from` (which must be within
    /// `start()..=end()`) into `out`.
    fn copy_from(&self, from: u64, max: usize, out: &mut Vec<u8>) {
        let skip = (from - self.start) as usize;
        let take = (self.bytes.len() - skip).min(max);
        let (a, b) = self.bytes.as_slices();
        if skip < a.len() {
            let first = &a[skip..a.len().min(skip + take)];
            out.extend_from_slice(first);
            out.extend_from_slice(&b[..take - first.len()]);
        } else {
            let s = skip - a.len();
            out.extend_from_slice(&b[s..s + take]);
        }
    }
}

/// The outcome of [`StreamLog::append_at`].
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Bytes newly stored.
    pub(crate) stored: usize,
    /// Bytes dropped because the log already held them.
    pub(crate) duplicate: usize,
    /// `Some((from, to))` when the log jumped forward over bytes it never got.
    pub(crate) gap: Option<(u64, u64)>,
}

/// One reader's position in a [`StreamLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ViewerCursor {
    next: u64,
}

impl ViewerCursor {
    /// A cursor that reads from `offset`.
    pub(crate) fn at(offset: u64) -> Self {
        Self { next: offset }
    }

    /// The offset of the next byte this cursor reads.
    pub(crate) fn position(&self) -> u64 {
        self.next
    }

    /// Reads up to `max` bytes, but never past `limit`, reporting a gap first
    /// if the cursor's bytes have left the ring.
    pub(crate) fn read(&mut self, log: &StreamLog, max: usize, limit: u64) -> CursorRead {
        let mut data = Vec::new();
        match self.read_into(log, max, limit, &mut data) {
            CursorRead::Bytes { offset, .. } => CursorRead::Bytes { offset, data },
            other => other,
        }
    }

    /// Like [`read`](Self::read), but appends the bytes to `out` (e.g. right
    /// after a frame header, saving a copy); the returned `Bytes` has an
    /// empty `data` and the count is what `out` grew by.
    pub(crate) fn read_into(
        &mut self,
        log: &StreamLog,
        max: usize,
        limit: u64,
        out: &mut Vec<u8>,
    ) -> CursorRead {
        if self.next < log.start() {
            let gap = CursorRead::Gap {
                from: self.next,
                to: log.start(),
            };
            self.next = log.start();
            return gap;
        }
        // A cursor beyond the end (a viewer resuming on a relay that lost its
        // memory) waits there until the re-uploaded log reaches it.
        let end = log.end().min(limit.max(self.next));
        if self.next >= end {
            return CursorRead::UpToDate;
        }
        let want = ((end - self.next) as usize).min(max);
        let before = out.len();
        log.copy_from(self.next, want, out);
        let offset = self.next;
        self.next += (out.len() - before) as u64;
        CursorRead::Bytes {
            offset,
            data: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(cursor: &mut ViewerCursor, log: &StreamLog) -> Vec<u8> {
        let mut all = Vec::new();
        while let CursorRead::Bytes { data, .. } = cursor.read(log, 3, u64::MAX) {
            all.extend(data);
        }
        all
    }

    #[test]
    fn keeps_the_most_recent_bytes_with_absolute_offsets() {
        let mut log = StreamLog::new(8);
        log.append(b"hello ");
        log.append(b"world");
        assert_eq!((log.start(), log.end()), (3, 11));
        let mut cursor = ViewerCursor::at(3);
        assert_eq!(read_all(&mut cursor, &log), b"lo world");
        log.append(b"0123456789abc");
        assert_eq!((log.start(), log.end()), (16, 24));
        assert_eq!(read_all(&mut ViewerCursor::at(16), &log), b"56789abc");
    }

    #[test]
    fn a_cursor_that_fell_out_of_the_ring_gets_a_gap() {
        let mut log = StreamLog::new(4);
        let mut cursor = ViewerCursor::at(0);
        log.append(b"abcdefgh");
        assert_eq!(
            cursor.read(&log, 10, u64::MAX),
            CursorRead::Gap { from: 0, to: 4 }
        );
        assert_eq!(
            cursor.read(&log, 10, u64::MAX),
            CursorRead::Bytes {
                offset: 4,
                data: b"efgh".to_vec()
            }
        );
        assert_eq!(cursor.read(&log, 10, u64::MAX), CursorRead::UpToDate);
    }

    #[test]
    fn a_cursor_beyond_the_end_waits_for_the_log_to_reach_it() {
        let mut log = StreamLog::new(64);
        let mut cursor = ViewerCursor::at(5);
        log.append(b"abc");
        assert_eq!(cursor.read(&log, 10, u64::MAX), CursorRead::UpToDate);
        log.append(b"defgh");
        assert_eq!(
            cursor.read(&log, 10, u64::MAX),
            CursorRead::Bytes {
                offset: 5,
                data: b"fgh".to_vec()
            }
        );
    }

    #[test]
    fn reads_stop_at_the_limit() {
        let mut log = StreamLog::new(16);
        log.append(b"history|live");
        let mut cursor = ViewerCursor::at(0);
        assert_eq!(
            cursor.read(&log, 100, 8),
            CursorRead::Bytes {
                offset: 0,
                data: b"history|".to_vec()
            }
        );
        assert_eq!(cursor.read(&log, 100, 8), CursorRead::UpToDate);
    }

    #[test]
    fn append_at_drops_duplicates_and_records_gaps() {
        let mut log = StreamLog::new(64);
        log.append(b"abcdef");
        let dup = log.append_at(3, b"defgh");
        assert_eq!((dup.stored, dup.duplicate, dup.gap), (2, 3, None));
        let all_dup = log.append_at(0, b"abc");
        assert_eq!((all_dup.stored, all_dup.duplicate), (0, 3));
        let gap = log.append_at(20, b"xy");
        assert_eq!(gap.gap, Some((8, 20)));
        assert_eq!((log.start(), log.end()), (20, 22));
        assert_eq!(read_all(&mut ViewerCursor::at(20), &log), b"xy");
    }

    #[test]
    fn a_freed_ring_holds_nothing_and_keeps_its_offsets() {
        let mut log = StreamLog::new(64);
        log.append(b"abcdef");
        log.shrink();
        assert!(log.allocated() >= 6 && log.allocated() < 64);
        let mut cursor = ViewerCursor::at(2);
        log.free();
        assert_eq!((log.start(), log.end(), log.allocated()), (6, 6, 0));
        assert_eq!(
            cursor.read(&log, 10, u64::MAX),
            CursorRead::Gap { from: 2, to: 6 }
        );
        log.append(b"gh");
        assert_eq!(read_all(&mut ViewerCursor::at(6), &log), b"gh");
    }

    #[test]
    fn wrapped_ring_reads_across_the_seam() {
        let mut log = StreamLog::new(5);
        for chunk in [&b"ab"[..], b"cd", b"ef", b"gh"] {
            log.append(chunk);
        }
        let mut cursor = ViewerCursor::at(log.start());
        let mut got = Vec::new();
        while let CursorRead::Bytes { data, .. } = cursor.read(&log, 2, u64::MAX) {
            got.extend(data);
        }
        assert_eq!(got, b"defgh");
    }
}
