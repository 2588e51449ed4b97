//! Claude Code: its `preferredNotifChannel` setting. `iterm2` makes it write
//! `OSC 9 ; message BEL` when a permission prompt waits or a turn is done;
//! its default (`auto`) does nothing in most terminals. A `--settings` flag
//! adds settings for one run.

use super::{agent_dir, scan_settings, under, AgentNotify, SettingsPlaces};
use std::ffi::OsString;
use std::path::PathBuf;

/// The setting.
const KEY: &str = "preferredNotifChannel";
/// What tether passes when the person has not chosen: OSC 9 with the text.
pub(super) const SETTINGS: &str = r#"{"preferredNotifChannel":"iterm2"}"#;

pub(super) fn plan(agent_args: &[OsString], places: &SettingsPlaces) -> AgentNotify {
    let own_settings = agent_args
        .iter()
        .filter_map(|a| a.to_str())
        .any(|a| a == "--settings" || a.starts_with("--settings="));
    if own_settings {
        return kept("you pass --settings yourself");
    }
    let scanned = scan_settings(&settings_files(places), |path, text| {
        match sets_channel(text) {
            Ok(false) => Ok(()),
            Ok(true) => Err(format!("{KEY} is set in {}", path.display())),
            Err(why) => Err(format!("{} is not JSON ({why})", path.display())),
        }
    });
    if let Err(why) = scanned {
        return kept(&why);
    }
    AgentNotify {
        args: vec!["--settings".into(), SETTINGS.into()],
        kept: Vec::new(),
    }
}

/// Nothing added, for `why`.
fn kept(why: &str) -> AgentNotify {
    AgentNotify::left_alone(&format!("Claude Code's {KEY}"), why)
}

/// Where Claude Code may hold the setting: the user's settings, the
/// project's (shared and local), and the global config older versions
/// wrote it to.
fn settings_files(places: &SettingsPlaces) -> Vec<PathBuf> {
    let config_dir = agent_dir(
        places.claude_config_dir.as_ref(),
        places.home.as_ref(),
        ".claude",
    );
    let legacy = match &places.claude_config_dir {
        Some(dir) => Some(dir.join(".claude.json")),
        None => under(places.home.as_ref(), ".claude.json"),
    };
    let project = under(places.cwd.as_ref(), ".claude");
    [
        under(config_dir.as_ref(), "settings.json"),
        under(project.as_ref(), "settings.json"),
        under(project.as_ref(), "settings.local.json"),
        legacy,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Whether a settings file's JSON sets the channel (to anything).
fn sets_channel(text: &str) -> Result<bool, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    Ok(value.get(KEY).is_some())
}

#[cfg(test)]
mod tests {
    use super::super::places_at_home as places;
    use super::*;

    #[test]
    fn without_a_setting_of_the_persons_the_run_gets_osc_9() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".claude")).unwrap();
        std::fs::write(
            home.path().join(".claude/settings.json"),
            r#"{"theme":"dark"}"#,
        )
        .unwrap();
        let plan = plan(&["-p".into()], &places(home.path()));
        assert_eq!(plan.args, ["--settings", SETTINGS]);
        let json: serde_json::Value = serde_json::from_str(SETTINGS).unwrap();
        assert_eq!(json[KEY], "iterm2");
    }

    #[test]
    fn the_persons_own_setting_or_flag_wins() {
        let home = tempfile::tempdir().unwrap();
        let project = home.path().join("project/.claude");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("settings.local.json"),
            r#"{"preferredNotifChannel":"terminal_bell"}"#,
        )
        .unwrap();
        let plan = plan(&[], &places(home.path()));
        assert!(plan.args.is_empty());
        assert!(plan.kept[0].contains("settings.local.json"), "{plan:?}");

        let other = tempfile::tempdir().unwrap();
        std::fs::write(
            other.path().join(".claude.json"),
            r#"{"preferredNotifChannel":"auto"}"#,
        )
        .unwrap();
        assert!(
            plan_for(&[], other.path()).args.is_empty(),
            "the legacy global config counts"
        );
        assert!(plan_for(&["--settings=x.json".into()], home.path())
            .args
            .is_empty());
        assert!(plan_for(&["--settings".into(), "{}".into()], home.path())
            .args
            .is_empty());
    }

    fn plan_for(args: &[OsString], home: &std::path::Path) -> AgentNotify {
        plan(args, &places(home))
    }

    #[test]
    fn a_file_it_cannot_read_adds_nothing() {
        let home = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("settings.json"), "{not json").unwrap();
        let mut places = places(home.path());
        places.claude_config_dir = Some(dir.path().to_path_buf());
        let plan = plan(&[], &places);
        assert!(plan.args.is_empty());
        assert!(plan.kept[0].contains("not JSON"), "{plan:?}");
    }
}
