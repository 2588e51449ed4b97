//! A session's retained history as an asciicast v3 recording, read a chunk
//! at a time ([`RecordingReader`]) so that a large ring is streamed, never
//! built as one string. Output keeps its pacing from the time marks
//! (`timing.rs`), the PTY's size changes become `r` events, attention
//! changes `m` markers (`markers.rs`), the end an `x` event. What the relay no longer holds is said with a marker where it is
//! missing: at the start for the evicted bytes, mid-way for bytes evicted
//! while the download ran.

use std::sync::Arc;

use protocol::asciicast::{EventWriter, Header};
use protocol::Size;

use super::log::{CursorRead, ViewerCursor};
use super::{Session, SessionState};

/// Ring bytes read per lock (and about one chunk of the response).
const READ_CHUNK: usize = 64 << 10;

/// The size a recording starts at when the agent never sent one.
const DEFAULT_SIZE: Size = Size::new(24, 80);

/// Reads one session's recording: the header first, then events up to the
/// end of the stream when the reader was made.
#[derive(Debug)]
pub(crate) struct RecordingReader {
    session: Arc<Session>,
    cursor: ViewerCursor,
    /// The stream offset the recording ends at.
    end: u64,
    /// µs (since the session's time origin) of the recording's start.
    base: u64,
    /// Size changes and markers still to write, by offset.
    pending: Vec<Pending>,
    /// `(µs since origin, exit status)` if the session had ended.
    ended: Option<(u64, Option<i32>)>,
    events: EventWriter,
    /// The header line, until it is read.
    header: Option<String>,
    done: bool,
}

impl RecordingReader {
    /// A reader of `session`'s history as held now, titled `title`.
    pub(crate) fn new(session: Arc<Session>, title: Option<String>) -> Self {
        let state = session.lock();
        let start = state.log.start();
        let end = match state.ended {
            Some(_) => state.ended_offset.clamp(start, state.log.end()),
            None => state.log.end(),
        };
        let base = state.marks.time_of(start);
        let header = Header {
            size: state.sizes.at(start).or(state.size).unwrap_or(DEFAULT_SIZE),
            timestamp: Some(state.marks.unix_seconds(base)),
            command: state.metadata.as_ref().map(|m| m.agent.clone()),
            title,
        };
        let mut header = header.line();
        let mut events = EventWriter::default();
        if start > 0 {
            let label = format!(
                "tether: output before byte {start} is no longer held by the relay \
                 ({start} bytes missing)"
            );
            events.marker(0, &label, &mut header);
        }
        let pending = pending_between(&state, start, end);
        let ended = state.ended.map(|status| {
            (
                state.ended_at.map_or(0, |at| state.marks.micros(at)),
                status,
            )
        });
        drop(state);
        Self {
            session,
            cursor: ViewerCursor::at(start),
            end,
            base,
            pending,
            ended,
            events,
            header: Some(header),
            done: false,
        }
    }

    /// The next piece of the recording; `None` once all of it was read.
    pub(crate) fn next_chunk(&mut self) -> Option<String> {
        if let Some(header) = self.header.take() {
            return Some(header);
        }
        if self.done {
            return None;
        }
        let mut out = String::new();
        if self.cursor.position() >= self.end {
            self.finish(&mut out);
            return Some(out);
        }
        let session = self.session.clone();
        let state = session.lock();
        match self.cursor.read(&state.log, READ_CHUNK, self.end) {
            CursorRead::Gap { from, to } => {
                let at = self.time(&state, to);
                let label = format!(
                    "tether: output {from}..{to} left the relay's memory during the download \
                     ({} bytes missing)",
                    to - from
                );
                self.events.marker(at, &label, &mut out);
            }
            CursorRead::Bytes { offset, data } => {
                self.write_output(&state, offset, &data, &mut out)
            }
            // The ring was freed under the reader: what is left is missing.
            CursorRead::UpToDate => {
                let (from, to) = (self.cursor.position(), self.end);
                let label = format!("tether: output {from}..{to} was freed during the download");
                self.events
                    .marker(self.time(&state, from), &label, &mut out);
                self.cursor = ViewerCursor::at(to);
            }
        }
        Some(out)
    }

