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

use crate::terminal::Size;
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
/// Longest escape sequence carried over between output chunks.
const MAX_SEQUENCE: usize = 512;
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

/// A parsed escape sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sequence {
    /// `[` for CSI, `]` for OSC, `P` for DCS, or the byte after ESC.
    introducer: u8,
    /// CSI private marker (`?`, `>`, `<`, `=`).
    private: Option<u8>,
    /// CSI parameters (digits and `;`), or the OSC/DCS payload.
    params: Vec<u8>,
    /// CSI intermediate bytes (e.g. `$`).
    intermediates: Vec<u8>,
    /// CSI final byte (0 for OSC/DCS).
    final_byte: u8,
}

impl Sequence {
    fn numbers(&self) -> Vec<u16> {
        self.params
            .split(|&b| b == b';')
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    fn first_number(&self) -> u16 {
        self.numbers().first().copied().unwrap_or(0)
    }
}

enum Parsed {
    /// A whole sequence of this many bytes.
    Complete(usize, Sequence),
    /// The bytes end inside a sequence.
    Incomplete,
    /// ESC followed by something else: skip this many bytes.
    NotASequence(usize),
}

/// Parses the escape sequence at the start of `bytes` (which starts with ESC).
fn parse_sequence(bytes: &[u8]) -> Parsed {
    let Some(&introducer) = bytes.get(1) else {
        return Parsed::Incomplete;
    };
    match introducer {
        b'[' => parse_csi(bytes),
        b']' | b'P' => parse_string(bytes, introducer),
        0x20..=0x7e => Parsed::Complete(
            2,
            Sequence {
                introducer,
                private: None,
                params: Vec::new(),
                intermediates: Vec::new(),
                final_byte: 0,
            },
        ),
        _ => Parsed::NotASequence(1),
    }
}

fn parse_csi(bytes: &[u8]) -> Parsed {
    let mut i = 2;
    let private = match bytes.get(i) {
        Some(&b @ (b'?' | b'>' | b'<' | b'=')) => {
            i += 1;
            Some(b)
        }
        Some(_) => None,
        None => return Parsed::Incomplete,
    };
    let params_start = i;
    while let Some(&b) = bytes.get(i) {
        if !(b.is_ascii_digit() || b == b';' || b == b':') {
            break;
        }
        i += 1;
    }
    let params_end = i;
    while let Some(&b) = bytes.get(i) {
        if !(0x20..=0x2f).contains(&b) {
            break;
        }
        i += 1;
    }
    let intermediates_end = i;
    match bytes.get(i) {
        None if i < MAX_SEQUENCE => Parsed::Incomplete,
        Some(&final_byte) if (0x40..=0x7e).contains(&final_byte) => Parsed::Complete(
            i + 1,
            Sequence {
                introducer: b'[',
                private,
                params: bytes[params_start..params_end].to_vec(),
                intermediates: bytes[params_end..intermediates_end].to_vec(),
                final_byte,
            },
        ),
        // A malformed CSI: skip the ESC and let the rest pass as text.
        _ => Parsed::NotASequence(1),
    }
}

/// OSC and DCS: payload up to BEL or ST (`ESC \`).
fn parse_string(bytes: &[u8], introducer: u8) -> Parsed {
    let mut i = 2;
    while let Some(&b) = bytes.get(i) {
        let end = match b {
            0x07 => Some(i + 1),
            0x1b => match bytes.get(i + 1) {
                Some(b'\\') => Some(i + 2),
                Some(_) => return Parsed::NotASequence(1),
                None => return Parsed::Incomplete,
            },
            _ => None,
        };
        if let Some(end) = end {
            return Parsed::Complete(
                end,
                Sequence {
                    introducer,
                    private: None,
                    params: bytes[2..i].to_vec(),
                    intermediates: Vec::new(),
                    final_byte: 0,
                },
            );
        }
        if i >= MAX_SEQUENCE {
            return Parsed::NotASequence(1);
        }
        i += 1;
    }
    Parsed::Incomplete
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

/// A rough idea of where the agent's cursor is, from its output, for
/// answering CPR when no terminal does. It follows printable text, CR, LF,
/// BS, TAB and the common cursor movements; wide characters count as one cell.
#[derive(Debug, Clone)]
struct CursorTracker {
    size: Size,
    /// Zero-based row.
    row: u16,
    /// Zero-based column; equal to the width while a wrap is pending.
    col: u16,
    saved: (u16, u16),
}

impl CursorTracker {
    fn new(size: Size) -> Self {
        Self {
            size,
            row: 0,
            col: 0,
            saved: (0, 0),
        }
    }

    fn resize(&mut self, size: Size) {
        self.size = size;
        self.row = self.row.min(size.rows - 1);
        self.col = self.col.min(size.cols - 1);
    }

    /// One-based (row, col), as a CPR reports it.
    fn position(&self) -> (u16, u16) {
        (self.row + 1, self.col.min(self.size.cols - 1) + 1)
    }

    fn text(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\r' => self.col = 0,
                b'\n' | 0x0b | 0x0c => self.row = (self.row + 1).min(self.size.rows - 1),
                0x08 => self.col = self.col.min(self.size.cols - 1).saturating_sub(1),
                b'\t' => self.col = ((self.col / 8 + 1) * 8).min(self.size.cols - 1),
                // UTF-8 continuation bytes and other controls take no cell.
                0x80..=0xbf | 0x00..=0x1f | 0x7f => {}
                _ => {
                    if self.col >= self.size.cols {
                        self.col = 0;
                        self.row = (self.row + 1).min(self.size.rows - 1);
                    }
                    self.col += 1;
                }
            }
        }
    }

