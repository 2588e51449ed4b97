//! Small building blocks shared by the pages.

mod key_bar;
mod key_form;
mod message_log;
mod status_badge;

pub use key_bar::KeyBar;
pub use key_form::ApiKeyForm;
pub use message_log::MessageLog;
pub use status_badge::StatusBadge;
