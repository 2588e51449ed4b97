//! The attention rule run beside the output thread: the output thread shows
//! each chunk to the [`AttentionTracker`]; a small thread applies the idle
//! rule when its deadline comes. Every change goes to the relay link and
//! the recording (`--record`, as a marker).

use crate::attention::{AttentionRules, AttentionTracker};
use crate::link::AttentionSink;
use crate::recorder::Recorder;
use protocol::Attention;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// The tracker shared by the output thread and the idle thread.
#[derive(Debug)]
pub(super) struct AttentionWatch {
    inner: Mutex<Inner>,
    wake: Condvar,
    sink: Option<AttentionSink>,
    recorder: Option<Recorder>,
}

#[derive(Debug)]
struct Inner {
    tracker: AttentionTracker,
    /// Bytes of output seen so far: the offset (in this run's output) of the next chunk.
    seen: u64,
    stopped: bool,
}

impl AttentionWatch {
    /// Starts the idle thread; changes go to `sink` and `recorder`.
    pub(super) fn start(
        rules: AttentionRules,
        sink: Option<AttentionSink>,
        recorder: Option<Recorder>,
    ) -> std::io::Result<Arc<Self>> {
        let watch = Arc::new(Self {
            inner: Mutex::new(Inner {
                tracker: AttentionTracker::new(rules),
                seen: 0,
                stopped: false,
            }),
            wake: Condvar::new(),
            sink,
            recorder,
        });
        let idle = Arc::clone(&watch);
        std::thread::Builder::new()
            .name("attention".into())
            .spawn(move || idle.run_idle_rule())?;
        Ok(watch)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The output thread read `chunk`, the next part of this run's output.
    /// Offsets count this run's output from 0, whatever the link's stream
    /// numbering is at the moment (the link translates them when it sends).
    pub(super) fn observe(&self, chunk: &[u8]) {
        let changed = {
            let mut inner = self.lock();
            let offset = inner.seen;
            inner.seen += chunk.len() as u64;
            inner.tracker.observe(chunk, offset, Instant::now())
        };
        if let Some(attention) = changed {
            self.report(attention);
            self.wake.notify_one();
        }
    }

    fn report(&self, attention: Attention) {
        if let Some(recorder) = &self.recorder {
            recorder.attention(&attention);
        }
        if let Some(sink) = &self.sink {
            sink.report(attention);
        }
    }

    /// The output ended: the idle thread stops.
    pub(super) fn stop(&self) {
        self.lock().stopped = true;
        self.wake.notify_one();
    }

    fn run_idle_rule(&self) {
        let mut inner = self.lock();
        while !inner.stopped {
            inner = match inner.tracker.idle_deadline() {
                None => self.wake.wait(inner).unwrap_or_else(|e| e.into_inner()),
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    let (mut inner, _) = self
                        .wake
                        .wait_timeout(inner, wait)
                        .unwrap_or_else(|e| e.into_inner());
                    if let Some(attention) = inner.tracker.poll(Instant::now()) {
                        self.report(attention);
                    }
                    inner
                }
            };
        }
    }
}
