//! The wrapper's terminal escape-sequence parser and the query arbiter built
//! on it (`wrapper/src/queries`), fed arbitrary bytes as the agent's output,
//! a viewer's input and local keys: no panic, no parse claiming more bytes
//! than it was given, no cursor report outside the PTY.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The wrapper's own source files, compiled into this target alone: the
// queries module is pure logic on bytes (it needs only `protocol`, `memchr`
// and `controls.rs`), and building the whole wrapper (rustls, tokio, a PTY
// layer) with fuzzing instrumentation would take many minutes. `fuzzing.rs` holds the checks;
// the wrapper's unit tests run them too.
#[allow(dead_code)]
#[path = "../../wrapper/src/controls.rs"]
mod controls;
#[path = "../../wrapper/src/fuzzing.rs"]
mod fuzzing;
#[allow(dead_code)]
#[path = "../../wrapper/src/queries/mod.rs"]
mod queries;

fuzz_target!(|data: &[u8]| fuzzing::escape_sequences(data));
