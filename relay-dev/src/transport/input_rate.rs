//! [`InputBucket`]: a viewer's input budget, in bytes per second.

use std::time::Instant;

/// A token bucket of input bytes per second, one second's worth deep.
pub(super) struct InputBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl InputBucket {
    /// A full bucket refilling at `rate` bytes per second.
    pub(super) fn new(rate: u64) -> Self {
        Self {
            rate: rate as f64,
            tokens: rate as f64,
            last: Instant::now(),
        }
    }

    /// Takes `n` bytes' worth; `false` (taking nothing) when too few are left.
    pub(super) fn take(&mut self, n: u64) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InputBucket;

    #[test]
    fn allows_a_seconds_worth_then_refuses() {
        let mut bucket = InputBucket::new(100);
        assert!(bucket.take(60));
        assert!(bucket.take(40));
        assert!(!bucket.take(10));
    }
}
