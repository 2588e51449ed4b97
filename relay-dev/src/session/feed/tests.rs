//! The feed without sockets: a session written through [`Session::upload`],
//! read through [`ViewerFeed::next_batch`].

use protocol::Metadata;

use super::fixture::*;
use super::*;
use crate::session::command_queue;

fn feed(session: &Arc<Session>, from: Option<u64>, agent_type: &str) -> ViewerFeed {
    feed_with(session, from, agent_type, true)
}

/// These tests are about the raw history; snapshot_tests.rs has the rest.
fn feed_with(
    session: &Arc<Session>,
    from: Option<u64>,
    agent_type: &str,
    extensions: bool,
) -> ViewerFeed {
    join(session, from, agent_type, extensions, HistoryMode::Raw)
}

/// The frames with consecutive OUTPUT merged into one (chunking aside).
fn merged(frames: Vec<Frame>) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::new();
    for frame in frames {
        match (out.last_mut(), frame) {
            (Some(Frame::Output(prev)), Frame::Output(data)) => prev.extend(data),
            (_, frame) => out.push(frame),
        }
    }
    out
}

fn output(bytes: &[u8]) -> Frame {
    Frame::Output(bytes.to_vec())
}

fn control(event: Control) -> Frame {
    Frame::Control(event)
}

#[test]
fn a_joining_viewer_gets_the_join_then_history_then_live_output() {
    let session = session(64);
    agent_sends(
        &session,
        vec![
            Frame::Resize(Size::new(24, 80)),
            Frame::Output(b"hello".to_vec()),
        ],
    );
    let mut feed = feed(&session, None, "claude");
    assert_eq!(
        frames(feed.next_batch().unwrap()),
        [
            control(Control::Role {
                role: Role::ReadWrite,
                shared_by: None,
            }),
            Frame::Resize(Size::new(24, 80)),
            Frame::StreamOffset(0),
        ]
    );
    assert_eq!(
        drain(&mut feed),
        [
            output(b"hello"),
            control(Control::HistoryComplete { offset: 5 }),
            control(Control::AgentOffline),
        ]
    );
    print(&session, b" world");
    assert_eq!(drain(&mut feed), [output(b" world")]);
    assert_eq!(feed.next_batch(), None, "nothing until the session changes");
}

#[test]
fn a_resuming_viewer_gets_only_what_it_missed() {
    let session = session(64);
    print(&session, b"hello");
    let mut feed = feed(&session, Some(3), "claude");
    let joined = drain(&mut feed);
    assert!(joined.contains(&Frame::StreamOffset(3)), "{joined:?}");
    assert!(joined.contains(&output(b"lo")), "{joined:?}");
    assert!(!joined.contains(&output(b"hello")), "{joined:?}");
}

#[test]
fn a_viewer_older_than_the_ring_is_told_of_the_gap_at_join() {
    let session = session(4);
    print(&session, b"abcdefgh");
    let mut feed = feed(&session, Some(1), "claude");
    let joined = frames(feed.next_batch().unwrap());
    assert_eq!(
        joined[1..],
        [
            control(Control::Gap { from: 1, to: 4 }),
            Frame::StreamOffset(4)
        ]
    );
    assert_eq!(drain(&mut feed)[0], output(b"efgh"));
}

#[test]
fn a_viewer_the_ring_overran_skips_the_gap_during_replay_and_live() {
    let session = session(8);
    print(&session, b"abcdefgh");
    let mut feed = feed(&session, None, "claude");
    feed.next_batch().unwrap();
    // The ring moves on before the viewer reads its history.
    print(&session, b"ijklmnop");
    let replay = feed.next_batch().unwrap();
    assert_eq!(replay.skipped, Some((0, 8)));
    assert_eq!(
        frames(replay),
        [
            control(Control::Gap { from: 0, to: 8 }),
            Frame::StreamOffset(8)
        ]
    );
    assert_eq!(
        drain(&mut feed),
        [
            control(Control::HistoryComplete { offset: 8 }),
            output(b"ijklmnop"),
            control(Control::AgentOffline),
        ]
    );
    print(&session, b"0123456789abcdef");
    let live = feed.next_batch().unwrap();
    assert_eq!(live.skipped, Some((16, 24)));
    assert_eq!(
        frames(live),
        [
            control(Control::Gap { from: 16, to: 24 }),
            Frame::StreamOffset(24)
        ]
    );
    assert_eq!(drain(&mut feed), [output(b"89abcdef")]);
}

#[test]
fn a_viewer_that_acks_gets_at_most_a_window_beyond_its_ack() {
    let total = WINDOW as usize + (WINDOW as usize) / 2;
    let session = session(2 * total);
    let history: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    print(&session, &history);
    let mut feed = feed(&session, None, "claude");
    feed.next_batch().unwrap();
    feed.ack(0);
    let first = merged(drain(&mut feed));
    assert_eq!(
        first,
        [output(&history[..WINDOW as usize])],
        "paced at the window"
    );
    feed.ack(WINDOW / 2);
    let second = merged(drain(&mut feed));
    assert_eq!(second, [output(&history[WINDOW as usize..])]);
    feed.ack(total as u64);
    assert_eq!(
        drain(&mut feed),
        [
            control(Control::HistoryComplete {
                offset: total as u64
            }),
            control(Control::AgentOffline),
        ]
    );
}

