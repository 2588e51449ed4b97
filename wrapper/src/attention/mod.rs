//! The session's attention, as the wrapper sees it in the agent's output:
//! `working` while it prints, `waiting` when it asks for the person (a
//! notification sequence or BEL, found by [`scan`]), `idle` when it went
//! quiet after printing. The relay hears of every change (CONTROL
//! `attention`) and sets `ended` itself when the agent exits.
//!
//! [`AttentionTracker`] is the rule, without threads or clocks of its own;
//! `session::attention` runs it beside the output thread.

mod scan;

use protocol::{Attention, AttentionState};
use std::time::{Duration, Instant};

use scan::{Signal, SignalScanner};

/// Default quiet time after which a working agent is `idle`.
pub const DEFAULT_IDLE_AFTER: Duration = Duration::from_secs(30);

/// Text printed this soon after a notification is taken as part of it (the
/// prompt the agent draws around it), not as the agent working again.
pub const WAIT_GRACE: Duration = Duration::from_secs(1);

/// How the tracker reads the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionRules {
    /// Quiet time after which a working agent is idle; `None`: never idle.
    pub idle_after: Option<Duration>,
    /// Whether a BEL means the agent waits (`--ignore-bell` turns it off).
    pub bell: bool,
}

impl Default for AttentionRules {
    fn default() -> Self {
        Self {
            idle_after: Some(DEFAULT_IDLE_AFTER),
            bell: true,
        }
    }
}

/// The attention rule over one output stream.
#[derive(Debug)]
pub struct AttentionTracker {
    rules: AttentionRules,
    scanner: SignalScanner,
    current: Option<Attention>,
    /// When text was last printed (for idle).
    last_printed: Option<Instant>,
    /// When the current wait began (for [`WAIT_GRACE`]).
    waiting_since: Option<Instant>,
    /// The stream offset after the last byte seen.
    end: u64,
}

impl AttentionTracker {
    /// A tracker with nothing seen yet.
    pub fn new(rules: AttentionRules) -> Self {
        Self {
            rules,
            scanner: SignalScanner::default(),
            current: None,
            last_printed: None,
            waiting_since: None,
            end: 0,
        }
    }

    /// Reads `chunk`, which starts at stream offset `offset`, seen at `now`.
    /// Returns the new attention if it changed.
    pub fn observe(&mut self, chunk: &[u8], offset: u64, now: Instant) -> Option<Attention> {
        let before = self.current.clone();
        self.end = offset + chunk.len() as u64;
        let mut signals = Vec::new();
        self.scanner.scan(chunk, |i, signal| {
            // Text right after text changes nothing more (same `now`): one
            // `Printed` per run between notifications is enough.
            let again = signal == Signal::Printed
                && signals
                    .last()
                    .is_some_and(|(_, last)| *last == Signal::Printed);
            if !again {
                signals.push((i, signal));
            }
        });
        for (i, signal) in signals {
            let at = offset + i as u64;
            match signal {
                Signal::Printed => self.printed(at, now),
                Signal::Notify(None) if !self.rules.bell || self.bell_of_this_wait(now) => {}
                Signal::Notify(text) => {
                    self.waiting_since = Some(now);
                    self.set(AttentionState::Waiting, text, at);
                }
            }
        }
        self.changed_from(before)
    }

    /// Applies the idle rule at `now`; returns the new attention if it changed.
    pub fn poll(&mut self, now: Instant) -> Option<Attention> {
        let due = self.idle_deadline().is_some_and(|at| now >= at);
        if due {
            self.set(AttentionState::Idle, None, self.end);
            return self.current.clone();
        }
        None
    }

    /// When the agent turns idle if it prints nothing more.
    pub fn idle_deadline(&self) -> Option<Instant> {
        let working = self.current.as_ref()?.state == AttentionState::Working;
        let after = self.rules.idle_after?;
        working.then(|| self.last_printed.map(|at| at + after))?
    }

