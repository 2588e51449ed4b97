//! `tether record`: the flags of the command that downloads a session's
//! recording from the relay.

use clap::Parser;
use std::path::PathBuf;

use super::{parse_session_id, RelayAccess};

/// `tether record [SESSION_ID] -o FILE.cast`: download a session's recording
/// (what the relay still holds of it) as asciicast v3.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(name = "tether record", version)]
pub struct RecordCommand {
    /// The session [default: your newest session]
    #[arg(value_name = "SESSION_ID", value_parser = parse_session_id)]
    pub session: Option<String>,

    /// Where to write the recording
    #[arg(short, long, value_name = "FILE.cast")]
    pub output: PathBuf,

    /// Which relay to reach, and with which key.
    #[command(flatten)]
    pub relay: RelayAccess,
}
