//! Small building blocks shared by the pages.

mod key_bar;
mod key_form;
mod message_log;
mod qr_code;
mod share_dialog;
mod status_badge;

pub use key_bar::KeyBar;
pub use key_form::ApiKeyForm;
pub use message_log::MessageLog;
pub use qr_code::QrCode;
pub use share_dialog::ShareDialog;
pub use status_badge::StatusBadge;
