//! [`SizeHolder`]: which viewer link's RESIZE is in force ("fit to
//! screen"), so that the agent hears when that viewer leaves
//! (`size_released`) and gives the size back to its local terminal.
//!
//! The latest RESIZE handed to the agent wins, as in the wrapper (latest
//! request wins): a newer viewer's RESIZE makes it the holder, and only the
//! holder's leaving releases the size. A holder that leaves while no agent is
//! attached leaves the release owed, to be sent when an agent link attaches.

/// The viewer link holding the session's size, and a release not yet sent.
#[derive(Debug, Default)]
pub(super) struct SizeHolder {
    holder: Option<u64>,
    owed: bool,
}

impl SizeHolder {
    /// The RESIZE of viewer link `viewer` was handed to the agent.
    pub(super) fn took(&mut self, viewer: u64) {
        self.holder = Some(viewer);
        self.owed = false;
    }

    /// Viewer link `viewer` left. True when the agent must be told now
    /// (it held the size and an agent is attached); when it held the size
    /// and no agent is attached, the release is owed.
    pub(super) fn left(&mut self, viewer: u64, agent_attached: bool) -> bool {
        if self.holder != Some(viewer) {
            return false;
        }
        self.holder = None;
        self.owed = !agent_attached;
        agent_attached
    }

    /// An agent link attached: true when a release is owed to it.
    pub(super) fn attached(&mut self) -> bool {
        std::mem::take(&mut self.owed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use protocol::Size;
    use uuid::Uuid;

    use super::super::tests::ROOMY;
    use super::super::{command_queue, AgentCommand, CommandReceiver, Seat, Session};
    use super::*;

    fn session() -> Arc<Session> {
        Arc::new(Session::new(Uuid::new_v4(), "ann", 64))
    }

    fn drain(rx: &mut CommandReceiver) -> Vec<AgentCommand> {
        std::iter::from_fn(|| rx.try_recv()).collect()
    }

    const PHONE: AgentCommand = AgentCommand::Resize(Size { rows: 20, cols: 40 });

    #[test]
    fn only_the_holder_leaving_releases() {
        let mut h = SizeHolder::default();
        assert!(!h.left(1, true), "nobody held it");
        h.took(1);
        h.took(2);
        assert!(!h.left(1, true), "a newer viewer holds it");
        assert!(h.left(2, true));
        assert!(!h.left(2, true), "released once");
        assert!(!h.attached(), "nothing owed");
    }

    #[test]
    fn a_release_while_no_agent_is_attached_is_owed() {
        let mut h = SizeHolder::default();
        h.took(1);
        assert!(!h.left(1, false));
        assert!(h.attached());
        assert!(!h.attached(), "sent once");
    }

    #[test]
    fn closing_the_holders_link_tells_the_agent() {
        let session = session();
        let (tx, mut agent) = command_queue(1 << 10);
        let _link = session.attach_agent(tx);
        let phone = session.join_viewer(Seat::Owner, ROOMY).unwrap();
        let desk = session.join_viewer(Seat::Owner, ROOMY).unwrap();
        session.send_from_viewer(phone.link_id(), PHONE).unwrap();
        session
            .send_from_viewer(desk.link_id(), AgentCommand::Input(b"x".to_vec()))
            .unwrap();
        assert_eq!(
            drain(&mut agent),
            [PHONE, AgentCommand::Input(b"x".to_vec())]
        );

        drop(desk);
        assert_eq!(drain(&mut agent), [], "another viewer leaving: nothing");
        drop(phone);
        assert_eq!(drain(&mut agent), [AgentCommand::SizeReleased]);
    }

    #[test]
    fn a_newer_viewers_resize_makes_it_the_holder() {
        let session = session();
        let (tx, mut agent) = command_queue(1 << 10);
        let _link = session.attach_agent(tx);
        let first = session.join_viewer(Seat::Owner, ROOMY).unwrap();
        let second = session.join_viewer(Seat::Share("s".into()), ROOMY).unwrap();
        session.send_from_viewer(first.link_id(), PHONE).unwrap();
        let tablet = AgentCommand::Resize(Size { rows: 40, cols: 90 });
        session
            .send_from_viewer(second.link_id(), tablet.clone())
            .unwrap();
        drop(first);
        assert_eq!(drain(&mut agent), [PHONE, tablet], "no release");
        drop(second);
        assert_eq!(drain(&mut agent), [AgentCommand::SizeReleased]);
    }

    #[test]
    fn a_holder_that_leaves_while_the_agent_is_away_is_released_on_its_return() {
        let session = session();
        let (tx, mut old) = command_queue(1 << 10);
        let link = session.attach_agent(tx);
        let phone = session.join_viewer(Seat::Owner, ROOMY).unwrap();
        session.send_from_viewer(phone.link_id(), PHONE).unwrap();
        assert_eq!(drain(&mut old), [PHONE]);
        drop(link);
        drop(phone);
        let (tx, mut new) = command_queue(1 << 10);
        let _link = session.attach_agent(tx);
        assert_eq!(drain(&mut new), [AgentCommand::SizeReleased]);
        let (tx, mut newer) = command_queue(1 << 10);
        let _link = session.attach_agent(tx);
        assert_eq!(drain(&mut newer), [], "owed once");
    }

    #[test]
    fn a_refused_resize_holds_nothing() {
        let session = session();
        let phone = session.join_viewer(Seat::Owner, ROOMY).unwrap();
        assert!(session.send_from_viewer(phone.link_id(), PHONE).is_err());
        drop(phone);
        let (tx, mut agent) = command_queue(1 << 10);
        let _link = session.attach_agent(tx);
        assert_eq!(drain(&mut agent), [], "offline: the RESIZE never took");
    }
}
