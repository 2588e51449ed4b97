//! The checks of the `escape_sequences` fuzz target: `fuzz/` compiles this
//! file and `queries/` into the target itself (they need only `protocol`),
//! and the unit tests below run the same checks. Keep it free of other
//! `crate::` paths.

use crate::queries::cursor_reports::cursor_reports;
use crate::queries::sequence::{parse_sequence, Parsed};
use crate::queries::QueryArbiter;
use protocol::Size;
use std::time::{Duration, Instant};

/// Runs the escape-sequence parser (`queries/sequence.rs`) at every ESC of
/// `data`, then the terminal-query arbiter built on it over `data` cut into
/// pieces, as the agent's output, a viewer's input and local keys. Panics
/// when the parser claims more bytes than it was given or none at all, or
/// when the wrapper's own cursor report lies outside the PTY.
pub fn escape_sequences(data: &[u8]) {
    parser(data);
    arbiter(data);
}

/// The parser alone, at every ESC.
fn parser(data: &[u8]) {
    for (at, _) in data.iter().enumerate().filter(|(_, &b)| b == 0x1b) {
        let rest = &data[at..];
        match parse_sequence(rest) {
            Parsed::Complete(len, sequence) => {
                assert!((2..=rest.len()).contains(&len), "complete: {len} bytes");
                let _ = sequence.numbers();
            }
            Parsed::NotASequence(len) => {
                assert!((1..=rest.len()).contains(&len), "skip: {len} bytes");
            }
            Parsed::Incomplete => {}
        }
    }
}

/// The arbiter over `data`: its first bytes choose where it is cut, the PTY's
/// size and whether a local terminal is attached.
fn arbiter(data: &[u8]) {
    let [cut, rows, cols, flags, rest @ ..] = data else {
        return;
    };
    let size = Size::new(u16::from(*rows), u16::from(*cols));
    let mut arbiter = QueryArbiter::new(size, flags & 1 == 1);
    let mut pty = Size::new(size.rows.max(1), size.cols.max(1));
    let start = Instant::now();
    let piece = usize::from(*cut).max(1);
    for (i, chunk) in rest.chunks(piece).enumerate() {
        let now = start + Duration::from_millis(100 * i as u64);
        arbiter.observe_output(chunk, now);
        let _ = arbiter.viewer_input(chunk, now);
        let _ = arbiter.local_input(chunk, now);
        if flags & 2 == 2 {
            // Turned on its side now and then: a saved cursor must follow.
            pty = Size::new(pty.cols, pty.rows);
            arbiter.set_pty_size(pty);
        }
        let own = arbiter.poll(now + Duration::from_secs(1));
        assert_cursor_inside(&own, pty);
    }
}

/// Every cursor position report in `replies` is inside `pty`.
fn assert_cursor_inside(replies: &[u8], pty: Size) {
    for (row, col) in cursor_reports(replies) {
        assert!(
            (1..=u32::from(pty.rows)).contains(&row) && (1..=u32::from(pty.cols)).contains(&col),
            "the wrapper reported the cursor at {row};{col} in a {pty} PTY"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_sequences_pass() {
        for data in [
            &b""[..],
            b"\x1b",
            b"\x03\x18\x50\x00hello \x1b[6n\x1b[c\x1b]11;?\x07\x1b[?2004$p\x1b[12;40R",
            b"\x01\x01\x01\x00\x1b[6n\x1b[999;999H\x1b[6n",
            b"\x02\x00\x00\x02\x1b]52;c;aGk=\x1b\\\x1bP+q\x1b\x1b[",
        ] {
            escape_sequences(data);
        }
        escape_sequences(&[&b"\x07\x10\x10\x00\x1b["[..], &[b'9'; 2000], b"m"].concat());
    }

    proptest! {
        #[test]
        fn any_bytes_pass(data in proptest::collection::vec(
            prop_oneof![Just(0x1bu8), Just(b'['), Just(b']'), Just(b';'), Just(0x07), any::<u8>()],
            0..600,
        )) {
            escape_sequences(&data);
        }
    }
}
