//! Text from the relay (its API's error texts, close reasons, refusal
//! bodies) made safe to print on the person's terminal.
//!
//! A terminal obeys the control characters it is sent: a relay at a wrong
//! URL could otherwise set the window title, write to the clipboard
//! (OSC 52), or hide and rewrite lines. [`printable`] escapes every control
//! character — C0 (tab and newline included: a server's text is one line),
//! DEL, C1 — and the Unicode bidirectional overrides, as `\xNN` / `\u{NNNN}`.
//! The session id is not printed as text at all unless it is a UUID (see
//! `api`). Every line tether prints goes through [`notice`] or
//! [`printable`]; the error types apply it where server text enters them,
//! so that the log file gets the escaped text too.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Longest server text kept: an error body is a sentence, not a page.
const MAX_CHARS: usize = 300;

/// `text` with control characters escaped: an OSC 52 clipboard write
/// `ESC ] 52 ; c ; … BEL` comes out as the visible text `\x1b]52;c;…\x07`.
/// Escaping twice changes nothing more.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if u32::from(c) < 0x100 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Text the relay sent, as tether keeps it for its messages and its log:
/// [`printable`], and cut to a few hundred characters.
pub fn server_text(text: &str) -> String {
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", printable(&text[..cut])),
        None => printable(text).into_owned(),
    }
}

/// Whether a terminal could take `c` as a command rather than a character:
/// C0 controls (ESC among them), DEL, C1 controls, and the bidirectional
/// embeddings, overrides and isolates that reorder what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Prints `tether: LINE` on stderr, the line made [`printable`].
pub fn notice(line: &str) {
    eprintln!("tether: {}", printable(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        let text = "the Tether API refused the request (HTTP 429): too many sessions — ünïcode";
        assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn every_control_character_is_escaped() {
        assert_eq!(
            printable("a\x1b]52;c;aGk=\x07b\x1b[2Jc\r\nd\te\x7ff\u{9b}31mg\u{202e}h"),
            r"a\x1b]52;c;aGk=\x07b\x1b[2Jc\x0d\x0ad\x09e\x7ff\x9b31mg\u{202e}h"
        );
        for c in (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32) {
            let escaped = printable(&c.to_string()).into_owned();
            assert!(!escaped.chars().any(char::is_control), "{c:?}: {escaped:?}");
        }
    }

    #[test]
    fn server_text_is_escaped_and_cut() {
        let long = "x".repeat(10_000);
        let cut = server_text(&long);
        assert_eq!(cut.chars().count(), MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(server_text("a\x1bb"), r"a\x1bb");
        assert_eq!(
            printable(&server_text("a\x1bb")),
            r"a\x1bb",
            "escaping twice"
        );
    }
}
