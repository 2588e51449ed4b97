//! When a viewer joins by snapshot, and what it gets: the snapshot at the
//! end of the stream, its offset, `history_complete`, then live output —
//! and when it gets the bytes instead.

use protocol::Snapshot;
use uuid::Uuid;

use super::fixture::*;
use super::*;
use crate::session::snapshot::{FromError, FAR_BEHIND};

fn feed(
    session: &Arc<Session>,
    from: Option<u64>,
    history: HistoryMode,
    extensions: bool,
) -> ViewerFeed {
    join(session, from, "claude", extensions, history)
}

fn joiner(session: &Arc<Session>, from: Option<u64>) -> ViewerFeed {
    feed(session, from, HistoryMode::Snapshot, true)
}

fn snapshot_in(frames: &[Frame]) -> Option<&Snapshot> {
    frames.iter().find_map(|f| match f {
        Frame::Snapshot(s) => Some(s),
        _ => None,
    })
}

fn outputs(frames: &[Frame]) -> Vec<u8> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Output(d) => Some(d.as_slice()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat()
}

#[test]
fn a_joining_viewer_gets_the_snapshot_then_live_output() {
    let session = session(1 << 20);
    agent_sends(
        &session,
        vec![
            Frame::Resize(Size::new(24, 80)),
            Frame::Output(b"hello \x1b[1mbold".to_vec()),
        ],
    );
    let mut feed = joiner(&session, None);
    let joined = drain(&mut feed);
    assert_eq!(
        joined[..2],
        [
            Frame::Control(Control::Role {
                role: Role::ReadWrite,
                shared_by: None,
            }),
            Frame::Resize(Size::new(24, 80)),
        ]
    );
    let snapshot = snapshot_in(&joined).expect("a snapshot").clone();
    assert_eq!((snapshot.offset, snapshot.size), (14, Size::new(24, 80)));
    let text = String::from_utf8_lossy(&snapshot.data);
    assert!(text.contains("hello") && text.contains("bold"), "{text:?}");
    let at = joined
        .iter()
        .position(|f| matches!(f, Frame::Snapshot(_)))
        .unwrap();
    assert_eq!(
        joined[at + 1..],
        [
            Frame::StreamOffset(14),
            Frame::Control(Control::HistoryComplete { offset: 14 }),
            Frame::Control(Control::AgentOffline),
        ]
    );
    assert!(outputs(&joined).is_empty(), "no raw history");
    print(&session, b" live");
    assert_eq!(drain(&mut feed), [Frame::Output(b" live".to_vec())]);
}

#[test]
fn a_resume_inside_the_ring_gets_exactly_the_bytes_it_missed() {
    let session = session(1 << 20);
    print(&session, b"hello");
    let joined = drain(&mut joiner(&session, Some(3)));
    assert!(snapshot_in(&joined).is_none(), "{joined:?}");
    assert!(joined.contains(&Frame::StreamOffset(3)));
    assert_eq!(outputs(&joined), b"lo");
}

#[test]
fn a_resume_from_before_the_ring_gets_a_snapshot_and_no_gap() {
    let session = session(4);
    print(&session, b"abcdefgh");
    let joined = drain(&mut joiner(&session, Some(1)));
    assert_eq!(snapshot_in(&joined).map(|s| s.offset), Some(8));
    assert!(!joined
        .iter()
        .any(|f| matches!(f, Frame::Control(Control::Gap { .. }))));
}

#[test]
fn a_resume_far_behind_gets_a_snapshot_and_a_near_one_the_bytes() {
    let session = session(1 << 20);
    let history = vec![b'x'; FAR_BEHIND as usize + 100];
    print(&session, &history);
    let end = history.len() as u64;
    let far = drain(&mut joiner(&session, Some(end - FAR_BEHIND - 1)));
    assert_eq!(snapshot_in(&far).map(|s| s.offset), Some(end));
    let near = drain(&mut joiner(&session, Some(end - FAR_BEHIND)));
    assert!(snapshot_in(&near).is_none());
    assert_eq!(outputs(&near).len() as u64, FAR_BEHIND);
}

