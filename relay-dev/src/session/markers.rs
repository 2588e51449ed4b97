//! [`Markers`]: labelled moments of a session's stream (its attention
//! changes: `working`, `waiting: TEXT`, `idle`), kept for recordings, where
//! they become `m` events. Bounded in bytes; markers of evicted output go
//! with it.

use std::collections::VecDeque;

use protocol::Attention;

/// Most bytes of labels a session keeps (beyond it the oldest go).
const MAX_BYTES: usize = 16 << 10;

/// A marker: the stream offset it belongs before, when it happened (µs
/// since the session's time origin), its label.
pub(crate) type Marker = (u64, u64, String);

/// A session's markers, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Markers {
    entries: VecDeque<Marker>,
    bytes: usize,
}

impl Markers {
    /// Notes `attention` (reported at `micros`; at stream offset `end` when
    /// it names none). The end has its own event (`x`): not noted.
    pub(crate) fn attention(&mut self, attention: &Attention, micros: u64, end: u64, start: u64) {
        let Some(label) = attention.marker_label() else {
            return;
        };
        let offset = attention.offset.unwrap_or(end).min(end);
        self.bytes += label.len();
        self.entries.push_back((offset, micros, label));
        while self.bytes > MAX_BYTES || self.entries.front().is_some_and(|&(at, _, _)| at < start) {
            let Some((_, _, gone)) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= gone.len();
        }
    }

    /// The markers at offsets `from..=to`, oldest first.
    pub(crate) fn between(&self, from: u64, to: u64) -> Vec<Marker> {
        self.entries
            .iter()
            .filter(|(at, _, _)| (from..=to).contains(at))
            .cloned()
            .collect()
    }

    /// Drops every marker (the ring was freed).
    pub(crate) fn free(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::AttentionState;

    #[test]
    fn attention_changes_are_labelled_bounded_and_evicted_with_the_output() {
        let mut markers = Markers::default();
        let waiting = Attention::new(AttentionState::Waiting, Some("Allow?".into()), Some(10));
        markers.attention(&waiting, 5, 20, 0);
        let idle = Attention::new(AttentionState::Idle, None, None);
        markers.attention(&idle, 9, 30, 0);
        markers.attention(
            &Attention::new(AttentionState::Ended, None, Some(40)),
            9,
            40,
            0,
        );
        assert_eq!(
            markers.between(0, 100),
            [(10, 5, "waiting: Allow?".into()), (30, 9, "idle".into())]
        );
        assert_eq!(markers.between(11, 100).len(), 1);
        markers.attention(&idle, 12, 50, 31);
        assert_eq!(markers.between(0, 100).len(), 1, "before the ring: gone");
        for n in 0..10_000 {
            markers.attention(&waiting, n, 60, 0);
        }
        assert!(markers.bytes <= MAX_BYTES);
    }
}
