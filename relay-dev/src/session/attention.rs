//! A session's attention as the relay keeps it: the latest report (working,
//! waiting with text, idle, ended), since when, and a version viewers follow.
//! Whether a report starts a *new* wait (one to alert the owner of) is
//! decided here in memory and, across relay restarts, by the store
//! (`Store::claim_alert`): a wait is known by the stream offset at which it
//! began, so a reconnect that reports the same wait again alerts nobody.

use std::time::{Duration, Instant};

use protocol::{Attention, AttentionState};

use crate::time::unix_now;

/// Least time between two alerts of one session: an agent ringing the bell
/// in a loop alerts its owner once a second at most (the state still
/// follows every report).
const ALERT_GAP: Duration = Duration::from_secs(1);

/// The attention in force and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttentionNow {
    /// The latest report (text within the limit).
    pub(crate) attention: Attention,
    /// Unix seconds at which this state began.
    pub(crate) since: u64,
}

/// A session's attention and what viewers have to catch up with.
#[derive(Debug, Default)]
pub(crate) struct SessionAttention {
    current: Option<AttentionNow>,
    /// Bumped on every change, so viewers know to resend it.
    version: u64,
    /// When the owner was last alerted (for [`ALERT_GAP`]).
    last_alert: Option<Instant>,
}

/// What a report changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttentionChange {
    /// The attention now.
    pub(crate) now: AttentionNow,
    /// Whether it is a wait this relay has not seen before: the owner may
    /// have to be alerted (the store has the last word across restarts).
    pub(crate) new_wait: bool,
}

impl SessionAttention {
    /// The attention in force, if any was reported.
    pub(crate) fn current(&self) -> Option<&AttentionNow> {
        self.current.as_ref()
    }

    /// The version viewers compare with what they were sent.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Applies a report; `None` when it changes nothing (the same state,
    /// text and offset again, as after a reconnect).
    pub(crate) fn report(&mut self, attention: Attention) -> Option<AttentionChange> {
        let attention = attention.within_limits();
        let previous = self.current.as_ref().map(|c| &c.attention);
        if previous == Some(&attention) {
            return None;
        }
        let new_wait = attention.state == AttentionState::Waiting
            && previous
                .is_none_or(|p| p.state != AttentionState::Waiting || p.offset != attention.offset);
        let since = match previous {
            Some(p) if p.state == attention.state => {
                self.current.as_ref().map_or_else(unix_now, |c| c.since)
            }
            _ => unix_now(),
        };
        let current = AttentionNow { attention, since };
        self.current = Some(current.clone());
        self.version += 1;
        Some(AttentionChange {
            now: current,
            new_wait,
        })
    }

    /// Whether an alert may go out now ([`ALERT_GAP`] after the last).
    pub(crate) fn may_alert(&self, now: Instant) -> bool {
        self.last_alert
            .is_none_or(|at| now.duration_since(at) >= ALERT_GAP)
    }

    /// The owner was alerted at `now`.
    pub(crate) fn alerted(&mut self, now: Instant) {
        self.last_alert = Some(now);
    }

    /// The session ended at stream offset `offset`.
    pub(crate) fn end(&mut self, offset: u64) {
        let ended = Attention::new(AttentionState::Ended, None, Some(offset));
        if self.current.as_ref().map(|c| c.attention.state) != Some(AttentionState::Ended) {
            self.report(ended);
        }
    }

    /// The session was registered again: what its agent reported last no
    /// longer holds.
    pub(crate) fn clear(&mut self) {
        if self.current.take().is_some() {
            self.version += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(text: &str, offset: u64) -> Attention {
        Attention::new(AttentionState::Waiting, Some(text.into()), Some(offset))
    }

    #[test]
    fn a_wait_is_new_once_and_the_same_report_again_changes_nothing() {
        let mut attention = SessionAttention::default();
        let first = attention.report(waiting("Allow?", 10)).unwrap();
        assert!(first.new_wait);
        assert_eq!(attention.report(waiting("Allow?", 10)), None);
        assert_eq!(attention.version(), 1);
        let working = Attention::new(AttentionState::Working, None, Some(20));
        assert!(!attention.report(working).unwrap().new_wait);
        assert!(attention.report(waiting("Allow?", 30)).unwrap().new_wait);
        // Within a second of the last alert, no other.
        let now = Instant::now();
        assert!(attention.may_alert(now));
        attention.alerted(now);
        assert!(!attention.may_alert(now));
        assert!(attention.may_alert(now + ALERT_GAP));
        assert!(attention.report(waiting("Again?", 35)).unwrap().new_wait);
        attention.end(40);
        attention.end(40);
        assert_eq!(
            attention.current().unwrap().attention.state,
            AttentionState::Ended
        );
        assert_eq!(attention.version(), 5);
        attention.clear();
        assert_eq!(attention.current(), None);
    }

    #[test]
    fn text_beyond_the_limit_is_cut() {
        let mut attention = SessionAttention::default();
        let long = Attention {
            state: AttentionState::Waiting,
            text: Some("y".repeat(3000)),
            offset: Some(1),
        };
        let change = attention.report(long).unwrap();
        assert_eq!(
            change.now.attention.text.unwrap().len(),
            protocol::attention::MAX_ATTENTION_TEXT
        );
    }
}
