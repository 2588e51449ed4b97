//! When the relay acknowledges an agent's output: [`OwedAck`].

/// Unacknowledged output past which the relay acknowledges at once.
pub(super) const ACK_BYTES: u64 = 256 << 10;

/// The ACK the wrapper is owed. It goes with the next message to the
/// wrapper (a keystroke's INPUT carries the ACK of the echo before it), or
/// alone after the ACK delay (`--ack-delay-ms`, 20 ms), or at once past [`ACK_BYTES`] or at the
/// agent's exit. Sent as soon as the echo was stored, it went out before
/// the viewers got the echo and woke the wrapper once more per keystroke;
/// nothing waits for it but the wrapper's exit (and its resend buffer keeps
/// its bytes anyway).
#[derive(Debug)]
pub(super) struct OwedAck {
    /// The end of the log last acknowledged.
    sent: u64,
    /// The end to acknowledge next, once beyond `sent`.
    owed: Option<u64>,
}

impl OwedAck {
    /// Nothing owed: `held` was acknowledged in the greeting.
    pub(super) fn new(held: u64) -> Self {
        Self {
            sent: held,
            owed: None,
        }
    }

    /// The log's end is now `end`; `true` when that makes an ACK owed that
    /// was not before.
    pub(super) fn owe(&mut self, end: u64) -> bool {
        let was = self.owed.is_some();
        self.owed = Some(end);
        !was
    }

    /// Whether an ACK is owed.
    pub(super) fn is_owed(&self) -> bool {
        self.owed.is_some()
    }

    /// Bytes stored and not yet acknowledged.
    pub(super) fn unacknowledged(&self) -> u64 {
        self.owed.map_or(0, |end| end.saturating_sub(self.sent))
    }

    /// The end to acknowledge now, if one is owed (then nothing is).
    pub(super) fn take(&mut self) -> Option<u64> {
        let end = self.owed.take()?;
        self.sent = end;
        Some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owes_the_latest_end_once_and_counts_what_waits() {
        let mut owed = OwedAck::new(10);
        assert!(!owed.is_owed());
        assert_eq!(owed.take(), None);
        assert!(owed.owe(15), "newly owed: arm the timer");
        assert!(!owed.owe(40), "still owed: the timer runs already");
        assert_eq!(owed.unacknowledged(), 30);
        assert_eq!(owed.take(), Some(40));
        assert!(!owed.is_owed());
        assert_eq!(owed.unacknowledged(), 0);
        assert!(owed.owe(41));
        assert_eq!(owed.unacknowledged(), 1);
    }
}
