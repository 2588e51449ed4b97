//! `tether`: runs a coding agent in a pseudo-terminal and streams it to a relay.

fn main() {
    eprintln!(
        "tether {}: the wrapper is not built yet (issue 4)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
