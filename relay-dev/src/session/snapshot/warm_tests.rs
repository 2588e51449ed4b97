//! Warm snapshots: when a session is warmed, that a join after it parses
//! only what came since (counted, not timed), that a join during a warm
//! build takes it over, that a session's end stops one, and that whatever
//! the warm builds did, a join's snapshot is byte for byte the one a cold
//! build from the whole ring makes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use protocol::{Frame, Size, Snapshot};
use uuid::Uuid;

use super::warm::{Warmer, MIN_NEW, QUIET};
use crate::session::{Session, Upload};

const LINES: usize = 100;

fn session() -> Session {
    Session::new(Uuid::new_v4(), "ann", 4 << 20)
}

fn send(session: &Session, frames: Vec<Frame>) {
    session.upload(&mut Upload::default(), frames).unwrap();
}

/// At least `bytes` of colourful numbered lines, starting at line `from`.
fn lines(from: usize, bytes: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut n = from;
    while (out.len() as u64) < bytes {
        let line = format!("\x1b[3{}mline {n}\x1b[0m the quick brown fox\r\n", n % 8);
        out.extend_from_slice(line.as_bytes());
        n += 1;
    }
    out
}

/// Ring bytes parsed at join and in the background so far.
fn parsed(session: &Session) -> (u64, u64) {
    let stats = &session.snapshots.stats;
    (
        stats.at_join.load(Ordering::Relaxed),
        stats.warm.load(Ordering::Relaxed),
    )
}

/// The snapshot a cold build of the same stream makes.
fn cold(frames: &[Frame]) -> Arc<Snapshot> {
    let whole = session();
    send(&whole, frames.to_vec());
    let snapshot = whole.snapshot(LINES).unwrap();
    assert_eq!(parsed(&whole).1, 0, "nothing warm");
    snapshot
}

fn assert_identical(a: &Snapshot, b: &Snapshot) {
    assert_eq!((a.offset, a.size), (b.offset, b.size));
    assert_eq!(
        String::from_utf8_lossy(&a.data),
        String::from_utf8_lossy(&b.data)
    );
}

#[test]
fn a_join_after_a_quiet_period_parses_only_what_came_since() {
    let session = Arc::new(session());
    let first = vec![
        Frame::Resize(Size::new(20, 60)),
        Frame::Output(lines(0, MIN_NEW)),
    ];
    send(&session, first.clone());
    let now = Instant::now();
    assert!(!session.wants_warming(now), "still writing");
    let quiet = now + QUIET + Duration::from_millis(10);
    assert!(session.wants_warming(quiet));
    // The warm thread builds it.
    Warmer::default().offer(&session, LINES);
    let end = session.lock().log.end();
    let deadline = Instant::now() + Duration::from_secs(60);
    while parsed(&session).1 < end || session.snapshots.warming.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "warmed: {:?}", parsed(&session));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(parsed(&session), (0, end));
    assert!(!session.wants_warming(quiet), "warm already");
    let kept = session.snapshot_bytes();
    assert!(kept > 0);
    // The first join gets the warm snapshot as is: nothing parsed.
    let joined = session.snapshot(LINES).unwrap();
    assert_eq!(parsed(&session), (0, end));
    assert_eq!(session.snapshot_bytes(), kept, "the same one kept");
    assert_identical(&joined, &cold(&first));
    // A later join parses only what came since.
    let more = lines(100_000, 1000);
    send(&session, vec![Frame::Output(more.clone())]);
    let later = session.snapshot(LINES).unwrap();
    assert_eq!(parsed(&session), (more.len() as u64, end));
    let mut all = first;
    all.push(Frame::Output(more));
    assert_identical(&later, &cold(&all));
}

#[test]
fn small_ended_or_covered_sessions_are_not_warmed() {
    let quiet = || Instant::now() + QUIET + Duration::from_millis(10);
    let small = session();
    send(
        &small,
        vec![Frame::Output(vec![b'x'; MIN_NEW as usize - 1])],
    );
    assert!(!small.wants_warming(quiet()), "a join parses little");
    send(&small, vec![Frame::Output(b"y".to_vec())]);
    assert!(small.wants_warming(quiet()));
    small.snapshot(LINES).unwrap();
    assert!(
        !small.wants_warming(quiet()),
        "the join's snapshot covers it"
    );
    small.end(None);
    send(&small, vec![Frame::Output(vec![b'z'; MIN_NEW as usize])]);
    assert!(!small.wants_warming(quiet()), "ended");
}

#[test]
fn the_end_of_the_session_stops_a_warm_build() {
    let session = session();
    send(&session, vec![Frame::Output(lines(0, 4 * MIN_NEW))]);
    session.end(None);
    let parsed = session.warm_snapshot(LINES);
    assert!(parsed > 0 && parsed < MIN_NEW, "one chunk: {parsed}");
    assert_eq!(session.snapshot_bytes(), 0, "nothing kept");
}

#[test]
fn a_join_during_a_warm_build_takes_it_over() {
    let session = session();
    let frames = vec![
        Frame::Resize(Size::new(10, 40)),
        Frame::Output(lines(0, MIN_NEW)),
    ];
    send(&session, frames.clone());
    let end = session.lock().log.end();
    // A join waits: the warm build stops after its first chunk ...
    session
        .snapshots
        .joins_waiting
        .fetch_add(1, Ordering::Relaxed);
    let warm = session.warm_snapshot(LINES);
    session
        .snapshots
        .joins_waiting
        .fetch_sub(1, Ordering::Relaxed);
    assert!(warm > 0 && warm < end, "{warm} of {end}");
    assert_eq!(session.snapshot_bytes(), 0, "not done");
    // ... and the join goes on from there.
    let joined = session.snapshot(LINES).unwrap();
    assert_eq!(parsed(&session), (end - warm, warm));
    assert!(session.snapshots.lock().handed_over.is_none());
    assert_identical(&joined, &cold(&frames));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Warm builds at any message boundaries, then a join at the end: the
    /// snapshot is the cold build's, byte for byte.
    #[test]
    fn warm_builds_never_change_the_snapshot(
        messages in prop::collection::vec(
            prop::collection::vec(super::tests::piece(), 1..12), 1..12),
        warm_after in prop::collection::vec(any::<bool>(), 12),
        resize_after in 0..12usize,
    ) {
        let session = session();
        let mut frames = vec![Frame::Resize(Size::new(5, 10))];
        send(&session, frames.clone());
        for (i, message) in messages.iter().enumerate() {
            let mut sent = vec![Frame::Output(message.concat())];
            if i == resize_after {
                sent.push(Frame::Resize(Size::new(4, 12)));
            }
            send(&session, sent.clone());
            frames.extend(sent);
            if warm_after[i] {
                session.warm_snapshot(LINES);
            }
        }
        let cold = cold(&frames);
        // Origin mode with the cursor outside the scroll region: avt's
        // limit (see `any_output_round_trips`).
        prop_assume!(!cold.data.windows(3).any(|w| w == b"\x1b[u"));
        let joined = session.snapshot(LINES).unwrap();
        prop_assert_eq!((joined.offset, joined.size), (cold.offset, cold.size));
        prop_assert_eq!(
            String::from_utf8_lossy(&joined.data),
            String::from_utf8_lossy(&cold.data)
        );
    }
}
