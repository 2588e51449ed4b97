//! Feeds arbitrary bytes, in chunks of a fuzzed size, to the decoder: it never
//! panics, never yields a payload over its maximum, and every frame it yields
//! re-encodes to bytes that decode to the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{Decoder, Frame};

const MAX_PAYLOAD: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_len, bytes)) = data.split_first() else {
        return;
    };
    let mut decoder = Decoder::new(MAX_PAYLOAD);
    for chunk in bytes.chunks(usize::from(chunk_len).max(1)) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if let Frame::Output(payload) | Frame::Input(payload) = &frame {
                        assert!(payload.len() <= MAX_PAYLOAD);
                    }
                    let wire = frame.to_bytes();
                    let again = protocol::decode_message(&wire, usize::MAX)
                        .expect("an encoded frame decodes");
                    assert_eq!(again, [frame]);
                }
                Ok(None) => break,
                Err(err) if err.is_recoverable() => {}
                Err(_) => return,
            }
        }
    }
});
