//! Terminal queries and their replies: exactly one answer per query.
//!
//! Agents ask their terminal questions — cursor position `ESC[6n`, device
//! attributes `ESC[c` / `ESC[>c`, version `ESC[>0q`, mode reports
//! `ESC[?…$p`, colours `OSC 10;?` / `OSC 11;?`, status `ESC[5n`, keyboard
//! flags `ESC[?u`. Behind tether, the local terminal *and* every viewer see
//! the question and each answers. [`QueryArbiter`] forwards one answer:
//!
//! * with a local terminal attached, the local terminal's (viewers' replies
//!   are dropped);
//! * otherwise the first viewer's; later copies of the same reply are dropped;
//! * cursor positions are clamped to the PTY's size;
//! * with nobody answering, CPR and DA1 are answered by the wrapper itself
//!   after [`SELF_ANSWER_AFTER`] (the cursor is tracked roughly from the output).
//!
//! Pure logic: callers pass `now` and bytes, and write what it returns.

mod cursor;
#[cfg(any(test, fuzzing))]
pub(crate) mod cursor_reports;
mod kinds;
// Crate-visible for the fuzz checks (`crate::fuzzing`). The
// `escape_sequences` fuzz target compiles this folder into itself: keep it
// free of `crate::` paths (its tests aside).
pub(crate) mod sequence;

use cursor::CursorTracker;
use kinds::QueryKind;
use kinds::{query_kind, reply_kind};
use protocol::Size;
use sequence::{parse_sequence, Parsed, Sequence, MAX_SEQUENCE};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long a query waits for a viewer before the wrapper answers it itself.
pub const SELF_ANSWER_AFTER: Duration = Duration::from_millis(500);
/// How long a query stays pending without an answer.
const PENDING_LIMIT: Duration = Duration::from_secs(5);
/// How long after an answer further replies of that kind count as duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(3);
/// Most queries (and recent answers) remembered; older ones are forgotten.
const MAX_TRACKED: usize = 256;
/// The wrapper's own device-attributes reply: a VT100 with advanced video.
const DA1_REPLY: &[u8] = b"\x1b[?1;2c";

/// Where a reply came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Local,
    Viewer,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    kind: QueryKind,
    asked_at: Instant,
}

/// Whether bytes read from the local terminal hold something the person
/// typed (keys, a paste, a mouse click) rather than only the terminal's own
/// answers: replies to queries and focus reports (`ESC[I`, `ESC[O`) do not
/// count, nor does a sequence cut off at the end of the read (the start of a
/// reply, most likely); a lone ESC at the end is the Esc key and does.
pub fn typed(bytes: &[u8]) -> bool {
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(esc) = bytes[pos..].iter().position(|&b| b == 0x1b) else {
            return true;
        };
        if esc > 0 {
            return true;
        }
        match parse_sequence(&bytes[pos..]) {
            Parsed::Complete(len, seq) => {
                if reply_kind(&seq).is_none() && !is_focus_report(&seq) {
                    return true;
                }
                pos += len;
            }
            Parsed::Incomplete => return bytes.len() - pos == 1,
            Parsed::NotASequence(_) => return true,
        }
    }
    false
}

/// `ESC[I` / `ESC[O`: the terminal gained or lost focus (mode 1004).
fn is_focus_report(seq: &Sequence) -> bool {
    seq.introducer == b'['
        && seq.private.is_none()
        && seq.params.is_empty()
        && seq.intermediates.is_empty()
        && matches!(seq.final_byte, b'I' | b'O')
}

/// Decides which replies to terminal queries reach the agent.
#[derive(Debug)]
pub struct QueryArbiter {
    size: Size,
    local_attached: bool,
    pending: VecDeque<Pending>,
    answered: VecDeque<(QueryKind, Instant)>,
    carry: Vec<u8>,
    cursor: CursorTracker,
}

impl QueryArbiter {
    /// An arbiter for a PTY of `size`; `local_attached` when a local terminal
    /// is there to answer.
    pub fn new(size: Size, local_attached: bool) -> Self {
        let size = size.at_least_one();
        Self {
            size,
            local_attached,
            pending: VecDeque::new(),
            answered: VecDeque::new(),
            carry: Vec::new(),
            cursor: CursorTracker::new(size),
        }
    }

    /// The PTY's size changed.
    pub fn set_pty_size(&mut self, size: Size) {
        let size = size.at_least_one();
        self.size = size;
        self.cursor.resize(size);
    }

    /// Looks at the agent's output for queries (also split across chunks).
    /// Returns true when a new query is pending.
    pub fn observe_output(&mut self, bytes: &[u8], now: Instant) -> bool {
        let mut found = false;
        let data: Vec<u8>;
        let input = if self.carry.is_empty() {
            bytes
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(bytes);
            data = joined;
            &data[..]
        };
        let track_cursor = !self.local_attached;
        let mut pos = 0;
        while pos < input.len() {
            let Some(esc) = memchr::memchr(0x1b, &input[pos..]) else {
                if track_cursor {
                    self.cursor.text(&input[pos..]);
                }
                break;
            };
            if track_cursor {
                self.cursor.text(&input[pos..pos + esc]);
            }
            pos += esc;
            match parse_sequence(&input[pos..]) {
                Parsed::Complete(len, seq) => {
                    if track_cursor {
                        self.cursor.sequence(&seq);
                    }
                    if let Some(kind) = query_kind(&seq) {
                        tracing::debug!(?kind, "terminal query");
                        self.pending.push_back(Pending {
                            kind,
                            asked_at: now,
                        });
                        found = true;
                    }
                    pos += len;
                }
                Parsed::Incomplete => {
                    let rest = &input[pos..];
                    if rest.len() <= MAX_SEQUENCE {
                        self.carry = rest.to_vec();
                    }
                    break;
                }
                Parsed::NotASequence(len) => pos += len,
            }
        }
        self.expire(now);
        found
    }

