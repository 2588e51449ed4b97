//! Reading cursor position reports back out of bytes, for the checks that
//! no report outside the PTY ever reaches the agent (the unit tests and the
//! `escape_sequences` fuzz target).

/// The (row, col) of every cursor position report (`ESC [ row ; col R`, or
/// `ESC [ ? row ; col R`) in `bytes`; a number too large for a `u32` counts
/// as `u32::MAX`, a missing one as 0 (both outside any PTY).
pub(crate) fn cursor_reports(bytes: &[u8]) -> Vec<(u32, u32)> {
    let number = |digits: &[u8]| {
        digits.iter().fold(0u32, |n, d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        })
    };
    let mut found = Vec::new();
    let mut rest = bytes;
    while let Some(at) = rest.windows(2).position(|w| w == b"\x1b[") {
        rest = &rest[at + 2..];
        let body = rest.strip_prefix(b"?").unwrap_or(rest);
        let end = body
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'));
        let Some(end) = end.filter(|&end| body[end] == b'R') else {
            continue;
        };
        let mut numbers = body[..end].split(|b| *b == b';').map(number);
        if let (Some(row), Some(col)) = (numbers.next(), numbers.next()) {
            found.push((row, col));
        }
    }
    found
}
