//! Recordings in asciicast v3, asciinema 3's format: a JSON header line, then
//! one `[interval, code, data]` line per event, the interval being seconds
//! since the previous event.
//!
//! [`Header`] writes the first line; [`EventWriter`] writes events from
//! absolute times (microseconds since the recording's start) and turns the
//! output's bytes into JSON text: a UTF-8 sequence split between two chunks
//! is carried to the next, an invalid byte becomes U+FFFD (a JSON string
//! cannot hold it). [`parse_event`] reads an event line back.
//!
//! ```
//! use protocol::asciicast::{EventWriter, Header};
//! use protocol::Size;
//!
//! let mut cast = Header::new(Size::new(24, 80)).line();
//! let mut events = EventWriter::default();
//! events.output(250_000, "h\u{e9}".as_bytes(), &mut cast);
//! events.exit(1_000_000, 0, &mut cast);
//! assert_eq!(
//!     cast,
//!     "{\"version\":3,\"term\":{\"cols\":80,\"rows\":24,\"type\":\"xterm-256color\"}}\n\
//!      [0.250000, \"o\", \"h\u{e9}\"]\n[0.750000, \"x\", \"0\"]\n"
//! );
//! ```

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::Size;

/// The media type of a recording.
pub const MEDIA_TYPE: &str = "application/x-asciicast";

/// A recording's first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The terminal's size when the recording starts.
    pub size: Size,
    /// Unix time (seconds) of the recording's start.
    pub timestamp: Option<u64>,
    /// The recorded command.
    pub command: Option<String>,
    /// A title (the session's name).
    pub title: Option<String>,
}

impl Header {
    /// A header for a terminal of `size`, with nothing else.
    pub fn new(size: Size) -> Self {
        Self {
            size,
            timestamp: None,
            command: None,
            title: None,
        }
    }

    /// The header as a JSON line (with its newline), `version` first.
    pub fn line(&self) -> String {
        let line = HeaderLine {
            version: 3,
            term: TermLine {
                cols: self.size.cols,
                rows: self.size.rows,
                kind: "xterm-256color",
            },
            timestamp: self.timestamp,
            command: self.command.as_deref(),
            title: self.title.as_deref(),
        };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// The header's fields in the order they are written.
#[derive(Serialize)]
struct HeaderLine<'a> {
    version: u8,
    term: TermLine,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

/// The header's `term`.
#[derive(Serialize)]
struct TermLine {
    cols: u16,
    rows: u16,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// Writes event lines, keeping the time of the previous event and the
/// unfinished UTF-8 sequences of the output and input streams.
#[derive(Debug, Default)]
pub struct EventWriter {
    /// Microseconds since the start of the previous event written.
    last: u64,
    output: Utf8Carry,
    input: Utf8Carry,
}

impl EventWriter {
    /// An `o` event: `bytes` the program printed at `at` µs. Writes nothing
    /// if the bytes only begin a UTF-8 sequence (they go with the next).
    pub fn output(&mut self, at: u64, bytes: &[u8], out: &mut String) {
        let text = self.output.decode(bytes);
        if !text.is_empty() {
            self.event(at, 'o', &text, out);
        }
    }

    /// An `i` event: `bytes` typed at `at` µs.
    pub fn input(&mut self, at: u64, bytes: &[u8], out: &mut String) {
        let text = self.input.decode(bytes);
        if !text.is_empty() {
            self.event(at, 'i', &text, out);
        }
    }

    /// An `r` event: the terminal took `size` at `at` µs.
    pub fn resize(&mut self, at: u64, size: Size, out: &mut String) {
        self.event(at, 'r', &format!("{}x{}", size.cols, size.rows), out);
    }

    /// An `m` event: a marker labelled `label` at `at` µs.
    pub fn marker(&mut self, at: u64, label: &str, out: &mut String) {
        self.event(at, 'm', label, out);
    }

    /// An `x` event: the program exited with `status` at `at` µs.
    pub fn exit(&mut self, at: u64, status: i32, out: &mut String) {
        self.event(at, 'x', &status.to_string(), out);
    }

    /// One event line. Times never go back: an earlier `at` than the
    /// previous event's is written as no time at all.
    fn event(&mut self, at: u64, code: char, data: &str, out: &mut String) {
        let interval = at.saturating_sub(self.last);
        self.last = self.last.max(at);
        let data = Value::String(data.to_string());
        let _ = writeln!(
            out,
            "[{}.{:06}, \"{code}\", {data}]",
            interval / 1_000_000,
            interval % 1_000_000
        );
    }
}

/// The bytes of a UTF-8 sequence that a chunk ended in the middle of.
#[derive(Debug, Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// The text of `bytes` after what was pending; an unfinished sequence at
    /// the end waits for the next call, invalid bytes become U+FFFD.
    fn decode(&mut self, bytes: &[u8]) -> String {
        let mut joined;
        let mut rest = if self.pending.is_empty() {
            bytes
        } else {
            joined = std::mem::take(&mut self.pending);
            joined.extend_from_slice(bytes);
            &joined[..]
        };
        let mut text = String::with_capacity(rest.len());
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    return text;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                        None => {
                            self.pending = after.to_vec();
                            return text;
                        }
                    }
                }
            }
        }
    }
}

