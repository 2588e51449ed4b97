//! The pages: the session list (`/`), a session's terminal (`/s/{id}`) and
//! a recording (`/s/{id}/replay`).

mod replay;
mod sessions;
mod sign_in;
mod terminal;

pub use replay::ReplayPage;
pub use sessions::SessionList;
pub use terminal::TerminalPage;
