//! What reaches the agent's side of a run: input to type into the PTY and
//! size changes to apply, from the local terminal and from viewers.
//!
//! The session owns the receiving ends; the relay link holds an
//! [`AgentInbox`] and never blocks on it.

use protocol::Size;
use std::sync::mpsc::{Sender, SyncSender};

/// Something to type into the agent's terminal.
#[derive(Debug)]
pub enum InputEvent {
    /// Bytes from the local keyboard (or stdin pipe).
    Local(Vec<u8>),
    /// Standard input ended.
    LocalEof,
    /// Bytes from a viewer (an INPUT frame).
    Viewer(Vec<u8>),
    /// Re-check the query arbiter's deadlines.
    Wake,
}

/// A size change request.
#[derive(Debug, Clone, Copy)]
pub enum ResizeEvent {
    /// The local terminal changed size.
    Local(Size),
    /// A viewer asked for a size.
    Remote(Size),
}

/// Channels the relay link uses to reach the agent.
#[derive(Debug, Clone)]
pub struct AgentInbox {
    input: SyncSender<InputEvent>,
    resize: Sender<ResizeEvent>,
}

impl AgentInbox {
    /// An inbox that sends into the session's input and resize queues.
    pub fn new(input: SyncSender<InputEvent>, resize: Sender<ResizeEvent>) -> Self {
        Self { input, resize }
    }

    /// Queues viewer input; dropped (returns false) if the agent is not
    /// reading its input and the queue is full, so the link never blocks.
    pub fn viewer_input(&self, bytes: Vec<u8>) -> bool {
        self.input.try_send(InputEvent::Viewer(bytes)).is_ok()
    }

    /// Queues a viewer's resize request.
    pub fn viewer_resize(&self, size: Size) {
        let _ = self.resize.send(ResizeEvent::Remote(size));
    }
}