/// One event read back from a recording.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `o`: output text.
    Output(String),
    /// `i`: input text.
    Input(String),
    /// `r`: the terminal's new size.
    Resize(Size),
    /// `m`: a marker and its label.
    Marker(String),
    /// `x`: the exit status.
    Exit(i32),
    /// An event code this reader does not know (players skip them).
    Other(String),
}

/// Why an event line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an asciicast v3 event: {0}")]
pub struct EventError(String);

/// Reads one event line: `Ok(None)` for a comment (`#…`) or an empty line,
/// else the interval in seconds and the event.
///
/// ```
/// use protocol::asciicast::{parse_event, Event};
/// use protocol::Size;
/// assert_eq!(
///     parse_event("[1.5, \"r\", \"100x30\"]").unwrap(),
///     Some((1.5, Event::Resize(Size::new(30, 100))))
/// );
/// assert_eq!(parse_event("# a comment").unwrap(), None);
/// ```
pub fn parse_event(line: &str) -> Result<Option<(f64, Event)>, EventError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let bad = |why: &str| EventError(why.to_string());
    let value: Value = serde_json::from_str(line).map_err(|e| EventError(e.to_string()))?;
    let [interval, code, data] = value
        .as_array()
        .and_then(|a| <&[Value; 3]>::try_from(a.as_slice()).ok())
        .ok_or_else(|| bad("not a 3-element array"))?;
    let interval = interval
        .as_f64()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .ok_or_else(|| bad("the interval is not a number of seconds"))?;
    let code = code
        .as_str()
        .ok_or_else(|| bad("the code is not a string"))?;
    let data = data
        .as_str()
        .ok_or_else(|| bad("the data is not a string"))?;
    let event = match code {
        "o" => Event::Output(data.to_string()),
        "i" => Event::Input(data.to_string()),
        "m" => Event::Marker(data.to_string()),
        "r" => {
            let (cols, rows) = data
                .split_once('x')
                .and_then(|(c, r)| Some((c.parse().ok()?, r.parse().ok()?)))
                .ok_or_else(|| bad("a resize is not COLSxROWS"))?;
            Event::Resize(Size::new(rows, cols))
        }
        "x" => Event::Exit(
            data.parse()
                .map_err(|_| bad("the exit status is not a number"))?,
        ),
        other => Event::Other(other.to_string()),
    };
    Ok(Some((interval, event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_split_between_chunks_is_joined_and_invalid_bytes_replaced() {
        let mut events = EventWriter::default();
        let mut out = String::new();
        let euro = "€".as_bytes();
        events.output(10, &euro[..1], &mut out);
        assert_eq!(out, "", "an unfinished sequence waits");
        events.output(20, &[euro[1], euro[2], b'!', 0xff, b'\x1b'], &mut out);
        assert_eq!(out, "[0.000020, \"o\", \"€!\u{fffd}\\u001b\"]\n");
    }

    #[test]
    fn intervals_are_since_the_previous_event_and_never_negative() {
        let mut events = EventWriter::default();
        let mut out = String::new();
        events.resize(1_500_000, Size::new(30, 100), &mut out);
        events.marker(1_000_000, "late", &mut out);
        events.input(3_000_001, b"ls\r", &mut out);
        let parsed: Vec<_> = out
            .lines()
            .map(|l| parse_event(l).unwrap().unwrap())
            .collect();
        assert_eq!(
            parsed,
            [
                (1.5, Event::Resize(Size::new(30, 100))),
                (0.0, Event::Marker("late".into())),
                (1.500001, Event::Input("ls\r".into())),
            ]
        );
    }

    #[test]
    fn the_header_carries_what_it_knows() {
        let header = Header {
            size: Size::new(24, 80),
            timestamp: Some(1_700_000_000),
            command: Some("claude".into()),
            title: Some("my \"fix\"".into()),
        };
        let value: Value = serde_json::from_str(&header.line()).unwrap();
        assert_eq!(value["version"], 3);
        assert_eq!(value["term"]["cols"], 80);
        assert_eq!(value["timestamp"], 1_700_000_000);
        assert_eq!(value["title"], "my \"fix\"");
    }

    #[test]
    fn bad_event_lines_are_errors() {
        for line in [
            "[1]",
            "{}",
            "[-1, \"o\", \"x\"]",
            "[1, \"r\", \"80\"]",
            "[1, \"x\", \"zero\"]",
            "nope",
        ] {
            assert!(parse_event(line).is_err(), "{line}");
        }
        assert_eq!(
            parse_event("[0.1, \"z\", \"\"]").unwrap(),
            Some((0.1, Event::Other("z".into())))
        );
    }
}
