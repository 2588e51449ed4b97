//! Input budgets: [`InputBucket`], a token bucket, and [`InputRates`], the
//! buckets by session and credential — so a viewer that reconnects, or opens
//! many links with one key or share token, finds its bucket as it left it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use uuid::Uuid;

/// A token bucket: refills at `rate` per second up to `depth`.
#[derive(Debug)]
pub(super) struct InputBucket {
    rate: f64,
    depth: f64,
    tokens: f64,
    last: Instant,
}

impl InputBucket {
    /// A full bucket refilling at `rate` bytes per second, one second's
    /// worth deep.
    pub(super) fn new(rate: u64) -> Self {
        Self::with_depth(rate as f64, rate as f64)
    }

    /// A full bucket refilling at `rate` per second up to `depth`.
    pub(super) fn with_depth(rate: f64, depth: f64) -> Self {
        Self {
            rate,
            depth,
            tokens: depth,
            last: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let earned = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.depth);
        self.last = now;
    }

    /// Takes `n` tokens; `false` (taking nothing) when too few are left.
    pub(super) fn take(&mut self, n: u64) -> bool {
        self.refill(Instant::now());
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely (then it is the same as a
    /// new one, and need not be kept).
    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.depth
    }
}

/// Viewers' input buckets by session and credential (an API key's id or a
/// share token's), shared by every link that holds the same credential.
#[derive(Debug)]
pub(crate) struct InputRates {
    rate: u64,
    buckets: Mutex<Buckets>,
}

/// The buckets by session and credential.
type Buckets = HashMap<(Uuid, String), Arc<Mutex<InputBucket>>>;

impl InputRates {
    /// Buckets refilling at `rate` bytes per second.
    pub(crate) fn new(rate: u64) -> Self {
        Self {
            rate,
            buckets: Mutex::default(),
        }
    }

    fn map(&self) -> MutexGuard<'_, Buckets> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bucket of `credential` on `session` (a full one the first time).
    pub(super) fn bucket(&self, session: Uuid, credential: &str) -> SharedBucket {
        let bucket = self
            .map()
            .entry((session, credential.to_string()))
            .or_insert_with(|| Arc::new(Mutex::new(InputBucket::new(self.rate))))
            .clone();
        SharedBucket(bucket)
    }

    /// Forgets the buckets no link holds that have refilled (a new bucket
    /// would be the same). Returns how many are left.
    pub(crate) fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut map = self.map();
        map.retain(|_, bucket| {
            Arc::strong_count(bucket) > 1
                || !bucket
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_full(now)
        });
        map.len()
    }
}

/// One credential's bucket on one session, as a link holds it.
#[derive(Debug, Clone)]
pub(super) struct SharedBucket(Arc<Mutex<InputBucket>>);

impl SharedBucket {
    /// [`InputBucket::take`] on the shared bucket.
    pub(super) fn take(&self, n: u64) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_seconds_worth_then_refuses() {
        let mut bucket = InputBucket::new(100);
        assert!(bucket.take(60));
        assert!(bucket.take(40));
        assert!(!bucket.take(10));
    }

    #[test]
    fn a_reconnecting_credential_finds_its_bucket_as_it_left_it() {
        let rates = InputRates::new(100);
        let session = Uuid::new_v4();
        let first = rates.bucket(session, "key-1");
        assert!(first.take(100));
        drop(first);
        assert_eq!(rates.sweep(), 1, "an empty bucket is kept");
        let again = rates.bucket(session, "key-1");
        assert!(!again.take(10), "reconnecting does not refill the bucket");
        assert!(
            rates.bucket(session, "key-2").take(100),
            "another credential"
        );
        assert!(
            rates.bucket(Uuid::new_v4(), "key-1").take(100),
            "another session"
        );
    }

    #[test]
    fn full_buckets_nobody_holds_are_forgotten() {
        let rates = InputRates::new(100);
        let session = Uuid::new_v4();
        let held = rates.bucket(session, "held");
        drop(rates.bucket(session, "unused"));
        assert_eq!(rates.sweep(), 1);
        drop(held);
        assert_eq!(rates.sweep(), 0);
    }
}
