//! `tether`: runs a coding agent in a pseudo-terminal and streams it to a relay.
#![forbid(unsafe_code)]

fn main() {
    wrapper::install_panic_hook();
    let result = match wrapper::cli::parse_command(std::env::args_os()) {
        wrapper::cli::Command::Run(cli) => wrapper::app::run(*cli),
        wrapper::cli::Command::Record(command) => wrapper::app::download_recording(&command),
        wrapper::cli::Command::Share(args) => wrapper::app::share::run(*args),
    };
    let code = match result {
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
