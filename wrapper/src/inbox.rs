//! What reaches the agent's side of a run: input to type into the PTY and
//! size changes to apply, from the local terminal and from viewers (and the
//! relay's word that the viewer holding the size left).
//!
//! The session owns the receiving ends; the relay link holds an
//! [`AgentInbox`] and never blocks on it. What viewers send is bounded: their
//! input waiting for the agent by [`VIEWER_INPUT_BUDGET`] bytes (beyond it,
//! input is dropped), their size requests by one slot (the latest wins; a
//! flood of RESIZE frames queues nothing), each size cut to
//! [`Size::MAX`](protocol::Size::MAX).

use crate::keyboard::Keyboard;
use crate::logging::Throttle;
use protocol::Size;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Bytes of viewers' input that may wait for the agent to read them; more
/// is dropped (with a warning in the log, at most one a second).
pub const VIEWER_INPUT_BUDGET: usize = 1 << 20;

/// Something to type into the agent's terminal.
#[derive(Debug)]
pub enum InputEvent {
    /// Bytes from the local keyboard (or stdin pipe).
    Local(Vec<u8>),
    /// Standard input ended.
    LocalEof,
    /// Bytes from a viewer (an INPUT frame).
    Viewer(ViewerInput),
    /// Re-check the query arbiter's deadlines.
    Wake,
}

/// A size change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeEvent {
    /// The local terminal changed size.
    Local(Size),
    /// A key was typed on the local terminal: it takes the size back if a
    /// viewer holds it.
    LocalUse,
    /// A viewer asked for a size: take it with [`RemoteSize::take`].
    Remote,
    /// The viewer holding the size left (the relay's `size_released`).
    Released,
}

/// One viewer INPUT frame waiting for the agent. Its bytes count against
/// [`VIEWER_INPUT_BUDGET`] until it is dropped (written, or thrown away).
#[derive(Debug)]
pub struct ViewerInput {
    bytes: Vec<u8>,
    queued: Arc<AtomicUsize>,
}

impl ViewerInput {
    /// The input.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for ViewerInput {
    fn drop(&mut self) {
        self.queued.fetch_sub(self.bytes.len(), Ordering::AcqRel);
    }
}

/// The latest size a viewer asked for that the resize thread has not taken yet.
#[derive(Debug, Default)]
pub struct RemoteSize(Mutex<Option<Size>>);

impl RemoteSize {
    /// The size asked for since the last call, if any.
    pub fn take(&self) -> Option<Size> {
        self.slot().take()
    }

    fn slot(&self) -> MutexGuard<'_, Option<Size>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Channels the relay link uses to reach the agent.
#[derive(Debug, Clone)]
pub struct AgentInbox {
    input: SyncSender<InputEvent>,
    resize: Sender<ResizeEvent>,
    remote_size: Arc<RemoteSize>,
    /// Viewer input bytes queued and not yet written.
    queued: Arc<AtomicUsize>,
    budget: usize,
    dropped: Arc<Mutex<Throttle>>,
    /// Where a viewer's keystroke is typed at once when nothing waits.
    keyboard: Option<Arc<Keyboard>>,
}

impl AgentInbox {
    /// An inbox that sends into the session's input and resize queues; the
    /// resize thread takes viewers' sizes from `remote_size`.
    pub fn new(
        input: SyncSender<InputEvent>,
        resize: Sender<ResizeEvent>,
        remote_size: Arc<RemoteSize>,
    ) -> Self {
        Self::with_budget(input, resize, remote_size, VIEWER_INPUT_BUDGET)
    }

    fn with_budget(
        input: SyncSender<InputEvent>,
        resize: Sender<ResizeEvent>,
        remote_size: Arc<RemoteSize>,
        budget: usize,
    ) -> Self {
        Self {
            input,
            resize,
            remote_size,
            queued: Arc::default(),
            budget,
            dropped: Arc::new(Mutex::new(Throttle::PER_SECOND)),
            keyboard: None,
        }
    }

    /// Types viewers' keystrokes straight into `keyboard` (on the link's
    /// thread) when no earlier viewer input waits in the queue; the rest is
    /// queued for the input thread.
    pub fn with_keyboard(mut self, keyboard: Arc<Keyboard>) -> Self {
        self.keyboard = Some(keyboard);
        self
    }

