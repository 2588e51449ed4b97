//! The session's own rules: agent links replace each other, viewers count
//! until they leave, ending and reopening.

use std::sync::Arc;

use super::*;

/// Room for as many viewers as a test wants.
pub(super) const ROOMY: SeatLimits = SeatLimits {
    max: 64,
    owner_reserved: 0,
    per_share: 64,
};

fn session() -> Arc<Session> {
    Arc::new(Session::new(Uuid::new_v4(), "ann", 64))
}

#[test]
fn a_newer_agent_link_replaces_the_old_one() {
    let session = session();
    let (old_tx, mut old_rx) = command_queue(1 << 10);
    let old = session.attach_agent(old_tx);
    let (new_tx, mut new_rx) = command_queue(1 << 10);
    let new = session.attach_agent(new_tx);
    assert_eq!(
        old_rx.try_recv(),
        Some(AgentCommand::Close(CloseCause::Replaced))
    );
    drop(old);
    assert_eq!(
        session.liveness(),
        Liveness::Live,
        "the old guard leaves the new link"
    );
    session
        .send_to_agent(AgentCommand::Input(b"x".to_vec()))
        .unwrap();
    assert_eq!(new_rx.try_recv(), Some(AgentCommand::Input(b"x".to_vec())));
    drop(new);
    assert_eq!(session.liveness(), Liveness::Offline);
    assert_eq!(
        session.send_to_agent(AgentCommand::Input(vec![])),
        Err(SendError::Offline)
    );
}

#[test]
fn viewers_count_until_their_guard_drops() {
    let session = session();
    let two = SeatLimits {
        max: 2,
        owner_reserved: 0,
        per_share: 2,
    };
    let first = session.join_viewer(Seat::Owner, two).unwrap();
    let _second = session.join_viewer(Seat::Share("s".into()), two).unwrap();
    assert_eq!(
        session.join_viewer(Seat::Owner, two).unwrap_err(),
        JoinError::TooManyViewers
    );
    assert_eq!(session.viewer_count(), 2);
    drop(first);
    assert_eq!(session.viewer_count(), 1);
}

#[test]
fn ending_and_reopening() {
    let session = session();
    session.end_if_offline(Some(3));
    assert_eq!(session.liveness(), Liveness::Ended);
    session.reopen();
    assert_eq!(session.liveness(), Liveness::Offline);
    let (tx, _rx) = command_queue(1 << 10);
    let _agent = session.attach_agent(tx);
    session.end_if_offline(Some(3));
    assert_eq!(
        session.liveness(),
        Liveness::Live,
        "a live session is not ended"
    );
}
