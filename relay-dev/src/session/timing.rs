//! [`TimeMarks`]: when a session's output arrived, by stream offset, so that
//! any range of the ring exports with its real pacing (a recording).
//!
//! One mark per upload at most, none within [`GRANULARITY`] of the last, so
//! a busy agent costs a few hundred marks a second at worst and a byte costs
//! nothing. At the most marks (one per KiB of the ring's capacity, 16 to
//! [`MAX_MARKS`]: at most 1/64 of the ring's bytes) every other mark is
//! dropped (the pacing gets coarser, never lost); marks for bytes the ring
//! evicted go with them.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

/// Output arriving within this time of the last mark shares its time.
const GRANULARITY: Duration = Duration::from_millis(4);

/// Most marks a session keeps (16 bytes each: 128 KiB, for an 8 MiB ring).
const MAX_MARKS: usize = 8192;

/// Fewest marks a session may keep, however small its ring.
const MIN_MARKS: usize = 16;

/// The times at which a session's stream offsets arrived.
#[derive(Debug)]
pub(crate) struct TimeMarks {
    /// When the session began here: times are kept relative to it.
    origin: Instant,
    /// The wall-clock time of `origin`, for a recording's header.
    origin_wall: SystemTime,
    /// `(offset, µs since origin)`: the byte at `offset` (and those after it
    /// up to the next mark) arrived at that time. Offsets and times increase.
    marks: VecDeque<(u64, u64)>,
    /// Most marks kept.
    max: usize,
}

impl TimeMarks {
    /// Marks for a ring of `ring_capacity` bytes, counting from now.
    pub(crate) fn new(ring_capacity: usize) -> Self {
        Self {
            origin: Instant::now(),
            origin_wall: SystemTime::now(),
            marks: VecDeque::new(),
            max: (ring_capacity / 1024).clamp(MIN_MARKS, MAX_MARKS),
        }
    }

    /// Marks whose times count from `origin` (tests set the clock).
    #[cfg(test)]
    pub(crate) fn at(origin: Instant) -> Self {
        let ago = Instant::now().saturating_duration_since(origin);
        Self {
            origin,
            origin_wall: SystemTime::now() - ago,
            ..Self::new(MAX_MARKS * 1024)
        }
    }

    /// Microseconds from the origin to `at`.
    pub(crate) fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_micros() as u64
    }

    /// Unix time (seconds) at `micros` after the origin.
    pub(crate) fn unix_seconds(&self, micros: u64) -> u64 {
        let wall = self.origin_wall + Duration::from_micros(micros);
        wall.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// The byte at `offset` arrived at `now`; marks before `start` (the
    /// ring's oldest byte) but the one covering it are dropped.
    pub(crate) fn record(&mut self, offset: u64, now: Instant, start: u64) {
        let micros = self.micros(now);
        let recent = self.marks.back().is_some_and(|&(at, time)| {
            at >= offset || micros.saturating_sub(time) < GRANULARITY.as_micros() as u64
        });
        if !recent {
            self.marks.push_back((offset, micros));
        }
        while self.marks.get(1).is_some_and(|&(at, _)| at <= start) {
            self.marks.pop_front();
        }
        if self.marks.len() > self.max {
            self.thin();
        }
    }

    /// Halves the marks, keeping the first, every other one after it, and
    /// the newest.
    fn thin(&mut self) {
        let last = self.marks.len().saturating_sub(1);
        let mut index = 0;
        self.marks.retain(|_| {
            let keep = index % 2 == 0 || index == last;
            index += 1;
            keep
        });
    }

    /// When the byte at `offset` arrived (µs since the origin): the time of
    /// the last mark at or before it; 0 before every mark.
    pub(crate) fn time_of(&self, offset: u64) -> u64 {
        let after = self.marks.partition_point(|&(at, _)| at <= offset);
        after
            .checked_sub(1)
            .map_or(0, |i| self.marks.get(i).map_or(0, |&(_, t)| t))
    }

    /// The first mark after `offset`: where the time next changes.
    pub(crate) fn next_after(&self, offset: u64) -> Option<u64> {
        let after = self.marks.partition_point(|&(at, _)| at <= offset);
        self.marks.get(after).map(|&(at, _)| at)
    }

    /// How long before `now` the newest marked output arrived (within
    /// [`GRANULARITY`]); `None` before any.
    pub(crate) fn since_last(&self, now: Instant) -> Option<Duration> {
        let &(_, micros) = self.marks.back()?;
        Some(Duration::from_micros(
            self.micros(now).saturating_sub(micros),
        ))
    }

    /// Drops every mark and its memory (the ring was freed).
    pub(crate) fn free(&mut self) {
        self.marks = VecDeque::new();
    }

    /// Bytes the marks hold.
    #[cfg(test)]
    fn held_bytes(&self) -> u64 {
        (self.marks.capacity() * std::mem::size_of::<(u64, u64)>()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_the_time_their_chunk_arrived() {
        let mut marks = TimeMarks::new(8 << 20);
        let t0 = marks.origin;
        marks.record(0, t0 + Duration::from_millis(100), 0);
        // Within the granularity: shares the previous mark.
        marks.record(5, t0 + Duration::from_millis(102), 0);
        marks.record(10, t0 + Duration::from_millis(300), 0);
        assert_eq!(marks.time_of(0), 100_000);
        assert_eq!(marks.time_of(9), 100_000);
        assert_eq!(marks.time_of(10), 300_000);
        assert_eq!(marks.time_of(1000), 300_000);
        assert_eq!(marks.next_after(0), Some(10));
        assert_eq!(marks.next_after(10), None);
        let later = t0 + Duration::from_millis(1300);
        assert_eq!(marks.since_last(later), Some(Duration::from_secs(1)));
        assert_eq!(TimeMarks::new(1024).since_last(later), None);
    }

    #[test]
    fn a_second_mark_at_one_offset_keeps_the_first_time() {
        let mut marks = TimeMarks::new(8 << 20);
        let t0 = marks.origin;
        marks.record(7, t0 + Duration::from_secs(1), 0);
        marks.record(7, t0 + Duration::from_secs(2), 0);
        assert_eq!(marks.time_of(7), 1_000_000);
    }

    #[test]
    fn marks_go_with_the_evicted_bytes_and_stay_bounded() {
        let mut marks = TimeMarks::new(8 << 20);
        let t0 = marks.origin;
        for n in 0..10u64 {
            marks.record(n * 10, t0 + Duration::from_secs(n), 0);
        }
        marks.record(100, t0 + Duration::from_secs(10), 55);
        assert_eq!(marks.marks.front(), Some(&(50, 5_000_000)));
        assert_eq!(marks.time_of(55), 5_000_000);
        for n in 0..3 * MAX_MARKS as u64 {
            marks.record(200 + n, t0 + Duration::from_secs(20 + n), 0);
        }
        assert!(marks.marks.len() <= MAX_MARKS);
        let last = 200 + 3 * MAX_MARKS as u64 - 1;
        assert!(marks.time_of(last) <= marks.micros(t0 + Duration::from_secs(20 + last - 200)));
        assert!(marks.held_bytes() <= (2 * MAX_MARKS * 16) as u64);
    }
}