#[test]
fn a_live_viewer_far_behind_gets_a_snapshot_then_live_output() {
    let session = session(1 << 20);
    let mut feed = joiner(&session, None);
    drain(&mut feed);
    print(&session, b"seen");
    assert_eq!(outputs(&drain(&mut feed)), b"seen");
    feed.ack(4);
    // The viewer renders nothing more while the agent writes more than
    // FAR_BEHIND.
    agent_sends(&session, vec![Frame::Resize(Size::new(10, 40))]);
    print(&session, &vec![b'x'; FAR_BEHIND as usize + 1]);
    let end = session.lock().log.end();
    let caught_up = drain(&mut feed);
    assert_eq!(snapshot_in(&caught_up).map(|s| s.offset), Some(end));
    assert!(outputs(&caught_up).is_empty(), "no missed bytes");
    assert!(caught_up.contains(&Frame::Resize(Size::new(10, 40))));
    assert!(!caught_up
        .iter()
        .any(|f| matches!(f, Frame::Control(Control::Gap { .. }))));
    print(&session, b"next");
    assert_eq!(drain(&mut feed), [Frame::Output(b"next".to_vec())]);
}

#[test]
fn a_live_viewer_the_ring_overran_gets_a_snapshot_not_a_gap() {
    let session = session(8);
    let mut feed = joiner(&session, None);
    drain(&mut feed);
    print(&session, b"abcdefghijkl");
    let caught_up = drain(&mut feed);
    assert_eq!(snapshot_in(&caught_up).map(|s| s.offset), Some(12));
    assert!(!caught_up
        .iter()
        .any(|f| matches!(f, Frame::Control(Control::Gap { .. }))));
}

#[test]
fn a_viewer_whose_acks_fall_far_behind_gets_a_snapshot_and_its_window_restarts() {
    let session = session(8 << 20);
    let mut feed = joiner(&session, None);
    drain(&mut feed);
    feed.ack(0);
    print(&session, &vec![b'x'; 128 << 10]);
    assert_eq!(outputs(&drain(&mut feed)).len(), 128 << 10, "not far yet");
    // It renders nothing while more arrives.
    print(&session, &vec![b'y'; FAR_BEHIND as usize]);
    let caught_up = drain(&mut feed);
    let offset = snapshot_in(&caught_up).expect("a snapshot").offset;
    assert!(outputs(&caught_up).is_empty());
    print(&session, b"after");
    assert_eq!(drain(&mut feed), [Frame::Output(b"after".to_vec())]);
    assert_eq!(offset + 5, session.lock().log.end());
}

#[test]
fn a_viewer_that_sends_no_acks_gets_the_bytes_until_the_ring_overruns_it() {
    let session = session(1 << 20);
    let mut feed = joiner(&session, None);
    drain(&mut feed);
    print(&session, &vec![b'x'; FAR_BEHIND as usize + 1]);
    let frames = drain(&mut feed);
    assert!(snapshot_in(&frames).is_none(), "a stalled socket must fill");
    assert_eq!(outputs(&frames).len() as u64, FAR_BEHIND + 1);
}

#[test]
fn a_raw_viewer_far_behind_still_gets_the_bytes() {
    let session = session(1 << 20);
    let mut feed = feed(&session, None, HistoryMode::Raw, true);
    drain(&mut feed);
    feed.ack(0);
    print(&session, &vec![b'x'; FAR_BEHIND as usize + 1]);
    let frames = drain(&mut feed);
    assert!(snapshot_in(&frames).is_none());
    assert_eq!(outputs(&frames).len() as u64, FAR_BEHIND + 1);
}

#[test]
fn a_resume_beyond_the_end_waits_for_the_reupload() {
    // A relay that restarted: the viewer has more than the relay holds.
    let session = session(64);
    print(&session, b"abc");
    assert_eq!(session.check_from(Some(10)), Ok(()));
    let mut feed = joiner(&session, Some(10));
    let joined = drain(&mut feed);
    assert!(snapshot_in(&joined).is_none());
    assert!(joined.contains(&Frame::StreamOffset(10)));
    print(&session, b"defghijklm");
    assert_eq!(outputs(&drain(&mut feed)), b"klm");
}

