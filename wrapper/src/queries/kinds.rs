//! Which escape sequences are terminal queries, and which are the replies
//! that answer them.

use super::sequence::Sequence;

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

/// The query a sequence in the agent's output asks, if it is one.
pub(super) fn query_kind(seq: &Sequence) -> Option<QueryKind> {
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
pub(super) fn reply_kind(seq: &Sequence) -> Option<QueryKind> {
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
