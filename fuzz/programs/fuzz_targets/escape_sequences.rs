//! The wrapper's terminal escape-sequence parser and the query arbiter built
//! on it (`wrapper/src/queries`), fed arbitrary bytes as the agent's output,
//! a viewer's input and local keys: no panic, no parse claiming more bytes
//! than it was given, no cursor report outside the PTY.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wrapper::fuzzing::escape_sequences(data));
