//! Finding the control characters in terminal output fast: the agent's
//! output is read by the query arbiter and the attention rule, and most of
//! it is text between a few controls (CR, LF, ESC). Skipping the text a
//! block at a time, rather than through a state machine byte by byte, keeps
//! that reading cheap (issue 12: it was a third of `tether`'s CPU per MB).

/// Whether `byte` is a C0 control character or DEL (everything else, UTF-8
/// included, is text that takes the terminal's ground state nowhere).
pub(crate) fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
}

/// The index of the first control character (C0 or DEL) in `bytes`.
pub(crate) fn first_control(bytes: &[u8]) -> Option<usize> {
    // Whole blocks are checked without branches (the compiler vectorizes
    // this form: about 5× faster than a search byte by byte); the block
    // holding the first control is then searched.
    const BLOCK: usize = 16;
    let mut start = 0;
    for block in bytes.chunks_exact(BLOCK) {
        let mut any = 0u8;
        for &b in block {
            any |= u8::from(b < 0x20) | u8::from(b == 0x7f);
        }
        if any != 0 {
            break;
        }
        start += BLOCK;
    }
    bytes[start..]
        .iter()
        .position(|&b| is_control(b))
        .map(|i| start + i)
}

/// Terminal cells `text` (no controls in it) takes, one per character:
/// UTF-8 continuation bytes take none (wide characters count as one).
pub(crate) fn cells(text: &[u8]) -> usize {
    // ASCII only (most output): one cell a byte, found with one pass that
    // vectorizes.
    if text.iter().fold(0u8, |any, &b| any | b) < 0x80 {
        return text.len();
    }
    text.iter()
        .filter(|&&b| !(0x80..=0xbf).contains(&b))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn first_control_finds_the_first(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            prop_assert_eq!(first_control(&bytes), bytes.iter().position(|&b| is_control(b)));
        }

        #[test]
        fn cells_count_characters(text in "[a-zé中]{0,40}") {
            prop_assert_eq!(cells(text.as_bytes()), text.chars().count());
        }
    }

    #[test]
    fn text_long_and_short() {
        let mut text = vec![b'x'; 70];
        assert_eq!(first_control(&text), None);
        text.extend_from_slice(b"\r\n");
        assert_eq!(first_control(&text), Some(70));
        assert_eq!(first_control(b"\x7f"), Some(0));
        assert_eq!(cells("é".as_bytes()), 1);
        assert_eq!(cells(b"abc"), 3);
    }
}
