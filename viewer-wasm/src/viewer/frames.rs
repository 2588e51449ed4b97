//! What a viewer does with each frame and control event from the relay.

use protocol::{AttentionState, Control, Frame, Role};

use super::{Connection, Inner};

impl Inner {
    /// Applies one frame from the relay.
    pub(super) fn handle_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Output(data) => {
                self.stream.on_output(&data);
                if self.stream.is_overflowing() {
                    // Too far behind: drop the backlog and resume from what
                    // xterm has, letting the relay skip ahead if it must.
                    self.stream.resync();
                    self.link_lost();
                    return;
                }
                self.pump();
            }
            Frame::StreamOffset(offset) => {
                self.stream.on_stream_offset(offset);
                if self.stream.lost() != self.status.lost {
                    self.status.lost = self.stream.lost();
                    self.status_dirty = true;
                }
            }
            Frame::Resize(size) => {
                self.status.session_size = Some(size);
                self.status_dirty = true;
                self.term.resize(size);
                self.refit();
            }
            Frame::Metadata(meta) => {
                // Without a local terminal the viewers' size applies: follow
                // this screen (README of the wrapper, "Size").
                let follow = meta.local_terminal == Some(false);
                if follow && !self.follow_screen {
                    self.follow_screen = true;
                    self.fit_session_to_screen(false);
                }
                self.follow_screen = follow;
                let title = meta
                    .agent_display_name
                    .filter(|name| !name.is_empty())
                    .or(Some(meta.agent).filter(|agent| !agent.is_empty()));
                if title != self.status.title {
                    self.status.title = title;
                    self.status_dirty = true;
                }
            }
            Frame::Snapshot(snapshot) => {
                // Drawn for its size: take it (the session's RESIZE came
                // before it), then reset and draw; live output follows.
                self.term.resize(snapshot.size);
                self.refit();
                self.stream.on_snapshot(snapshot.offset, &snapshot.data);
                self.pump();
            }
            Frame::Control(control) => self.handle_control(control),
            Frame::Input(_) | Frame::Ack(_) => {}
        }
    }

    fn handle_control(&mut self, control: Control) {
        match control {
            Control::Role { role, shared_by } => {
                self.status.role = Some(role);
                self.status.shared_by = shared_by;
                self.status_dirty = true;
                self.term.set_read_only(role == Role::ReadOnly);
            }
            Control::HistoryComplete { offset } => {
                self.stream.on_history_complete(offset);
                if self.status.notice.take().is_some() {
                    self.status_dirty = true;
                }
                if !matches!(self.status.connection, Connection::Ended(_)) {
                    self.set_connection(Connection::Live);
                }
                if self.follow_screen {
                    self.fit_session_to_screen(false);
                }
            }
            Control::AgentOffline => self.set_connection(Connection::AgentOffline),
            Control::AgentOnline => {
                self.set_connection(Connection::Live);
                if self.follow_screen {
                    self.fit_session_to_screen(false);
                }
            }
            Control::SessionEnded { exit_status } => {
                if self.status.waiting.take().is_some() {
                    self.status_dirty = true;
                }
                self.set_connection(Connection::Ended(exit_status))
            }
            Control::Error { reason } => {
                self.status.notice = Some(reason);
                self.status_dirty = true;
            }
            Control::Gap { .. } => {} // counted by the STREAM_OFFSET that follows
            Control::Attention(attention) => {
                let waiting = (attention.state == AttentionState::Waiting).then_some(attention);
                if waiting != self.status.waiting {
                    self.status.waiting = waiting;
                    self.status_dirty = true;
                }
            }
            Control::Ready
            | Control::AgentExited { .. }
            | Control::SizeReleased
            | Control::Unknown => {}
        }
    }
}
