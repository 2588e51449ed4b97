//! Feeds arbitrary bytes, in chunks of a fuzzed size, to the decoder: neither
//! decoding nor re-encoding what it yields may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_len, bytes)) = data.split_first() else {
        return;
    };
    let mut decoder = Decoder::new(64 * 1024);
    for chunk in bytes.chunks(usize::from(chunk_len).max(1)) {
        decoder.push(chunk);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let _ = frame.to_bytes();
                }
                Ok(None) => break,
                Err(err) if err.is_recoverable() => {}
                Err(_) => return,
            }
        }
    }
});
