//! Which program runs as the agent, found on PATH.

pub mod notify;

use std::path::{Path, PathBuf};

/// Agents tether knows by name, with how to install each.
pub const KNOWN_AGENTS: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("amp", "npm install -g @sourcegraph/amp"),
];

/// The agent used when neither `--agent` nor a configured default is given.
pub const DEFAULT_AGENT: &str = "claude";

/// The program to run and how to name the session's agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProgram {
    /// The agent's kind as reported to the relay: `claude`, `codex`, `amp`,
    /// or the command's file name.
    pub kind: String,
    /// The executable, resolved.
    pub path: PathBuf,
}

/// Why the agent cannot be started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AgentError {
    /// A known agent is not installed.
    #[error("`{name}` was not found in PATH. Install it with `{install}`, or run another program with --command PROGRAM.")]
    KnownNotFound {
        /// The agent's name.
        name: String,
        /// The install command.
        install: String,
    },
    /// A `--command` program does not exist or is not executable.
    #[error("`{0}` was not found in PATH or is not executable.")]
    CommandNotFound(String),
}

/// Resolves `--command PROGRAM` or the agent name to an executable.
pub fn resolve(agent: &str, command: Option<&str>) -> Result<AgentProgram, AgentError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    if let Some(command) = command {
        let path = find_executable(command, &path_var)
            .ok_or_else(|| AgentError::CommandNotFound(command.to_string()))?;
        let kind = Path::new(command)
            .file_name()
            .map_or_else(|| command.to_string(), |n| n.to_string_lossy().into_owned());
        return Ok(AgentProgram { kind, path });
    }
    let path = find_executable(agent, &path_var).ok_or_else(|| AgentError::KnownNotFound {
        name: agent.to_string(),
        install: KNOWN_AGENTS
            .iter()
            .find(|(name, _)| *name == agent)
            .map_or_else(
                || format!("your package manager ({agent})"),
                |(_, how)| how.to_string(),
            ),
    })?;
    Ok(AgentProgram {
        kind: agent.to_string(),
        path,
    })
}

/// Finds `program` like a shell does: a name with a `/` is taken as a path,
/// otherwise each PATH entry is tried.
pub fn find_executable(program: &str, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return is_executable(&path).then_some(path);
    }
    std::env::split_paths(path_var)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path() {
        let found = find_executable("sh", std::ffi::OsStr::new("/nonexistent:/bin:/usr/bin"));
        assert!(found.is_some_and(|p| p.ends_with("sh")));
        assert_eq!(
            find_executable("sh", std::ffi::OsStr::new("/nonexistent")),
            None
        );
        assert_eq!(
            find_executable("/bin/sh", std::ffi::OsStr::new("")),
            Some(PathBuf::from("/bin/sh"))
        );
    }

    #[test]
    fn missing_agent_says_how_to_install() {
        let err = resolve("amp-that-does-not-exist", None).unwrap_err();
        assert!(err.to_string().contains("not found in PATH"));
        let err = AgentError::KnownNotFound {
            name: "codex".into(),
            install: KNOWN_AGENTS[1].1.into(),
        };
        assert!(err.to_string().contains("npm install -g @openai/codex"));
    }

    #[test]
    fn command_kind_is_its_file_name() {
        let program = resolve("claude", Some("/bin/sh")).unwrap();
        assert_eq!(program.kind, "sh");
    }
}