    fn sequence(&mut self, seq: &Sequence) {
        let (rows, cols) = (self.size.rows, self.size.cols);
        match (seq.introducer, seq.private) {
            (b'7', _) => self.saved = (self.row, self.col),
            (b'8', _) => (self.row, self.col) = self.saved,
            (b'[', None) => {
                let n = seq.numbers();
                let arg = |i: usize| n.get(i).copied().filter(|&v| v > 0).unwrap_or(1);
                let col = self.col.min(cols - 1);
                match seq.final_byte {
                    b'H' | b'f' => {
                        self.row = arg(0).min(rows) - 1;
                        self.col = arg(1).min(cols) - 1;
                    }
                    b'A' => self.row = self.row.saturating_sub(arg(0)),
                    b'B' | b'e' => self.row = (self.row + arg(0)).min(rows - 1),
                    b'C' | b'a' => self.col = col.saturating_add(arg(0)).min(cols - 1),
                    b'D' => self.col = col.saturating_sub(arg(0)),
                    b'E' => (self.row, self.col) = ((self.row + arg(0)).min(rows - 1), 0),
                    b'F' => (self.row, self.col) = (self.row.saturating_sub(arg(0)), 0),
                    b'G' | b'`' => self.col = arg(0).min(cols) - 1,
                    b'd' => self.row = arg(0).min(rows) - 1,
                    b's' => self.saved = (self.row, self.col),
                    b'u' => (self.row, self.col) = self.saved,
                    _ => {}
                }
            }
            _ => {}
        }
    }
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
    fn cursor_tracker_follows_common_moves() {
        let mut c = CursorTracker::new(Size::new(5, 10));
        c.text(b"0123456789X");
        assert_eq!(c.position(), (2, 2), "wrapped");
        c.sequence(&seq(b"[", b"3;4", b'H'));
        assert_eq!(c.position(), (3, 4));
        c.text("é\t".as_bytes());
        assert_eq!(c.position(), (3, 9));
        c.text(b"\n\n\n\n\r");
        assert_eq!(c.position(), (5, 1), "scrolls at the bottom");
        c.sequence(&seq(b"[", b"2", b'A'));
        c.sequence(&seq(b"[", b"99", b'C'));
        assert_eq!(c.position(), (3, 10));
    }

    fn seq(intro: &[u8], params: &[u8], final_byte: u8) -> Sequence {
        Sequence {
            introducer: intro[0],
            private: None,
            params: params.to_vec(),
            intermediates: Vec::new(),
            final_byte,
        }
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