    /// `o` events for `data` (stream bytes from `offset`), split where the
    /// time marks or the size change, with the size changes and markers in
    /// between.
    fn write_output(&mut self, state: &SessionState, offset: u64, data: &[u8], out: &mut String) {
        let end = offset + data.len() as u64;
        let mut at = offset;
        while at < end {
            self.write_pending_up_to(at, out);
            let next_mark = state.marks.next_after(at).unwrap_or(u64::MAX);
            let next_pending = self.pending.first().map_or(u64::MAX, |p| p.offset);
            let piece_end = end.min(next_mark).min(next_pending);
            let piece = &data[(at - offset) as usize..(piece_end - offset) as usize];
            self.events.output(self.time(state, at), piece, out);
            at = piece_end;
        }
    }

    /// `r` and `m` events for what happened at or before `offset`.
    fn write_pending_up_to(&mut self, offset: u64, out: &mut String) {
        let due = self.pending.partition_point(|p| p.offset <= offset);
        for pending in self.pending.drain(..due) {
            let at = pending.micros.saturating_sub(self.base);
            match pending.event {
                PendingEvent::Resize(size) => self.events.resize(at, size, out),
                PendingEvent::Marker(label) => self.events.marker(at, &label, out),
            }
        }
    }

    /// The last size changes and the end.
    fn finish(&mut self, out: &mut String) {
        self.write_pending_up_to(u64::MAX, out);
        match self.ended {
            Some((micros, Some(status))) => {
                self.events
                    .exit(micros.saturating_sub(self.base), status, out);
            }
            Some((micros, None)) => {
                let at = micros.saturating_sub(self.base);
                self.events
                    .marker(at, "tether: the session ended (exit status unknown)", out);
            }
            None => {}
        }
        self.done = true;
    }

    /// µs since the recording's start at which the byte at `offset` arrived.
    fn time(&self, state: &SessionState, offset: u64) -> u64 {
        state.marks.time_of(offset).saturating_sub(self.base)
    }
}

/// A size change or a marker, at a stream offset and a time.
#[derive(Debug)]
struct Pending {
    offset: u64,
    /// µs since the session's time origin.
    micros: u64,
    event: PendingEvent,
}

#[derive(Debug)]
enum PendingEvent {
    Resize(Size),
    Marker(String),
}

