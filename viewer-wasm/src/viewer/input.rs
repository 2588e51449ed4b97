//! What this viewer sends to the agent: typed keys (with the key bar's
//! Ctrl), input bytes, and requests for a size.

use protocol::Frame;

use super::Inner;
use crate::keys::with_ctrl;

impl Inner {
    pub(super) fn send(&self, frame: &Frame) -> bool {
        self.link.as_ref().is_some_and(|link| link.send(frame))
    }

    /// Input from xterm: keys, paste, IME text, and answers to queries.
    pub(super) fn send_typed(&mut self, data: &str) {
        let data = if self.status.ctrl_armed {
            self.status.ctrl_armed = false;
            self.status_dirty = true;
            with_ctrl(data)
        } else {
            data.to_owned()
        };
        self.send_input(data.into_bytes());
    }

    pub(super) fn send_input(&mut self, bytes: Vec<u8>) {
        // Replayed history can contain terminal queries whose answers must
        // not reach the agent; offline input would be lost, so it is not sent.
        if self.status.can_type() && !self.stream.is_replaying() {
            self.send(&Frame::Input(bytes));
        }
    }

    /// Asks for the size that fills this screen at the normal font (if
    /// allowed); unless `always`, only when it differs from the session's,
    /// so that the session's answering RESIZE does not ask again.
    pub(super) fn fit_session_to_screen(&mut self, always: bool) {
        if !self.status.can_type() {
            return;
        }
        let Some(size) = self.term.proposed_size() else {
            return;
        };
        if always || self.status.session_size != Some(size) {
            self.send(&Frame::Resize(size));
        }
    }
}
