//! `tether-relay`: relays terminal sessions between wrappers and browsers.

fn main() {
    eprintln!(
        "tether-relay {}: the relay is not built yet (issue 3)",
        env!("CARGO_PKG_VERSION")
    );
    std::process::exit(2);
}
