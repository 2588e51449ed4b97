//! The output thread: the agent's output to the local terminal and the relay.

use super::attention::AttentionWatch;
use super::lock;
use crate::inbox::InputEvent;
use crate::link::OutputSink;
use crate::queries::QueryArbiter;
use crate::recorder::Recorder;
use std::io::{Read, Write};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

/// Bytes read from the PTY at once.
const READ_CHUNK: usize = 64 * 1024;

/// Where the output goes besides the terminal and the recording: the
/// link's buffer (when there is a relay), and the attention rule.
pub(super) struct RelayOutput {
    sink: Option<OutputSink>,
    attention: Option<Arc<AttentionWatch>>,
}

impl RelayOutput {
    /// Output for `sink`, shown to `attention` too.
    pub(super) fn new(sink: Option<OutputSink>, attention: Option<Arc<AttentionWatch>>) -> Self {
        Self { sink, attention }
    }

    fn push(&self, chunk: &[u8]) {
        if let Some(sink) = &self.sink {
            sink.push(chunk);
        }
        if let Some(attention) = &self.attention {
            attention.observe(chunk);
        }
    }
}

impl Drop for RelayOutput {
    fn drop(&mut self) {
        if let Some(attention) = &self.attention {
            attention.stop();
        }
    }
}

/// Reads the PTY until it closes. Each chunk is shown to the query arbiter
/// first (waking the input thread when a query is pending), then written to
/// the recording, then appended to the relay's buffer (and shown to the
/// attention rule, whose markers so follow the output that caused them),
/// then written to stdout.
pub(super) fn pump(
    mut reader: Box<dyn Read + Send>,
    queries: &Mutex<QueryArbiter>,
    sink: Option<&RelayOutput>,
    recorder: Option<&Recorder>,
    wake: &SyncSender<InputEvent>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let stdout = std::io::stdout();
    let mut stdout_ok = true;
    // Debug builds only: lets the end-to-end tests check that a panic leaves
    // the terminal restored.
    let panic_for_test = cfg!(debug_assertions) && std::env::var_os("TETHER_TEST_PANIC").is_some();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::debug!(%err, "PTY read ended");
                break;
            }
        };
        let chunk = &buf[..n];
        if panic_for_test {
            panic!("TETHER_TEST_PANIC is set");
        }
        // Queries are noted before anyone can see (and answer) them.
        if lock(queries).observe_output(chunk, Instant::now()) {
            let _ = wake.try_send(InputEvent::Wake);
        }
        if let Some(recorder) = recorder {
            recorder.output(chunk);
        }
        // Then the relay: it only appends to memory, never waits.
        if let Some(sink) = sink {
            sink.push(chunk);
        }
        if stdout_ok {
            let mut out = stdout.lock();
            if out.write_all(chunk).and_then(|()| out.flush()).is_err() {
                // Stdout closed (e.g. a pipe reader went away): keep serving the relay.
                stdout_ok = false;
            }
        }
    }
}
