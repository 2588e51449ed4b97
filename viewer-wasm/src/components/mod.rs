//! Small building blocks shared by the pages.

mod attention_banner;
mod kept_list;
mod key_bar;
mod key_form;
mod message_log;
mod notify_toggle;
mod playback;
mod qr_code;
mod search_bar;
mod share_dialog;
mod status_badge;

pub use attention_banner::AttentionBanner;
pub use kept_list::KeptList;
pub use key_bar::KeyBar;
pub use key_form::ApiKeyForm;
pub use message_log::MessageLog;
pub use notify_toggle::NotifyToggle;
pub use playback::Playback;
pub use qr_code::QrCode;
pub use search_bar::{use_find_shortcut, SearchBar};
pub use share_dialog::ShareDialog;
pub use status_badge::StatusBadge;