    /// A bell right after a notification with text is part of it (Claude
    /// Code's `iterm2_with_bell` sends both): the wait keeps its text.
    fn bell_of_this_wait(&self, now: Instant) -> bool {
        self.current
            .as_ref()
            .is_some_and(|c| c.state == AttentionState::Waiting && c.text.is_some())
            && self
                .waiting_since
                .is_some_and(|since| now.duration_since(since) < WAIT_GRACE)
    }

    fn printed(&mut self, at: u64, now: Instant) {
        self.last_printed = Some(now);
        let state = self.current.as_ref().map(|c| c.state);
        let in_grace = state == Some(AttentionState::Waiting)
            && self
                .waiting_since
                .is_some_and(|since| now.duration_since(since) < WAIT_GRACE);
        if state != Some(AttentionState::Working) && !in_grace {
            self.set(AttentionState::Working, None, at);
        }
    }

    fn set(&mut self, state: AttentionState, text: Option<String>, at: u64) {
        self.current = Some(Attention::new(state, text, Some(at)));
    }

    fn changed_from(&self, before: Option<Attention>) -> Option<Attention> {
        (self.current != before)
            .then(|| self.current.clone())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(a: Option<Attention>) -> Option<(AttentionState, Option<String>, Option<u64>)> {
        a.map(|a| (a.state, a.text, a.offset))
    }

    #[test]
    fn working_waiting_then_working_again_after_the_grace() {
        let t0 = Instant::now();
        let mut tracker = AttentionTracker::new(AttentionRules::default());
        let working = tracker.observe(b"hello", 0, t0);
        assert_eq!(
            state(working),
            Some((AttentionState::Working, None, Some(0)))
        );
        assert_eq!(tracker.observe(b" more", 5, t0), None);
        let wait = tracker.observe(b"\x1b]9;Allow?\x07 [y/n]", 10, t0);
        assert_eq!(
            state(wait),
            Some((AttentionState::Waiting, Some("Allow?".into()), Some(20)))
        );
        // The prompt drawn right after is part of the wait; later text is not.
        assert_eq!(tracker.observe(b"redraw", 30, t0 + WAIT_GRACE / 2), None);
        let resumed = tracker.observe(b"ok", 36, t0 + WAIT_GRACE);
        assert_eq!(
            state(resumed),
            Some((AttentionState::Working, None, Some(36)))
        );
    }

    #[test]
    fn quiet_after_printing_is_idle_and_waiting_never_is() {
        let t0 = Instant::now();
        let rules = AttentionRules {
            idle_after: Some(Duration::from_secs(5)),
            bell: true,
        };
        let mut tracker = AttentionTracker::new(rules);
        assert_eq!(tracker.idle_deadline(), None);
        tracker.observe(b"x", 0, t0);
        assert_eq!(tracker.idle_deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(tracker.poll(t0 + Duration::from_secs(4)), None);
        let idle = tracker.poll(t0 + Duration::from_secs(5));
        assert_eq!(state(idle), Some((AttentionState::Idle, None, Some(1))));
        tracker.observe(b"\x07", 1, t0 + Duration::from_secs(6));
        assert_eq!(tracker.idle_deadline(), None);
        assert_eq!(tracker.poll(t0 + Duration::from_secs(60)), None);
    }

    #[test]
    fn a_bell_right_after_a_notification_keeps_its_text() {
        let t0 = Instant::now();
        let mut tracker = AttentionTracker::new(AttentionRules::default());
        let wait = tracker.observe(b"\x1b]9;Allow?\x07\x07", 0, t0);
        assert_eq!(
            state(wait),
            Some((AttentionState::Waiting, Some("Allow?".into()), Some(10)))
        );
        // A bell later on is a wait of its own.
        let later = tracker.observe(b"\x07", 12, t0 + WAIT_GRACE);
        assert_eq!(
            state(later),
            Some((AttentionState::Waiting, None, Some(12)))
        );
    }

    #[test]
    fn the_bell_can_be_ignored() {
        let rules = AttentionRules {
            idle_after: None,
            bell: false,
        };
        let mut tracker = AttentionTracker::new(rules);
        assert_eq!(tracker.observe(b"\x07", 0, Instant::now()), None);
        assert!(tracker
            .observe(b"\x1b]9;hi\x07", 1, Instant::now())
            .is_some());
    }
}
