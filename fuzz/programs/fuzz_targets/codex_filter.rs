//! The relay's ESC[J filter for replayed Codex history
//! (`relay-dev/src/session/strip.rs`): it never panics, never adds bytes, and
//! gives the same output however the input is split into chunks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_dev::fuzzing::EraseInDisplayFilter;

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
