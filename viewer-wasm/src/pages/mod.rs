//! The two pages: the session list (`/`) and a session's terminal (`/s/{id}`).

mod sessions;
mod terminal;

pub use sessions::SessionList;
pub use terminal::TerminalPage;
