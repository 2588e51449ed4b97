//! Small building blocks shared by the pages.

mod attention_banner;
mod key_bar;
mod key_form;
mod message_log;
mod notify_toggle;
mod qr_code;
mod share_dialog;
mod status_badge;

pub use attention_banner::AttentionBanner;
pub use key_bar::KeyBar;
pub use key_form::ApiKeyForm;
pub use message_log::MessageLog;
pub use notify_toggle::NotifyToggle;
pub use qr_code::QrCode;
pub use share_dialog::ShareDialog;
pub use status_badge::StatusBadge;
