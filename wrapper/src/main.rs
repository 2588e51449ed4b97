//! `tether`: runs a coding agent in a pseudo-terminal and streams it to a relay.
#![forbid(unsafe_code)]

fn main() {
    wrapper::install_panic_hook();
    let cli = wrapper::cli::parse(std::env::args_os());
    let code = match wrapper::app::run(cli) {
        Ok(code) => code,
        Err(fatal) => {
            wrapper::restore_terminal();
            eprintln!("tether: {}", fatal.message);
            fatal.code
        }
    };
    wrapper::restore_terminal();
    std::process::exit(code);
}
