//! Codex: its `[tui]` notification settings. `notifications = true` turns
//! them on (approval requests, finished turns), `notification_method =
//! "osc9"` makes them `OSC 9 ; text BEL` rather than a bare BEL, and
//! `notification_condition = "always"` sends them while the terminal has
//! focus too (a person away at their phone may have left it focused, and
//! without a terminal nobody reports focus). `-c key=value` sets one for a run.

use super::{agent_dir, scan_settings, under, AgentNotify, SettingsPlaces};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

/// The `[tui]` keys tether sets when the person has not, with their values (TOML).
pub(super) const SETTINGS: [(&str, &str); 3] = [
    ("notifications", "true"),
    ("notification_method", "\"osc9\""),
    ("notification_condition", "\"always\""),
];

pub(super) fn plan(agent_args: &[OsString], places: &SettingsPlaces) -> AgentNotify {
    let mut set = overridden_keys(agent_args);
    let mut kept = Vec::new();
    let scanned = scan_settings(&config_files(places), |path, text| {
        let doc = text
            .parse::<toml_edit::DocumentMut>()
            .map_err(|err| format!("{} is not TOML ({err})", path.display()))?;
        let tui = doc.get("tui");
        for (key, _) in SETTINGS {
            if tui.and_then(|t| t.get(key)).is_some() {
                kept.push(format!("Codex's tui.{key}: set in {}", path.display()));
                set.insert(key.to_string());
            }
        }
        Ok(())
    });
    if let Err(why) = scanned {
        return AgentNotify::left_alone("Codex's tui notification settings", &why);
    }
    let mut args = Vec::new();
    for (key, value) in SETTINGS {
        if set.contains(key) {
            continue;
        }
        args.push("-c".into());
        args.push(format!("tui.{key}={value}").into());
    }
    AgentNotify { args, kept }
}

/// The person's config: `$CODEX_HOME/config.toml` (default `~/.codex`) and
/// the project's `.codex/config.toml`.
fn config_files(places: &SettingsPlaces) -> Vec<PathBuf> {
    let home = agent_dir(places.codex_home.as_ref(), places.home.as_ref(), ".codex");
    let project = under(places.cwd.as_ref(), ".codex");
    [
        under(home.as_ref(), "config.toml"),
        under(project.as_ref(), "config.toml"),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The `[tui]` keys the person's own `-c` / `--config` flags set (`-c tui=…`
/// sets them all).
fn overridden_keys(agent_args: &[OsString]) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut args = agent_args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let value = match arg {
            "-c" | "--config" => args.next(),
            _ => arg
                .strip_prefix("--config=")
                .or_else(|| arg.strip_prefix("-c").filter(|v| !v.is_empty())),
        };
        let Some(key) = value.and_then(|v| v.split_once('=')).map(|(k, _)| k.trim()) else {
            continue;
        };
        for (name, _) in SETTINGS {
            if key == "tui" || key.strip_prefix("tui.") == Some(name) {
                keys.insert(name.to_string());
            }
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::super::places_at_home as places;
    use super::*;

    fn strs(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn without_settings_of_the_persons_all_three_are_added() {
        let home = tempfile::tempdir().unwrap();
        let plan = plan(&[], &places(home.path()));
        assert_eq!(
            strs(&plan.args),
            [
                "-c",
                "tui.notifications=true",
                "-c",
                "tui.notification_method=\"osc9\"",
                "-c",
                "tui.notification_condition=\"always\""
            ]
        );
    }

    #[test]
    fn each_key_the_person_set_is_left_alone() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".codex")).unwrap();
        let config = "model = \"o3\"\n[tui]\nnotifications = [\"approval-requested\"]\n";
        std::fs::write(home.path().join(".codex/config.toml"), config).unwrap();
        let args: Vec<OsString> = vec!["-c".into(), "tui.notification_method=bel".into()];
        let plan = plan(&args, &places(home.path()));
        assert_eq!(
            strs(&plan.args),
            ["-c", "tui.notification_condition=\"always\""]
        );
        assert!(plan.kept[0].contains("tui.notifications"), "{plan:?}");

        // Dotted keys in the project's config, and every spelling of -c.
        let project = home.path().join("project/.codex");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("config.toml"),
            "tui.notification_condition = \"unfocused\"\n",
        )
        .unwrap();
        let args: Vec<OsString> = vec!["--config=tui.notification_method=\"bel\"".into()];
        assert!(plan_for(&args, home.path()).args.is_empty());
        let mut places = places(home.path());
        places.codex_home = Some(home.path().join("elsewhere"));
        let args: Vec<OsString> = vec!["-ctui={}".into()];
        assert!(super::plan(&args, &places).args.is_empty());
    }

    fn plan_for(args: &[OsString], home: &std::path::Path) -> AgentNotify {
        plan(args, &places(home))
    }

    #[test]
    fn a_config_it_cannot_parse_adds_nothing() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".codex")).unwrap();
        std::fs::write(home.path().join(".codex/config.toml"), "[tui\n").unwrap();
        let plan = plan(&[], &places(home.path()));
        assert!(plan.args.is_empty());
        assert!(plan.kept[0].contains("not TOML"), "{plan:?}");
    }
}
