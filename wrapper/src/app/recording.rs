//! `tether record [SESSION_ID] -o FILE.cast`: downloads what the relay holds
//! of a session as asciicast v3, and `--record FILE.cast`'s recorder for a run.

use std::path::{Path, PathBuf};

use super::endpoints::Endpoints;
use super::Fatal;
use crate::api::ApiClient;
use crate::cli::{Cli, RecordCommand};
use crate::printable::printable;
use crate::recorder::Recorder;
use protocol::config::{self, Config};
use protocol::Size;

/// Downloads the recording into `command.output` (through a `.part` file
/// renamed at the end: a failed download leaves the old file alone).
pub fn download_recording(command: &RecordCommand) -> Result<i32, Fatal> {
    let home = config::tether_home().map_err(Fatal::setup)?;
    let config = Config::load(&home).map_err(Fatal::setup)?;
    let endpoints = Endpoints::resolve(&command.relay, &config);
    let key = (command.relay.key(&config))
        .ok_or_else(|| Fatal::setup("no API key: run `tether --auth` or pass --api-key"))?;
    let api = ApiClient::new(
        &endpoints.api_url,
        &key,
        command.relay.insecure_skip_tls_verify,
    );
    let session = match &command.session {
        Some(id) => id.clone(),
        None => api.latest_session().map_err(Fatal::setup)?,
    };
    let part = part_path(&command.output);
    let mut file = std::fs::File::create(&part)
        .map_err(|e| Fatal::setup(format!("cannot write {}: {e}", part.display())))?;
    let downloaded = api.download_recording(&session, &mut file);
    drop(file);
    let bytes = match downloaded {
        Ok(bytes) => bytes,
        Err(err) => {
            let _ = std::fs::remove_file(&part);
            return Err(Fatal::new(err, 1));
        }
    };
    std::fs::rename(&part, &command.output)
        .map_err(|e| Fatal::setup(format!("cannot write {}: {e}", command.output.display())))?;
    let path = command.output.display().to_string();
    eprintln!(
        "tether: session {session}'s recording ({bytes} bytes) saved to {} \
         (play it with `asciinema play`)",
        printable(&path)
    );
    Ok(0)
}

/// `FILE.part` beside `FILE`.
fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    path.with_file_name(name)
}

/// The recorder `--record` asks for (with `--record-input`, input too).
pub(super) fn recorder(cli: &Cli, size: Size, command: &str) -> Result<Option<Recorder>, Fatal> {
    let Some(path) = &cli.record else {
        return Ok(None);
    };
    Recorder::create(path, size, command, cli.name.as_deref(), cli.record_input)
        .map(Some)
        .map_err(|e| {
            Fatal::setup(format!(
                "cannot write the recording {}: {e}",
                path.display()
            ))
        })
}
