//! Waiting for something to happen, with one deadline for every wait.
//!
//! A test never sleeps for a fixed time hoping that something happened: it
//! polls for the condition with [`eventually`] (or [`eventually_blocking`] in
//! a test without a runtime) and fails with a message saying what it waited
//! for when [`DEADLINE`] passes. Tests that legitimately need longer (the
//! whole-system ones, where the wrapper retries every 5 s) use a named
//! multiple of [`DEADLINE`].
//!
//! ```no_run
//! # async fn story(relay: tests::relay::RelayProcess) {
//! use tests::wait::{eventually, DEADLINE};
//! eventually("the session to leave memory", DEADLINE, async || {
//!     relay.metric("tether_relay_sessions").await == 0
//! })
//! .await;
//! # }
//! ```

use std::time::{Duration, Instant};

/// How long any wait lasts before the test fails: generous, because it only
/// matters when something is wrong, and the test machine may be loaded.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// The deadline of the whole-system tests (`system_*`): every piece is
/// real, the relay is restarted (the wrapper retries every 5 s) and two
/// browsers run on a loaded two-core machine.
pub const SYSTEM_DEADLINE: Duration = Duration::from_secs(DEADLINE.as_secs() * 2);

/// How often a condition is checked.
const EVERY: Duration = Duration::from_millis(20);

/// What a check returns: `true` / `Some(value)` when the condition holds.
pub trait Ready {
    /// What the wait returns once the condition holds.
    type Value;
    /// `Some` when the condition holds.
    fn ready(self) -> Option<Self::Value>;
}

impl Ready for bool {
    type Value = ();
    fn ready(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Ready for Option<T> {
    type Value = T;
    fn ready(self) -> Option<T> {
        self
    }
}

/// Checks `check` every 20 ms until it is ready and returns its value;
/// panics with `what` when it is still not ready after `within`.
pub async fn eventually<R: Ready>(
    what: &str,
    within: Duration,
    check: impl AsyncFnMut() -> R,
) -> R::Value {
    match poll(within, check).await {
        Some(value) => value,
        None => panic!("not within {within:?}: {what}"),
    }
}

/// Like [`eventually`], returning `None` at the deadline instead of
/// panicking, so the caller can report what it saw (a screen, a log).
pub async fn poll<R: Ready>(
    within: Duration,
    mut check: impl AsyncFnMut() -> R,
) -> Option<R::Value> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await.ready() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// [`eventually`] for code without an async runtime (it blocks the thread).
pub fn eventually_blocking<R: Ready>(
    what: &str,
    within: Duration,
    check: impl FnMut() -> R,
) -> R::Value {
    match poll_blocking(within, check) {
        Some(value) => value,
        None => panic!("not within {within:?}: {what}"),
    }
}

/// [`poll`] for code without an async runtime (it blocks the thread).
pub fn poll_blocking<R: Ready>(within: Duration, mut check: impl FnMut() -> R) -> Option<R::Value> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().ready() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_value_once_ready() {
        let mut calls = 0;
        let value = eventually_blocking("the third call", DEADLINE, || {
            calls += 1;
            (calls == 3).then_some(calls * 10)
        });
        assert_eq!(value, 30);
    }

    #[test]
    fn gives_up_at_the_deadline() {
        let started = Instant::now();
        assert_eq!(poll_blocking(Duration::from_millis(50), || false), None);
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    #[should_panic(expected = "not within 10ms: something that never happens")]
    fn the_failure_says_what_was_awaited() {
        eventually_blocking(
            "something that never happens",
            Duration::from_millis(10),
            || false,
        );
    }
}
