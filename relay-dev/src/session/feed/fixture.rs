//! What the feed's unit tests (`tests.rs`, `snapshot_tests.rs`) stand on: a
//! session written through [`Session::upload`], a viewer joined to it, and
//! its batches read back as frames.

use protocol::decode_message;
use uuid::Uuid;

use super::*;
use crate::session::tests::ROOMY;
use crate::session::{Seat, Upload};

/// An empty session of user `ann` keeping `history_bytes` of output.
pub(super) fn session(history_bytes: usize) -> Arc<Session> {
    Arc::new(Session::new(Uuid::new_v4(), "ann", history_bytes))
}

/// A read-write viewer of the owner joining `session` from `from`.
pub(super) fn join(
    session: &Arc<Session>,
    from: Option<u64>,
    agent_type: &str,
    extensions: bool,
    history: HistoryMode,
) -> ViewerFeed {
    let options = FeedOptions {
        role: Role::ReadWrite,
        shared_by: None,
        from,
        agent_type,
        extensions,
        history,
        snapshot_lines: 100,
    };
    ViewerFeed::new(session.join_viewer(Seat::Owner, ROOMY).unwrap(), options)
}

/// The agent sends one message with these frames.
pub(super) fn agent_sends(session: &Session, frames: Vec<Frame>) {
    session.upload(&mut Upload::default(), frames).unwrap();
}

/// The agent prints `bytes`.
pub(super) fn print(session: &Session, bytes: &[u8]) {
    agent_sends(session, vec![Frame::Output(bytes.to_vec())]);
}

/// The frames of one batch.
pub(super) fn frames(batch: Batch) -> Vec<Frame> {
    decode_message(&batch.all_bytes(), usize::MAX).unwrap()
}

/// Every frame the feed yields until it has nothing more to send.
pub(super) fn drain(feed: &mut ViewerFeed) -> Vec<Frame> {
    let mut all = Vec::new();
    while let Some(batch) = feed.next_batch() {
        all.extend(frames(batch));
    }
    all
}
