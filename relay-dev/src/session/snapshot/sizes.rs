//! [`SizeHistory`]: the PTY sizes a session's stream was drawn at, by
//! offset, so that a terminal rebuilt from the ring takes each size where
//! the PTY took it.

use std::collections::VecDeque;

use protocol::Size;

/// Most size changes kept; beyond it the oldest go (sizes are debounced
/// changes a person makes, so this is hours of resizing).
const MAX_CHANGES: usize = 256;

/// The size the PTY took at each stream offset (oldest first).
#[derive(Debug, Default)]
pub(crate) struct SizeHistory {
    changes: VecDeque<(u64, Size)>,
}

impl SizeHistory {
    /// The PTY took `size` at `offset` (the end of the log then). Changes
    /// before `start` (the ring's oldest byte) but the last of them are
    /// dropped: nothing is rebuilt from before the ring.
    pub(crate) fn record(&mut self, offset: u64, size: Size, start: u64) {
        while self.changes.back().is_some_and(|&(at, _)| at >= offset) {
            self.changes.pop_back();
        }
        self.changes.push_back((offset, size));
        while self.changes.len() > MAX_CHANGES
            || self.changes.get(1).is_some_and(|&(at, _)| at <= start)
        {
            self.changes.pop_front();
        }
    }

    /// The size in force at `offset`: the last change at or before it.
    pub(crate) fn at(&self, offset: u64) -> Option<Size> {
        self.changes
            .iter()
            .rev()
            .find(|&&(at, _)| at <= offset)
            .map(|&(_, size)| size)
    }

    /// The first change after `offset`, if any.
    pub(crate) fn next_after(&self, offset: u64) -> Option<(u64, Size)> {
        self.changes.iter().find(|&&(at, _)| at > offset).copied()
    }

    /// Bytes this history holds.
    pub(crate) fn held_bytes(&self) -> u64 {
        (self.changes.capacity() * std::mem::size_of::<(u64, Size)>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_by_offset() {
        let mut sizes = SizeHistory::default();
        assert_eq!(sizes.at(5), None);
        sizes.record(0, Size::new(24, 80), 0);
        sizes.record(100, Size::new(30, 100), 0);
        // A second change at the same offset replaces the first.
        sizes.record(200, Size::new(10, 10), 0);
        sizes.record(200, Size::new(40, 120), 0);
        assert_eq!(sizes.at(99), Some(Size::new(24, 80)));
        assert_eq!(sizes.at(100), Some(Size::new(30, 100)));
        assert_eq!(sizes.at(500), Some(Size::new(40, 120)));
        assert_eq!(sizes.next_after(100), Some((200, Size::new(40, 120))));
        assert_eq!(sizes.next_after(200), None);
    }

    #[test]
    fn changes_before_the_ring_but_the_last_are_dropped() {
        let mut sizes = SizeHistory::default();
        sizes.record(0, Size::new(24, 80), 0);
        sizes.record(10, Size::new(30, 100), 0);
        sizes.record(50, Size::new(40, 120), 20);
        assert_eq!(sizes.changes.len(), 2, "{:?}", sizes.changes);
        assert_eq!(sizes.at(20), Some(Size::new(30, 100)));
        for n in 0..1000 {
            sizes.record(100 + n, Size::new(1, 1), 0);
        }
        assert_eq!(sizes.changes.len(), MAX_CHANGES);
    }
}
