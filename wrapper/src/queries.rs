//! Terminal query replies (placeholder: passes everything through).

use crate::terminal::Size;
use std::time::Instant;

/// Decides which replies to terminal queries reach the agent.
#[derive(Debug)]
pub struct QueryArbiter {
    size: Size,
    local_attached: bool,
}

impl QueryArbiter {
    /// An arbiter for a PTY of `size`; `local_attached` when a local terminal answers.
    pub fn new(size: Size, local_attached: bool) -> Self {
        Self {
            size,
            local_attached,
        }
    }
    /// Whether a local terminal answers queries.
    pub fn local_attached(&self) -> bool {
        self.local_attached
    }
    /// The PTY's size changed.
    pub fn set_pty_size(&mut self, size: Size) {
        self.size = size;
    }
    /// Looks at agent output for queries; true when a new one is pending.
    pub fn observe_output(&mut self, _bytes: &[u8], _now: Instant) -> bool {
        false
    }
    /// Local keyboard bytes to forward.
    pub fn local_input(&mut self, bytes: &[u8], _now: Instant) -> Vec<u8> {
        bytes.to_vec()
    }
    /// Viewer bytes to forward.
    pub fn viewer_input(&mut self, bytes: &[u8], _now: Instant) -> Vec<u8> {
        bytes.to_vec()
    }
    /// Replies the wrapper gives itself now.
    pub fn poll(&mut self, _now: Instant) -> Vec<u8> {
        Vec::new()
    }
    /// When to call [`poll`](Self::poll) next.
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }
}