#[test]
fn a_size_change_comes_after_the_output_before_it() {
    let session = session(64);
    print(&session, b"12345");
    let mut feed = feed(&session, None, "claude");
    drain(&mut feed);
    agent_sends(
        &session,
        vec![
            Frame::Output(b"67890".to_vec()),
            Frame::Resize(Size::new(40, 120)),
            Frame::Output(b"abc".to_vec()),
        ],
    );
    assert_eq!(
        frames(feed.next_batch().unwrap()),
        [output(b"67890"), Frame::Resize(Size::new(40, 120))]
    );
    assert_eq!(drain(&mut feed), [output(b"abc")]);
}

#[test]
fn the_end_comes_after_the_last_byte() {
    let session = session(64);
    let mut feed = feed(&session, None, "claude");
    drain(&mut feed);
    print(&session, b"bye");
    session.end(Some(7));
    assert_eq!(
        drain(&mut feed),
        [
            // The attention is about now: it does not wait for the output.
            control(Control::Attention(protocol::Attention::new(
                protocol::AttentionState::Ended,
                None,
                Some(3)
            ))),
            output(b"bye"),
            control(Control::SessionEnded {
                exit_status: Some(7)
            }),
        ]
    );
}

#[test]
fn codex_erase_in_display_is_removed_from_replay_only() {
    let session = session(64);
    let codex = Metadata {
        agent: "codex".into(),
        ..Metadata::default()
    };
    agent_sends(
        &session,
        vec![
            Frame::Metadata(codex.clone()),
            Frame::Output(b"a\x1b[".to_vec()),
            Frame::Output(b"2Jb".to_vec()),
        ],
    );
    let mut feed = feed(&session, None, "unknown");
    let joined = frames(feed.next_batch().unwrap());
    assert!(joined.contains(&Frame::Metadata(codex)), "{joined:?}");
    assert_eq!(drain(&mut feed)[0], output(b"ab"));
    print(&session, b"\x1b[Jlive");
    assert_eq!(
        drain(&mut feed),
        [output(b"\x1b[Jlive")],
        "live output as is"
    );
}

#[test]
fn the_registered_agent_type_picks_the_policy_when_metadata_names_none() {
    let session = session(64);
    print(&session, b"x\x1b[3Jy");
    let mut codex = feed(&session, None, "codex");
    assert_eq!(drain(&mut codex)[2], output(b"xy"));
    let mut claude = feed(&session, None, "claude");
    assert_eq!(drain(&mut claude)[2], output(b"x\x1b[3Jy"));
}

#[test]
fn a_legacy_viewer_gets_no_extension_frames() {
    let session = session(64);
    print(&session, b"hi");
    let mut feed = feed_with(&session, None, "claude", false);
    let join = feed.next_batch().unwrap();
    assert!(join.bytes.is_empty(), "role and offset are extensions");
    assert_eq!(drain(&mut feed), [output(b"hi")]);
    session.end(None);
    assert_eq!(feed.next_batch().map(|b| b.bytes), Some(vec![]));
}

#[test]
fn the_agent_going_and_coming_back_is_announced() {
    let session = session(64);
    let (tx, _rx) = command_queue(1 << 10);
    let agent = session.attach_agent(tx);
    let mut feed = feed(&session, None, "claude");
    let joined = drain(&mut feed);
    assert!(
        !joined.contains(&control(Control::AgentOnline)),
        "live at join: no event"
    );
    drop(agent);
    assert_eq!(drain(&mut feed), [control(Control::AgentOffline)]);
    let (tx, _rx) = command_queue(1 << 10);
    let _agent = session.attach_agent(tx);
    assert_eq!(drain(&mut feed), [control(Control::AgentOnline)]);
}

#[tokio::test]
async fn a_change_wakes_the_feed() {
    let session = session(64);
    let mut feed = feed(&session, None, "claude");
    drain(&mut feed);
    let writer = session.clone();
    tokio::spawn(async move { print(&writer, b"wake") });
    tokio::time::timeout(std::time::Duration::from_secs(5), feed.changed())
        .await
        .expect("woken");
    assert_eq!(drain(&mut feed), [output(b"wake")]);
}

#[test]
fn the_viewer_leaves_when_its_feed_drops() {
    let session = session(64);
    let feed = feed(&session, None, "claude");
    assert_eq!(session.viewer_count(), 1);
    drop(feed);
    assert_eq!(session.viewer_count(), 0);
}

#[test]
fn caught_up_viewers_share_the_newest_frame_and_others_read_the_ring() {
    let session = session(1 << 10);
    let (mut a, mut b) = (
        feed(&session, None, "claude"),
        feed(&session, None, "claude"),
    );
    drain(&mut a);
    drain(&mut b);
    print(&session, b"one");
    let (first_a, first_b) = (a.next_batch().unwrap(), b.next_batch().unwrap());
    let shared = |batch: &Batch| batch.shared.as_ref().map(|f| f.as_ptr());
    assert!(shared(&first_a).is_some(), "caught up: the shared frame");
    assert_eq!(
        shared(&first_a),
        shared(&first_b),
        "the same bytes, not copies"
    );
    assert_eq!(frames(first_a), [output(b"one")]);
    // Two frames behind: one batch read from the ring.
    print(&session, b"two");
    print(&session, b"three");
    let behind = a.next_batch().unwrap();
    assert!(behind.shared.is_none());
    assert_eq!(frames(behind), [output(b"twothree")]);
    assert_eq!(a.next_batch(), None);
}
