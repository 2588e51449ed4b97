//! The command line's unit tests: flags sorted between tether and the agent, each command's flags.

use super::*;

fn parse_strs(args: &[&str]) -> Cli {
    let argv = std::iter::once("tether")
        .chain(args.iter().copied())
        .map(OsString::from);
    try_parse(argv).expect("valid command line")
}

fn strs(args: &[OsString]) -> Vec<&str> {
    args.iter().map(|a| a.to_str().unwrap()).collect()
}

#[test]
fn unknown_flags_pass_through_in_order() {
    let cli = parse_strs(&[
        "--continue",
        "--name",
        "fix tests",
        "--permission-mode",
        "plan",
        "--agent",
        "codex",
        "--dangerously-skip-permissions",
    ]);
    assert_eq!(cli.agent.as_deref(), Some("codex"));
    assert_eq!(cli.name.as_deref(), Some("fix tests"));
    assert_eq!(
        strs(&cli.agent_args),
        [
            "--continue",
            "--permission-mode",
            "plan",
            "--dangerously-skip-permissions"
        ]
    );
}

#[test]
fn everything_after_double_dash_goes_to_the_agent() {
    let cli = parse_strs(&[
        "--command",
        "bash",
        "-x",
        "--",
        "--name",
        "-c",
        "echo hi",
        "--",
    ]);
    assert_eq!(cli.command.as_deref(), Some("bash"));
    assert_eq!(cli.name, None);
    assert_eq!(
        strs(&cli.agent_args),
        ["-x", "--name", "-c", "echo hi", "--"]
    );
}

#[test]
fn inline_values_are_understood() {
    let id = "5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12";
    let resume = format!("--resume={id}");
    let cli = parse_strs(&["--name=a b", &resume, "-p", "--no-relay"]);
    assert_eq!(cli.name.as_deref(), Some("a b"));
    assert_eq!(cli.resume.as_deref(), Some(id));
    assert!(cli.no_relay);
    assert_eq!(strs(&cli.agent_args), ["-p"]);
}

#[test]
fn values_that_look_like_flags_belong_to_their_flag() {
    let cli = parse_strs(&["--command", "x", "--name", "--weird", "tail"]);
    assert_eq!(cli.name.as_deref(), Some("--weird"));
    assert_eq!(strs(&cli.agent_args), ["tail"]);
}

#[test]
fn agent_and_command_conflict_and_unknown_agents_are_refused() {
    let argv = ["tether", "--agent", "claude", "--command", "bash"].map(OsString::from);
    assert!(try_parse(argv).is_err());
    let argv = ["tether", "--agent", "vim"].map(OsString::from);
    assert!(try_parse(argv).is_err());
}

#[test]
fn resume_takes_only_a_session_id() {
    let argv = ["tether", "--resume", "abc"].map(OsString::from);
    let err = try_parse(argv).unwrap_err();
    assert!(err.to_string().contains("a session id is a UUID"), "{err}");
}

#[test]
fn record_flags_and_the_record_command() {
    let cli = parse_strs(&["--record", "a.cast", "--record-input", "-p"]);
    assert_eq!(cli.record.as_deref(), Some(std::path::Path::new("a.cast")));
    assert!(cli.record_input);
    assert_eq!(strs(&cli.agent_args), ["-p"]);
    let argv = ["tether", "--record-input"].map(OsString::from);
    assert!(try_parse(argv).is_err(), "--record-input needs --record");

    let id = "5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12";
    let argv = ["tether", "record", id, "-o", "x.cast"].map(OsString::from);
    let Command::Record(record) = parse_command(argv) else {
        panic!("not the record command");
    };
    assert_eq!(
        (record.session.as_deref(), record.output.to_str()),
        (Some(id), Some("x.cast"))
    );
    let argv = ["tether", "--", "record"].map(OsString::from);
    assert!(
        matches!(parse_command(argv), Command::Run(cli) if strs(&cli.agent_args) == ["record"])
    );
}

#[test]
fn every_command_takes_the_relay_flags() {
    let flags = [
        "--api-key=k",
        "--relay-url=wss://r.example/agent",
        "--api-url=https://r.example",
        "--insecure-skip-tls-verify",
    ];
    let expected = RelayAccess {
        api_key: Some("k".into()),
        relay_url: Some("wss://r.example/agent".into()),
        api_url: Some("https://r.example".into()),
        insecure_skip_tls_verify: true,
    };
    let argv = |command: &[&str]| {
        std::iter::once("tether")
            .chain(command.iter().copied())
            .chain(flags)
            .map(OsString::from)
            .collect::<Vec<_>>()
    };
    let Command::Run(cli) = parse_command(argv(&[])) else {
        panic!("not a run");
    };
    assert_eq!(cli.relay, expected);
    assert!(cli.agent_args.is_empty(), "{:?}", cli.agent_args);
    let Command::Record(record) = parse_command(argv(&["record", "-o", "x.cast"])) else {
        panic!("not the record command");
    };
    assert_eq!(record.relay, expected);
    let Command::Share(share) = parse_command(argv(&["share"])) else {
        panic!("not the share command");
    };
    assert_eq!(share.relay, expected);
}

#[test]
fn help_mentions_examples() {
    let argv = ["tether", "--help"].map(OsString::from);
    let err = try_parse(argv).unwrap_err();
    assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    assert!(err.to_string().contains("Examples:"));
}
