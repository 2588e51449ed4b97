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
mod sequence;

use crate::terminal::Size;
use cursor::CursorTracker;
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

/// What a query asks (and so which replies answer it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// Cursor position report, `ESC[6n` → `ESC[row;colR`.
    CursorPosition,
    /// Primary device attributes, `ESC[c` → `ESC[?…c`.
    PrimaryAttributes,
    /// Secondary device attributes, `ESC[>c` → `ESC[>…c`.
    SecondaryAttributes,
    /// Terminal name and version, `ESC[>0q` → `DCS >| … ST`.
    Version,
    /// Mode report, `ESC[?Ps$p` → `ESC[?Ps;Pm$y` (private) or without `?`.
    Mode {
        /// The DEC-private flag (`?`).
        private: bool,
        /// The mode number.
        mode: u16,
    },
    /// Device status, `ESC[5n` → `ESC[0n`.
    Status,
    /// Keyboard protocol flags, `ESC[?u` → `ESC[?flagsu`.
    KeyboardFlags,
    /// A dynamic colour, `OSC 10/11/12 ; ?` → `OSC 10/11/12 ; rgb:…`.
    Color(u16),
}

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
        Self {
            size,
            local_attached,
            pending: VecDeque::new(),
            answered: VecDeque::new(),
            carry: Vec::new(),
            cursor: CursorTracker::new(size),
        }
    }

    /// Whether a local terminal answers queries.
    pub fn local_attached(&self) -> bool {
        self.local_attached
    }

    /// The PTY's size changed.
    pub fn set_pty_size(&mut self, size: Size) {
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
            let Some(esc) = input[pos..].iter().position(|&b| b == 0x1b) else {
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

/// The query a sequence in the agent's output asks, if it is one.
fn query_kind(seq: &Sequence) -> Option<QueryKind> {
    match (
        seq.introducer,
        seq.private,
        seq.intermediates.as_slice(),
        seq.final_byte,
    ) {
        (b'[', None | Some(b'?'), [], b'n') if seq.params == b"6" => {
            Some(QueryKind::CursorPosition)
        }
        (b'[', None, [], b'n') if seq.params == b"5" => Some(QueryKind::Status),
        (b'[', None, [], b'c') if seq.first_number() == 0 => Some(QueryKind::PrimaryAttributes),
        (b'[', Some(b'>'), [], b'c') if seq.first_number() == 0 => {
            Some(QueryKind::SecondaryAttributes)
        }
        (b'[', Some(b'>'), [], b'q') if seq.first_number() == 0 => Some(QueryKind::Version),
        (b'[', private @ (None | Some(b'?')), [b'$'], b'p') => Some(QueryKind::Mode {
            private: private.is_some(),
            mode: seq.first_number(),
        }),
        (b'[', Some(b'?'), [], b'u') if seq.params.is_empty() => Some(QueryKind::KeyboardFlags),
        (b']', ..) => osc_color(&seq.params, true),
        _ => None,
    }
}

/// The query a sequence in the input answers, if it is a reply.
fn reply_kind(seq: &Sequence) -> Option<QueryKind> {
    match (
        seq.introducer,
        seq.private,
        seq.intermediates.as_slice(),
        seq.final_byte,
    ) {
        (b'[', None | Some(b'?'), [], b'R') if seq.numbers().len() >= 2 => {
            Some(QueryKind::CursorPosition)
        }
        (b'[', None, [], b'n') if matches!(seq.params.as_slice(), b"0" | b"3") => {
            Some(QueryKind::Status)
        }
        (b'[', Some(b'?'), [], b'c') => Some(QueryKind::PrimaryAttributes),
        (b'[', Some(b'>'), [], b'c') => Some(QueryKind::SecondaryAttributes),
        (b'[', private @ (None | Some(b'?')), [b'$'], b'y') => Some(QueryKind::Mode {
            private: private.is_some(),
            mode: seq.first_number(),
        }),
        (b'[', Some(b'?'), [], b'u') if !seq.params.is_empty() => Some(QueryKind::KeyboardFlags),
        (b'P', ..) if seq.params.starts_with(b">|") => Some(QueryKind::Version),
        (b']', ..) => osc_color(&seq.params, false),
        _ => None,
    }
}

/// `10;?` (a query) or `10;rgb:…` (a reply) for the dynamic colours 10–12.
fn osc_color(payload: &[u8], query: bool) -> Option<QueryKind> {
    let text = std::str::from_utf8(payload).ok()?;
    let (number, value) = text.split_once(';')?;
    let number: u16 = number.parse().ok()?;
    if !(10..=12).contains(&number) {
        return None;
    }
    (query == (value == "?")).then_some(QueryKind::Color(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arbiter(local: bool) -> (QueryArbiter, Instant) {
        (QueryArbiter::new(Size::new(24, 80), local), Instant::now())
    }

    #[test]
    fn with_a_local_terminal_only_its_answer_is_forwarded() {
        let (mut q, t0) = arbiter(true);
        assert!(q.observe_output(b"hello\x1b[6n", t0));
        // A viewer answers first: dropped.
        assert_eq!(q.viewer_input(b"\x1b[3;7R", t0), b"");
        // The local terminal's answer goes through.
        assert_eq!(q.local_input(b"\x1b[1;6R", t0), b"\x1b[1;6R");
        // A second viewer's late copy: dropped. Its typing is not.
        assert_eq!(q.viewer_input(b"\x1b[1;6Rls\r", t0), b"ls\r");
        assert_eq!(
            q.next_deadline(),
            None,
            "no self-answers with a local terminal"
        );
    }

    #[test]
    fn without_local_terminal_first_viewer_wins() {
        let (mut q, t0) = arbiter(false);
        q.observe_output(b"\x1b[c\x1b]11;?\x07", t0);
        assert_eq!(q.viewer_input(b"\x1b[?62;22c", t0), b"\x1b[?62;22c");
        assert_eq!(q.viewer_input(b"\x1b[?1;2c", t0), b"", "duplicate DA1");
        let osc = b"\x1b]11;rgb:0000/0000/0000\x1b\\";
        assert_eq!(q.viewer_input(osc, t0), osc);
        assert_eq!(q.viewer_input(osc, t0), b"");
    }

    #[test]
    fn cursor_positions_are_clamped_to_the_pty() {
        let (mut q, t0) = arbiter(true);
        q.set_pty_size(Size::new(10, 40));
        q.observe_output(b"\x1b[6n", t0);
        assert_eq!(q.local_input(b"\x1b[55;120R", t0), b"\x1b[10;40R");
        q.observe_output(b"\x1b[?6n", t0);
        assert_eq!(q.local_input(b"\x1b[?0;3R", t0), b"\x1b[?1;3R");
    }

    #[test]
    fn keys_that_look_like_replies_pass_when_nothing_was_asked() {
        let (mut q, t0) = arbiter(true);
        // Ctrl+F3 in some encodings is ESC[1;5R.
        assert_eq!(q.local_input(b"\x1b[1;5R", t0), b"\x1b[1;5R");
        assert_eq!(q.viewer_input(b"a\x1b[Ab\x1b", t0), b"a\x1b[Ab\x1b");
        let (mut q, t0) = arbiter(false);
        assert_eq!(q.viewer_input(b"\x1b[1;5R", t0), b"\x1b[1;5R");
    }

    #[test]
    fn queries_split_across_chunks_are_seen() {
        let (mut q, t0) = arbiter(false);
        assert!(!q.observe_output(b"abc\x1b[", t0));
        assert!(q.observe_output(b"6n", t0));
        assert_eq!(q.viewer_input(b"\x1b[1;4R", t0), b"\x1b[1;4R");
    }

    #[test]
    fn nobody_answers_cpr_and_da1_so_the_wrapper_does() {
        let (mut q, t0) = arbiter(false);
        q.observe_output(b"line1\r\nab\x1b[6n\x1b[c\x1b[>0q", t0);
        assert_eq!(q.next_deadline(), Some(t0 + SELF_ANSWER_AFTER));
        assert_eq!(q.poll(t0 + Duration::from_millis(100)), b"");
        let answers = q.poll(t0 + SELF_ANSWER_AFTER);
        assert_eq!(answers, b"\x1b[2;3R\x1b[?1;2c");
        assert_eq!(q.next_deadline(), None);
        // A viewer's late answer is now a duplicate.
        assert_eq!(q.viewer_input(b"\x1b[2;3R", t0 + SELF_ANSWER_AFTER), b"");
    }

    #[test]
    fn mode_reports_match_their_mode() {
        let (mut q, t0) = arbiter(false);
        q.observe_output(b"\x1b[?2026$p", t0);
        assert_eq!(
            q.viewer_input(b"\x1b[?1004;2$y", t0),
            b"\x1b[?1004;2$y",
            "not the asked mode: passes as is"
        );
        assert_eq!(q.viewer_input(b"\x1b[?2026;2$y", t0), b"\x1b[?2026;2$y");
        assert_eq!(q.viewer_input(b"\x1b[?2026;2$y", t0), b"");
    }

    #[test]
    fn version_and_keyboard_queries() {
        let (mut q, t0) = arbiter(false);
        q.observe_output(b"\x1b[>0q\x1b[?u", t0);
        let version = b"\x1bP>|xterm.js(5.5.0)\x1b\\";
        assert_eq!(q.viewer_input(version, t0), version);
        assert_eq!(q.viewer_input(version, t0), b"");
        assert_eq!(q.viewer_input(b"\x1b[?0u", t0), b"\x1b[?0u");
    }

    #[test]
    fn pending_queries_expire() {
        let (mut q, t0) = arbiter(true);
        q.observe_output(b"\x1b[>c", t0);
        let later = t0 + PENDING_LIMIT + DUPLICATE_WINDOW;
        assert_eq!(
            q.viewer_input(b"\x1b[>0;276;0c", later),
            b"",
            "viewer replies still dropped with a local terminal"
        );
        assert_eq!(q.local_input(b"\x1b[>0;276;0c", later), b"\x1b[>0;276;0c");
    }

    #[test]
    fn a_flood_of_queries_stays_bounded() {
        let (mut q, t0) = arbiter(true);
        q.observe_output(&b"\x1b[6n".repeat(10_000), t0);
        assert_eq!(q.pending.len(), MAX_TRACKED);
    }

    #[test]
    fn parser_never_panics_on_garbage() {
        let mut seed = 7u64;
        let (mut q, t0) = arbiter(false);
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..32)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    [
                        0x1b, b'[', b']', b'?', b'6', b'n', b';', b'R', 0x07, b'\\', b'P', b'c',
                        b'x',
                    ][(seed >> 60) as usize % 13]
                })
                .collect();
            q.observe_output(&bytes, t0);
            let _ = q.viewer_input(&bytes, t0);
            let _ = q.local_input(&bytes, t0);
            let _ = q.poll(t0 + SELF_ANSWER_AFTER);
        }
    }
}
