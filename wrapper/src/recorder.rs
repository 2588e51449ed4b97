//! `--record FILE.cast`: the whole session written locally as asciicast v3
//! while it runs, from the wrapper's own stream (so nothing is lost to the
//! relay's ring): every output chunk as an `o` event, every PTY size as an
//! `r` event, the exit as an `x` event, and, with `--record-input` only
//! (keys can be secrets), what went into the PTY as `i` events; attention
//! changes (the agent waits for its person) as `m` markers.
//!
//! Each event is written and flushed when it happens: a recording cut short
//! (tether killed) holds everything up to then. A write that fails is
//! logged once and recording stops; the session goes on.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use protocol::asciicast::{EventWriter, Header};
use protocol::Size;

/// A recording being written; cloned into each thread that has events.
#[derive(Debug, Clone)]
pub struct Recorder {
    inner: Arc<Mutex<Recording>>,
    with_input: bool,
}

#[derive(Debug)]
struct Recording {
    /// `None` once a write failed.
    file: Option<BufWriter<File>>,
    started: Instant,
    events: EventWriter,
    /// One event's text, reused.
    line: String,
}

impl Recorder {
    /// Creates (or truncates) `path` and writes the header: a terminal of
    /// `size` running `command`, titled `title`.
    pub fn create(
        path: &Path,
        size: Size,
        command: &str,
        title: Option<&str>,
        with_input: bool,
    ) -> std::io::Result<Self> {
        let mut file = BufWriter::new(File::create(path)?);
        let header = Header {
            size,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs()),
            command: Some(command.to_string()),
            title: title.map(str::to_string),
        };
        file.write_all(header.line().as_bytes())?;
        file.flush()?;
        let recording = Recording {
            file: Some(file),
            started: Instant::now(),
            events: EventWriter::default(),
            line: String::new(),
        };
        Ok(Self {
            inner: Arc::new(Mutex::new(recording)),
            with_input,
        })
    }

    /// The agent printed `bytes`.
    pub fn output(&self, bytes: &[u8]) {
        self.write(|events, at, line| events.output(at, bytes, line));
    }

    /// `bytes` went into the PTY (recorded only with `--record-input`).
    pub fn input(&self, bytes: &[u8]) {
        if self.with_input {
            self.write(|events, at, line| events.input(at, bytes, line));
        }
    }

    /// The PTY took `size`.
    pub fn resize(&self, size: Size) {
        self.write(|events, at, line| events.resize(at, size, line));
    }

    /// The session's attention changed (an `m` marker: `waiting: TEXT`,
    /// `working`, `idle`).
    pub fn attention(&self, attention: &protocol::Attention) {
        if let Some(label) = attention.marker_label() {
            self.write(|events, at, line| events.marker(at, &label, line));
        }
    }

    /// The agent exited with `code`.
    pub fn exit(&self, code: i32) {
        self.write(|events, at, line| events.exit(at, code, line));
    }

    fn write(&self, event: impl FnOnce(&mut EventWriter, u64, &mut String)) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let recording = &mut *guard;
        let Some(file) = recording.file.as_mut() else {
            return;
        };
        let at = recording.started.elapsed().as_micros() as u64;
        recording.line.clear();
        event(&mut recording.events, at, &mut recording.line);
        if recording.line.is_empty() {
            return;
        }
        let written = file
            .write_all(recording.line.as_bytes())
            .and_then(|()| file.flush());
        if let Err(err) = written {
            tracing::warn!(%err, "writing the recording failed: recording stopped");
            recording.file = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::asciicast::{parse_event, Event};

    #[test]
    fn writes_a_header_and_events_as_they_happen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.cast");
        let recorder =
            Recorder::create(&path, Size::new(24, 80), "bash", Some("t"), false).unwrap();
        recorder.output(b"hi ");
        recorder.input(b"secret\r");
        recorder.resize(Size::new(30, 100));
        recorder.output("é".as_bytes());
        recorder.attention(&protocol::Attention::new(
            protocol::AttentionState::Waiting,
            Some("Allow?".into()),
            Some(5),
        ));
        recorder.exit(0);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(
            (header["command"].as_str(), header["title"].as_str()),
            (Some("bash"), Some("t"))
        );
        let events: Vec<Event> = lines.map(|l| parse_event(l).unwrap().unwrap().1).collect();
        assert_eq!(
            events,
            [
                Event::Output("hi ".into()),
                Event::Resize(Size::new(30, 100)),
                Event::Output("é".into()),
                Event::Marker("waiting: Allow?".into()),
                Event::Exit(0),
            ],
            "no input without --record-input"
        );
    }
}