    /// Bytes typed on the local keyboard (including the local terminal's
    /// replies): forwarded unchanged except that a cursor position reply is
    /// clamped to the PTY.
    pub fn local_input(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        self.filter_input(bytes, Source::Local, now)
    }

    /// Bytes from a viewer: its replies are forwarded only when they are the
    /// first answer to a pending query and no local terminal answers.
    pub fn viewer_input(&mut self, bytes: &[u8], now: Instant) -> Vec<u8> {
        self.filter_input(bytes, Source::Viewer, now)
    }

    /// Replies the wrapper gives itself now (CPR and DA1 nobody answered).
    pub fn poll(&mut self, now: Instant) -> Vec<u8> {
        let mut out = Vec::new();
        if self.local_attached {
            self.expire(now);
            return out;
        }
        while let Some(index) = self.pending.iter().position(|p| {
            now.duration_since(p.asked_at) >= SELF_ANSWER_AFTER
                && matches!(
                    p.kind,
                    QueryKind::CursorPosition | QueryKind::PrimaryAttributes
                )
        }) {
            let pending = self.pending.remove(index).expect("index is valid");
            match pending.kind {
                QueryKind::CursorPosition => {
                    let (row, col) = self.cursor.position();
                    out.extend_from_slice(format!("\x1b[{row};{col}R").as_bytes());
                }
                _ => out.extend_from_slice(DA1_REPLY),
            }
            self.answered.push_back((pending.kind, now));
        }
        self.expire(now);
        out
    }

    /// When [`poll`](Self::poll) should run next (a self-answer is due).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.local_attached {
            return None;
        }
        self.pending
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    QueryKind::CursorPosition | QueryKind::PrimaryAttributes
                )
            })
            .map(|p| p.asked_at + SELF_ANSWER_AFTER)
            .min()
    }

    fn filter_input(&mut self, bytes: &[u8], source: Source, now: Instant) -> Vec<u8> {
        self.expire(now);
        let mut out = Vec::with_capacity(bytes.len());
        let mut pos = 0;
        while pos < bytes.len() {
            let Some(esc) = bytes[pos..].iter().position(|&b| b == 0x1b) else {
                out.extend_from_slice(&bytes[pos..]);
                break;
            };
            out.extend_from_slice(&bytes[pos..pos + esc]);
            pos += esc;
            match parse_sequence(&bytes[pos..]) {
                Parsed::Complete(len, seq) => {
                    let raw = &bytes[pos..pos + len];
                    match reply_kind(&seq) {
                        Some(kind) => self.route_reply(kind, &seq, raw, source, now, &mut out),
                        None => out.extend_from_slice(raw),
                    }
                    pos += len;
                }
                // Keys such as a lone ESC, or a sequence split across reads:
                // never held back.
                Parsed::Incomplete => {
                    out.extend_from_slice(&bytes[pos..]);
                    break;
                }
                Parsed::NotASequence(len) => {
                    out.extend_from_slice(&bytes[pos..pos + len]);
                    pos += len;
                }
            }
        }
        out
    }

    fn route_reply(
        &mut self,
        kind: QueryKind,
        seq: &Sequence,
        raw: &[u8],
        source: Source,
        now: Instant,
        out: &mut Vec<u8>,
    ) {
        let pending = self.pending.iter().position(|p| p.kind == kind);
        let recently_answered = self
            .answered
            .iter()
            .any(|(k, at)| *k == kind && now.duration_since(*at) < DUPLICATE_WINDOW);
        tracing::debug!(
            ?kind,
            ?source,
            pending = pending.is_some(),
            recently_answered,
            "terminal reply"
        );
        let is_ours = match source {
            Source::Local => true,
            Source::Viewer => !self.local_attached,
        };
        match pending {
            Some(index) if is_ours => {
                self.pending.remove(index);
                self.answered.push_back((kind, now));
                out.extend_from_slice(&self.clamped(kind, seq, raw));
            }
            // Another source's copy of an answer: drop it.
            Some(_) => {}
            None if recently_answered => {}
            // Not an answer to anything: a key that looks like one (e.g.
            // `ESC[1;5R` is also Ctrl+F3), or a reply to a query we missed.
            None => {
                if source == Source::Local || !self.local_attached {
                    out.extend_from_slice(raw);
                }
            }
        }
    }

    /// A CPR reply moved inside the PTY; other replies unchanged.
    fn clamped(&self, kind: QueryKind, seq: &Sequence, raw: &[u8]) -> Vec<u8> {
        if kind != QueryKind::CursorPosition {
            return raw.to_vec();
        }
        let params = seq.numbers();
        let (row, col) = match params.as_slice() {
            [row, col, ..] => (*row, *col),
            _ => return raw.to_vec(),
        };
        let row = row.clamp(1, self.size.rows);
        let col = col.clamp(1, self.size.cols);
        let marker = if seq.private == Some(b'?') { "?" } else { "" };
        format!("\x1b[{marker}{row};{col}R").into_bytes()
    }

    fn expire(&mut self, now: Instant) {
        while self.pending.len() > MAX_TRACKED {
            self.pending.pop_front();
        }
        while self.answered.len() > MAX_TRACKED {
            self.answered.pop_front();
        }
        self.pending
            .retain(|p| now.duration_since(p.asked_at) < PENDING_LIMIT);
        self.answered
            .retain(|(_, at)| now.duration_since(*at) < DUPLICATE_WINDOW);
    }
}

#[cfg(test)]
mod tests;
