//! Feeds arbitrary bytes to the JSON payload parsers (CONTROL and METADATA
//! frames): neither may panic, and whatever parses re-encodes and parses to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{Control, Frame, Metadata};

fuzz_target!(|data: &[u8]| {
    if let Ok(control) = serde_json::from_slice::<Control>(data) {
        let frame = Frame::Control(control);
        let again = protocol::decode_message(&frame.to_bytes(), usize::MAX)
            .expect("an encoded control event decodes");
        assert_eq!(again, [frame]);
    }
    if let Ok(metadata) = serde_json::from_slice::<Metadata>(data) {
        let json = serde_json::to_vec(&metadata).expect("metadata encodes");
        let again: Metadata = serde_json::from_slice(&json).expect("encoded metadata parses");
        assert_eq!(again, metadata);
    }
});