#[test]
fn a_future_offset_is_refused_when_the_relay_saw_the_whole_stream() {
    let session = session(64);
    session.mark_whole_stream();
    print(&session, b"abc");
    assert_eq!(session.check_from(Some(3)), Ok(()));
    assert_eq!(session.check_from(None), Ok(()));
    let refused = session.check_from(Some(4)).unwrap_err();
    assert_eq!(refused, FromError::Future { from: 4, end: 3 });
    assert_eq!(
        refused.to_string(),
        "offset 4 is beyond the end of the stream (3)"
    );
}

#[test]
fn raw_history_for_those_who_ask_and_for_legacy_viewers() {
    let session = session(1 << 20);
    print(&session, b"history");
    let raw = drain(&mut feed(&session, None, HistoryMode::Raw, true));
    assert!(snapshot_in(&raw).is_none());
    assert_eq!(outputs(&raw), b"history");
    let legacy = drain(&mut feed(&session, None, HistoryMode::Snapshot, false));
    assert_eq!(legacy, [Frame::Output(b"history".to_vec())]);
}

#[test]
fn a_snapshot_is_reused_while_the_stream_stays_and_built_on_after() {
    let session = session(1 << 20);
    agent_sends(
        &session,
        vec![
            Frame::Resize(Size::new(5, 20)),
            Frame::Output(b"\x1b[?1h\x1b[32mgreen\r\n".repeat(20)),
        ],
    );
    let first = session.snapshot(100).unwrap();
    assert!(Arc::ptr_eq(&first, &session.snapshot(100).unwrap()));
    // More output and a resize: the next snapshot starts from the first one,
    // and is what a terminal fed the whole stream shows.
    agent_sends(
        &session,
        vec![
            Frame::Output(b"more\r\n".to_vec()),
            Frame::Resize(Size::new(4, 12)),
            Frame::Output(b"\x1b[?2004hafter".to_vec()),
        ],
    );
    let built_on = session.snapshot(100).unwrap();
    let whole = Session::new(Uuid::new_v4(), "ann", 1 << 20);
    agent_sends(
        &whole,
        vec![
            Frame::Resize(Size::new(5, 20)),
            Frame::Output(b"\x1b[?1h\x1b[32mgreen\r\n".repeat(20)),
            Frame::Output(b"more\r\n".to_vec()),
            Frame::Resize(Size::new(4, 12)),
            Frame::Output(b"\x1b[?2004hafter".to_vec()),
        ],
    );
    let from_scratch = whole.snapshot(100).unwrap();
    assert_eq!(built_on.offset, from_scratch.offset);
    assert_eq!(built_on.size, Size::new(4, 12));
    assert_eq!(
        String::from_utf8_lossy(&built_on.data),
        String::from_utf8_lossy(&from_scratch.data)
    );
    assert!(session.snapshot_bytes() >= built_on.data.len() as u64);
}

#[test]
fn a_screen_too_large_for_a_frame_gets_the_replay() {
    let session = session(4 << 20);
    agent_sends(&session, vec![Frame::Resize(Size::new(1000, 1000))]);
    // Two bytes a cell, no two alike in a row (no repeat sequences).
    let screen: String = (0..1_000_000u32)
        .map(|i| char::from_u32(0xe0 + i % 32).unwrap())
        .collect();
    print(&session, screen.as_bytes());
    assert!(session.snapshot(0).is_none());
    let joined = drain(&mut joiner(&session, None));
    assert!(snapshot_in(&joined).is_none());
    assert_eq!(outputs(&joined).len(), 2_000_000);
}

#[tokio::test]
async fn on_the_runtime_the_snapshot_is_built_off_it_and_wakes_the_feed() {
    let session = session(1 << 20);
    print(&session, b"screen");
    let mut feed = joiner(&session, None);
    feed.next_batch().expect("the join");
    let mut frames = Vec::new();
    let deadline = std::time::Duration::from_secs(10);
    while snapshot_in(&frames).is_none() {
        match feed.next_batch() {
            Some(batch) => frames.extend(super::fixture::frames(batch)),
            None => tokio::time::timeout(deadline, feed.changed())
                .await
                .expect("woken when built"),
        }
    }
    assert_eq!(snapshot_in(&frames).unwrap().offset, 6);
}
