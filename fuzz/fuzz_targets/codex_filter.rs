//! The relay's ESC[J filter for replayed Codex history: it never panics, never
//! adds bytes, and gives the same output however the input is split into
//! chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The relay's own source file, compiled into this target alone: building the
// whole relay (SQLite, rustls, axum) with fuzzing instrumentation would take
// many minutes for one pure, dependency-free module.
#[path = "../../relay-dev/src/session/strip.rs"]
mod strip;

use strip::EraseInDisplayFilter;

fn filter(chunks: &[&[u8]]) -> Vec<u8> {
    let mut filter = EraseInDisplayFilter::default();
    let mut out = Vec::new();
    for chunk in chunks {
        filter.push(chunk, &mut out);
    }
    filter.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let whole = filter(&[bytes]);
    assert!(whole.len() <= bytes.len(), "the filter only removes bytes");
    let pieces: Vec<&[u8]> = bytes.chunks(usize::from(split).max(1)).collect();
    assert_eq!(filter(&pieces), whole, "chunking changes nothing");
});