    /// Queues viewer input. It is dropped (and false returned) when it would
    /// take the input waiting for the agent past the byte budget, or the
    /// queue is full: the agent is not reading its input, and the link must
    /// neither block nor hold more.
    pub fn viewer_input(&self, bytes: Vec<u8>) -> bool {
        let len = bytes.len();
        if len == 0 {
            return true;
        }
        // Only the link queues viewer input, so none waits when none is counted.
        if let Some(keyboard) = &self.keyboard {
            if self.queued_bytes() == 0 && keyboard.type_now(&bytes) {
                return true;
            }
        }
        let reserved = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                queued
                    .checked_add(len)
                    .filter(|total| *total <= self.budget)
            })
            .is_ok();
        // Dropping a refused event gives its bytes back.
        let queued = reserved
            && self
                .input
                .try_send(InputEvent::Viewer(ViewerInput {
                    bytes,
                    queued: Arc::clone(&self.queued),
                }))
                .is_ok();
        if !queued {
            self.warn_dropped(len);
        }
        queued
    }

    /// Viewer input bytes waiting for the agent.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    fn warn_dropped(&self, len: usize) {
        let allowed = self
            .dropped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allow(Instant::now());
        if let Some(held_back) = allowed {
            tracing::warn!(
                bytes = len,
                waiting = self.queued_bytes(),
                budget = self.budget,
                more_dropped_before = held_back,
                "viewer input dropped: the agent is not reading its input"
            );
        }
    }

    /// Hands a viewer's size request to the resize thread, cut to
    /// [`Size::MAX`]; a size with a zero side is refused (false). Only the
    /// latest request waits: a newer one replaces it.
    pub fn viewer_resize(&self, size: Size) -> bool {
        if size.is_empty() {
            return false;
        }
        let first = self.remote_size.slot().replace(size.clamped()).is_none();
        if first {
            let _ = self.resize.send(ResizeEvent::Remote);
        }
        true
    }

    /// The relay says the viewer whose size is in force left: the resize
    /// thread gives the size back to the local terminal.
    pub fn size_released(&self) {
        let _ = self.resize.send(ResizeEvent::Released);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{self, Receiver};

    fn inbox(
        budget: usize,
    ) -> (
        AgentInbox,
        Receiver<InputEvent>,
        Receiver<ResizeEvent>,
        Arc<RemoteSize>,
    ) {
        let (input, input_rx) = mpsc::sync_channel(1024);
        let (resize, resize_rx) = mpsc::channel();
        let remote = Arc::new(RemoteSize::default());
        let inbox = AgentInbox::with_budget(input, resize, Arc::clone(&remote), budget);
        (inbox, input_rx, resize_rx, remote)
    }

    #[test]
    fn viewer_input_waiting_for_the_agent_is_bounded_in_bytes() {
        let (inbox, input_rx, _, _) = inbox(VIEWER_INPUT_BUDGET);
        // An agent that reads nothing, and viewers that paste 64 KiB at a
        // time: 1024 such frames would be 64 MiB.
        let frame = vec![b'x'; 64 * 1024];
        let accepted = (0..1024)
            .filter(|_| inbox.viewer_input(frame.clone()))
            .count();
        assert_eq!(accepted, VIEWER_INPUT_BUDGET / frame.len());
        assert_eq!(inbox.queued_bytes(), VIEWER_INPUT_BUDGET);

        // The agent reads one: room for one more, and no more.
        let Ok(InputEvent::Viewer(read)) = input_rx.try_recv() else {
            panic!("viewer input was queued");
        };
        assert_eq!(read.bytes().len(), frame.len());
        drop(read);
        assert!(inbox.viewer_input(frame.clone()));
        assert!(!inbox.viewer_input(frame.clone()));
        // Small input still fits where large does not, and empty input is no input.
        assert!(!inbox.viewer_input(vec![b'y']));
        assert!(inbox.viewer_input(Vec::new()));
    }

    #[test]
    fn dropped_events_give_their_bytes_back() {
        let (inbox, input_rx, _, _) = inbox(100);
        assert!(inbox.viewer_input(vec![1; 60]));
        assert!(!inbox.viewer_input(vec![1; 60]));
        drop(input_rx);
        // The session is gone: refused, and nothing stays counted.
        assert!(!inbox.viewer_input(vec![1; 10]));
        assert_eq!(inbox.queued_bytes(), 0);
    }

    #[test]
    fn viewer_sizes_are_clamped_refused_when_empty_and_never_queue_up() {
        let (inbox, _, resize_rx, remote) = inbox(1);
        assert!(inbox.viewer_resize(Size::new(65535, 65535)));
        for cols in 1..=10_000 {
            assert!(inbox.viewer_resize(Size::new(40, cols)));
        }
        assert!(!inbox.viewer_resize(Size::new(0, 80)));
        assert!(!inbox.viewer_resize(Size::new(24, 0)));
        assert_eq!(resize_rx.try_iter().count(), 1, "one wake-up, not 10 001");
        assert_eq!(
            remote.take(),
            Some(Size::new(40, 1000)),
            "the latest, clamped"
        );
        assert_eq!(remote.take(), None);

        assert!(inbox.viewer_resize(Size::new(2000, 30)));
        assert!(matches!(resize_rx.try_recv(), Ok(ResizeEvent::Remote)));
        assert_eq!(remote.take(), Some(Size::new(1000, 30)));
    }

    #[test]
    fn a_release_reaches_the_resize_thread() {
        let (inbox, _, resize_rx, _) = inbox(1);
        inbox.size_released();
        assert_eq!(resize_rx.try_recv(), Ok(ResizeEvent::Released));
    }
}
