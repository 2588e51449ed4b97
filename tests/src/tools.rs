//! The programs some tests need (tmux, Chromium, vi …): found in `PATH`, or
//! the test is skipped — loudly, and never silently counted as a pass when
//! `TETHER_REQUIRE_TOOLS=1` (as `scripts/test` sets): then it fails, naming
//! what is missing.
//!
//! ```no_run
//! #[test]
//! fn in_a_real_terminal() {
//!     if !tests::tools::require_tool("tmux") {
//!         return; // skipped, with a note on stderr
//!     }
//!     // …
//! }
//! ```

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The variable that turns every skip into a failure: set to `1` by
/// `scripts/test`, so that a machine without the tools cannot pass.
pub const REQUIRE_TOOLS: &str = "TETHER_REQUIRE_TOOLS";

/// How each tool is installed, for the messages.
const HINT: &str = "scripts/setup installs it";

/// The executable `name` in `PATH`, if there is one.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    find_in(name, &std::env::var_os("PATH").unwrap_or_default())
}

/// The executable `name` in the `:`-separated directories `path`.
fn find_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether `name` is in `PATH`. When it is not, the test should return at
/// once: this prints why it is skipped, or panics under
/// `TETHER_REQUIRE_TOOLS=1`.
pub fn require_tool(name: &str) -> bool {
    require_tools(&[name])
}

/// Like [`require_tool`] for several tools; the message names every
/// missing one.
pub fn require_tools(names: &[&str]) -> bool {
    let missing: Vec<String> = names
        .iter()
        .filter(|name| find_tool(name).is_none())
        .map(|name| format!("{name} ({HINT})"))
        .collect();
    require(&missing)
}

/// Vim as `vi` (Debian's vim-tiny, which `scripts/setup` installs): the
/// tests start it with `-u NONE`, which other vis lack. `None` after
/// [`require`]'s note or panic.
pub fn require_vim() -> Option<PathBuf> {
    let vim = find_tool("vi").filter(|vi| {
        std::process::Command::new(vi)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("VIM"))
    });
    if vim.is_none() {
        require(&[format!("vim as vi ({HINT})")]);
    }
    vim
}

/// The general form: `missing` lists what the test lacks (empty: nothing).
/// Returns whether the test can run; when it cannot, prints a `SKIPPED`
/// note to stderr (past the test harness's capture, so it shows in every
/// run) or, under `TETHER_REQUIRE_TOOLS=1`, panics naming what is missing.
pub fn require(missing: &[String]) -> bool {
    match decide(missing, required()) {
        Ok(run) => run,
        Err(message) => panic!("{message}"),
    }
}

/// Whether `TETHER_REQUIRE_TOOLS` asks for failures (set, not empty, not `0`).
pub fn required() -> bool {
    std::env::var_os(REQUIRE_TOOLS).is_some_and(|v| !v.is_empty() && v != "0")
}

/// `Ok(true)`: run; `Ok(false)`: skipped (the note is printed);
/// `Err`: the failure message.
fn decide(missing: &[String], required: bool) -> Result<bool, String> {
    if missing.is_empty() {
        return Ok(true);
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned();
    let needs = missing.join(", ");
    if required {
        return Err(format!(
            "{test} needs {needs}; {REQUIRE_TOOLS} is set, so this fails instead of skipping"
        ));
    }
    let note = format!("SKIPPED: {test} needs {needs}; {REQUIRE_TOOLS}=1 makes this a failure\n");
    // Straight to the process's stderr: `eprintln!` is captured by the test
    // harness and only shown for failures, and a skip must not go unseen.
    let _ = std::io::stderr().write_all(note.as_bytes());
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_executables_in_the_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths(["/nonexistent".as_ref(), dir.path()]).unwrap();
        assert_eq!(find_in("tool", &path), None, "not executable yet");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_in("tool", &path), Some(tool));
        assert_eq!(find_in("other", &path), None);
    }

    #[test]
    fn a_missing_tool_skips_or_fails() {
        assert_eq!(decide(&[], true), Ok(true));
        assert_eq!(decide(&["tmux".into()], false), Ok(false));
        let failure = decide(&["tmux".into(), "vi".into()], true).unwrap_err();
        assert!(failure.contains("needs tmux, vi"), "{failure}");
        assert!(failure.contains(REQUIRE_TOOLS), "{failure}");
    }
}
