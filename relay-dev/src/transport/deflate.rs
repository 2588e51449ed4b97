//! Compression of what goes to viewers that asked for it (`compress=deflate`
//! beside `protocol=tether.v1`): each message of frames becomes one DEFLATED
//! envelope (protocol type 7) when that makes it smaller; small messages
//! (keystroke echoes) go plain. Viewers that did not ask, and legacy peers,
//! never reach this code.
//!
//! One compressor per runtime thread, reused for every message (about
//! 300 KiB each): a compressing viewer costs CPU while it is sent something,
//! and no memory of its own.

use std::cell::RefCell;

use protocol::deflate::Deflater;

thread_local! {
    static DEFLATER: RefCell<Deflater> = RefCell::new(Deflater::default());
}

/// `message` as a DEFLATED envelope when that is smaller, else as it is.
pub(super) fn deflated(message: Vec<u8>) -> Vec<u8> {
    DEFLATER
        .with(|deflater| deflater.borrow_mut().deflate(&message))
        .unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use protocol::deflate::{inflate, is_deflated, MAX_INFLATED};
    use protocol::Frame;

    use super::deflated;

    #[test]
    fn large_messages_shrink_and_small_ones_stay_plain() {
        let big = Frame::Output(b"\x1b[32mok\x1b[0m compiled\r\n".repeat(500)).to_bytes();
        let sent = deflated(big.clone());
        assert!(is_deflated(&sent) && sent.len() < big.len() / 5);
        assert_eq!(inflate(&sent, MAX_INFLATED).unwrap(), big);
        let echo = Frame::Output(b"a".to_vec()).to_bytes();
        assert_eq!(deflated(echo.clone()), echo);
    }
}
