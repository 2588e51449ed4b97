//! [`Keyboard`]: the agent's keyboard — the PTY's input end with the query
//! arbiter in front of it, shared by the input thread and the relay link.
//!
//! Everything typed into the agent passes the arbiter and is written under
//! one lock, so the arbiter's decisions and the writes keep one order. The
//! input thread writes what waits in the session's queue. A viewer's
//! keystroke is written by the link thread itself ([`Keyboard::type_now`])
//! when nothing waits before it: one thread hop fewer on every key.

use crate::queries::QueryArbiter;
use crate::recorder::Recorder;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::Instant;

/// Largest viewer input the link thread writes itself (a keystroke, an
/// escape sequence, a short reply); larger input (a paste) goes through the
/// input thread. A write this small never waits for the agent unless its
/// terminal's input buffer is all but full.
pub const TYPE_NOW_MAX: usize = 256;

/// The PTY's input end behind the query arbiter.
pub struct Keyboard {
    writer: Mutex<Box<dyn Write + Send>>,
    queries: Arc<Mutex<QueryArbiter>>,
    /// The recording, handed what is typed (it keeps it only with `--record-input`).
    recorder: Option<Recorder>,
}

impl std::fmt::Debug for Keyboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyboard").finish_non_exhaustive()
    }
}

impl Keyboard {
    /// The keyboard writing into `writer` through `queries`, telling
    /// `recorder` what it types.
    pub fn new(
        writer: Box<dyn Write + Send>,
        queries: Arc<Mutex<QueryArbiter>>,
        recorder: Option<Recorder>,
    ) -> Self {
        Self {
            writer: Mutex::new(writer),
            queries,
            recorder,
        }
    }

    /// The query arbiter.
    pub fn queries(&self) -> MutexGuard<'_, QueryArbiter> {
        self.queries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the arbiter what to type (`input` gets it and the time) and
    /// writes that, both under the keyboard's lock. `Err` when the PTY
    /// refuses the write (the agent's side is gone).
    pub fn type_with(
        &self,
        input: impl FnOnce(&mut QueryArbiter, Instant) -> Vec<u8>,
    ) -> std::io::Result<()> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        self.write_through(&mut writer, input)
    }

    /// Writes a viewer's input at once on the calling thread, when it is
    /// small ([`TYPE_NOW_MAX`]) and nobody is writing; `false` when it must
    /// be queued instead. The caller checks that no earlier viewer input
    /// still waits in the queue.
    pub fn type_now(&self, bytes: &[u8]) -> bool {
        if bytes.len() > TYPE_NOW_MAX {
            return false;
        }
        let mut writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        let written = self.write_through(&mut writer, |arbiter, now| {
            let mut out = arbiter.poll(now);
            out.extend(arbiter.viewer_input(bytes, now));
            out
        });
        if let Err(err) = written {
            // The agent's side is gone: the input thread ends on its next write.
            tracing::debug!(%err, "viewer input not written");
        }
        true
    }
}

impl Keyboard {
    fn write_through(
        &self,
        writer: &mut Box<dyn Write + Send>,
        input: impl FnOnce(&mut QueryArbiter, Instant) -> Vec<u8>,
    ) -> std::io::Result<()> {
        let bytes = {
            let mut arbiter = self.queries();
            input(&mut arbiter, Instant::now())
        };
        if bytes.is_empty() {
            return Ok(());
        }
        if let Some(recorder) = &self.recorder {
            recorder.input(&bytes);
        }
        writer.write_all(&bytes)?;
        writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Size;

    /// A writer whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn keyboard() -> (Keyboard, Shared) {
        let out = Shared::default();
        let queries = Arc::new(Mutex::new(QueryArbiter::new(Size::new(24, 80), false)));
        (Keyboard::new(Box::new(out.clone()), queries, None), out)
    }

    #[test]
    fn keystrokes_are_typed_at_once_and_pastes_are_not() {
        let (keyboard, out) = keyboard();
        assert!(keyboard.type_now(b"ls\r"));
        assert_eq!(*out.0.lock().unwrap(), b"ls\r");
        assert!(!keyboard.type_now(&[b'x'; TYPE_NOW_MAX + 1]));
        assert_eq!(
            out.0.lock().unwrap().len(),
            3,
            "a paste waits for the input thread"
        );
    }

    #[test]
    fn a_write_in_progress_sends_viewer_input_to_the_queue() {
        let (keyboard, out) = keyboard();
        let held = keyboard.writer.lock().unwrap();
        assert!(!keyboard.type_now(b"a"));
        drop(held);
        keyboard.type_with(|_, _| b"b".to_vec()).unwrap();
        assert_eq!(*out.0.lock().unwrap(), b"b");
    }

    #[test]
    fn viewer_replies_pass_the_arbiter() {
        let (keyboard, out) = keyboard();
        keyboard
            .queries()
            .observe_output(b"\x1b[6n", Instant::now());
        // The first answer to the agent's query goes in, a second viewer's is dropped.
        assert!(keyboard.type_now(b"\x1b[5;5R"));
        assert!(keyboard.type_now(b"\x1b[7;7R"));
        assert_eq!(*out.0.lock().unwrap(), b"\x1b[5;5R");
    }
}