/// The size changes after `start` and the markers from `start`, up to
/// `end`, by offset, with when they happened.
fn pending_between(state: &SessionState, start: u64, end: u64) -> Vec<Pending> {
    let mut pending = Vec::new();
    let mut from = start;
    while let Some((at, size)) = state.sizes.next_after(from) {
        if at > end {
            break;
        }
        let micros = state.marks.time_of(at);
        pending.push(Pending {
            offset: at,
            micros,
            event: PendingEvent::Resize(size),
        });
        from = at;
    }
    for (offset, micros, label) in state.markers.between(start, end) {
        let event = PendingEvent::Marker(label);
        pending.push(Pending {
            offset,
            micros,
            event,
        });
    }
    pending.sort_by_key(|p| (p.offset, p.micros));
    pending
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use protocol::asciicast::{parse_event, Event};
    use protocol::{Attention, AttentionState, Control, Frame};
    use uuid::Uuid;

    use super::*;
    use crate::session::{timing, Upload};

    fn read_all(session: &Arc<Session>) -> Vec<(f64, Event)> {
        let mut reader = RecordingReader::new(session.clone(), Some("demo".into()));
        let mut text = String::new();
        while let Some(chunk) = reader.next_chunk() {
            text.push_str(&chunk);
        }
        let mut lines = text.lines();
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(
            (header["version"].as_u64(), header["title"].as_str()),
            (Some(3), Some("demo"))
        );
        lines.map(|l| parse_event(l).unwrap().unwrap()).collect()
    }

    #[test]
    fn output_resizes_and_the_exit_keep_their_times() {
        let session = Arc::new(Session::new(Uuid::new_v4(), "ann", 1024));
        let mut upload = Upload::default();
        let frames = vec![
            Frame::Resize(Size::new(24, 80)),
            Frame::Output(b"one ".to_vec()),
        ];
        session.upload(&mut upload, frames).unwrap();
        session
            .upload(&mut upload, vec![Frame::Resize(Size::new(30, 100))])
            .unwrap();
        session
            .upload(&mut upload, vec![Frame::Output(b"two".to_vec())])
            .unwrap();
        session
            .upload(
                &mut upload,
                vec![Frame::Control(Control::AgentExited {
                    exit_status: Some(3),
                })],
            )
            .unwrap();
        session.end(Some(3));
        {
            // Put the marks at known times: "one " at 1 s, the resize and
            // "two" at 3.5 s; the end at 4 s.
            let mut state = session.lock();
            let origin = Instant::now() - Duration::from_secs(60);
            state.marks = timing::TimeMarks::at(origin);
            state.marks.record(0, origin + Duration::from_secs(1), 0);
            state
                .marks
                .record(4, origin + Duration::from_millis(3500), 0);
            state.ended_at = Some(origin + Duration::from_secs(4));
        }
        let events = read_all(&session);
        assert_eq!(
            events,
            [
                (0.0, Event::Output("one ".into())),
                (2.5, Event::Resize(Size::new(30, 100))),
                (0.0, Event::Output("two".into())),
                (0.5, Event::Exit(3)),
            ]
        );
    }

    #[test]
    fn attention_changes_are_markers_before_the_output_after_them() {
        let session = Arc::new(Session::new(Uuid::new_v4(), "ann", 1024));
        let mut upload = Upload::default();
        let waiting = Attention::new(AttentionState::Waiting, Some("Allow?".into()), Some(4));
        let frames = vec![
            Frame::Output(b"ask\x07".to_vec()),
            Frame::Control(Control::Attention(waiting.clone())),
        ];
        session.upload(&mut upload, frames).unwrap();
        // A reconnect reporting the same again adds nothing.
        let again = vec![Frame::Control(Control::Attention(waiting))];
        session.upload(&mut upload, again).unwrap();
        let working = Attention::new(AttentionState::Working, None, Some(4));
        let frames = vec![
            Frame::Control(Control::Attention(working)),
            Frame::Output(b"yes".to_vec()),
        ];
        session.upload(&mut upload, frames).unwrap();
        let events: Vec<Event> = read_all(&session).into_iter().map(|e| e.1).collect();
        assert_eq!(
            events,
            [
                Event::Output("ask\x07".into()),
                Event::Marker("waiting: Allow?".into()),
                Event::Marker("working".into()),
                Event::Output("yes".into()),
            ]
        );
    }

    #[test]
    fn bytes_the_ring_evicted_are_said_at_the_start() {
        let session = Arc::new(Session::new(Uuid::new_v4(), "ann", 8));
        let mut upload = Upload::default();
        session
            .upload(
                &mut upload,
                vec![Frame::Output(b"0123456789abcdefghij".to_vec())],
            )
            .unwrap();
        let events = read_all(&session);
        let Event::Marker(label) = &events[0].1 else {
            panic!("{events:?}")
        };
        assert!(label.contains("12 bytes missing"), "{label}");
        assert_eq!(events[1].1, Event::Output("cdefghij".into()));
        assert_eq!(events.len(), 2, "a live session has no end: {events:?}");
    }

    #[test]
    fn a_ring_freed_during_the_download_is_said_where_it_went() {
        let session = Arc::new(Session::new(Uuid::new_v4(), "ann", 200 << 10));
        let mut upload = Upload::default();
        let big = vec![b'x'; 150 << 10];
        session
            .upload(&mut upload, vec![Frame::Output(big)])
            .unwrap();
        let mut reader = RecordingReader::new(session.clone(), None);
        let header = reader.next_chunk().unwrap();
        let first = reader.next_chunk().unwrap();
        session.lock().free_ring();
        let rest: String = std::iter::from_fn(|| reader.next_chunk()).collect();
        assert!(header.starts_with("{\"version\":3"));
        assert!(first.contains("\"o\""));
        assert!(rest.contains("left the relay's memory"), "{rest}");
    }
}
