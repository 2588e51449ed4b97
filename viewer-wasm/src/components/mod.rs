//! Small building blocks shared by the pages.

mod key_bar;
mod key_form;
mod status_badge;

pub use key_bar::KeyBar;
pub use key_form::ApiKeyForm;
pub use status_badge::StatusBadge;
