//! `tether share` against the real relay: a link made inside a `tether` run
//! is for that run's session (`TETHER_SESSION_ID`) and comes with a QR code;
//! outside a run it is for the most recent live session; `--list` shows the
//! links with their viewers; `--revoke` closes them; bad input is refused
//! with a clear message.

use std::path::Path;
use std::process::ExitStatus;

use protocol::api::ShareInfo;
use protocol::{Control, Frame, Role};
use tests::relay::{Event, RelayProcess};
use tests::wait::DEADLINE;
use tests::wrapper::{session_id_in, TetherCommand};

/// What one `tether share …` printed, and how it exited.
struct Ran {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `tether share ARGS` with `home` as its `TETHER_HOME` against `relay`.
fn share(relay: &RelayProcess, home: &Path, args: &[&str]) -> Ran {
    let mut run = TetherCommand::new(home)
        .env("TETHER_API_URL", relay.http_url())
        .args(["share"])
        .args(args)
        .null_stdin()
        .spawn();
    let status = run.wait(DEADLINE);
    Ran {
        status,
        stdout: run.stdout.text(),
        stderr: run.stderr.text(),
    }
}

/// The share link's session id and token, from a line `…/s/ID#token=T`.
fn link_parts(line: &str) -> (String, String) {
    let id = session_id_in(line).unwrap_or_else(|| panic!("no link in {line:?}"));
    let token = line
        .split_once("#token=")
        .map(|(_, token)| token.trim().to_owned())
        .unwrap_or_else(|| panic!("no token in {line:?}"));
    (id, token)
}

async fn shares(relay: &RelayProcess, session: &str) -> Vec<ShareInfo> {
    let url = format!(
        "{}/api/v1/agent-instances/{session}/shares",
        relay.http_url()
    );
    tests::relay::fetch("GET", &url, Some(&relay.api_key()), None)
        .await
        .parse()
}

#[tokio::test]
async fn inside_a_tether_run_the_link_is_for_that_session_with_a_qr_code() {
    let relay = RelayProcess::start();
    // The relay's home holds config.json with its key: tether finds it there.
    let mut run = TetherCommand::new(relay.home())
        .env("TETHER_API_URL", relay.http_url())
        .args(["--command", "sh", "--", "-c"])
        .args([format!(
            "{} share --qr",
            tests::wrapper::tether_bin().display()
        )])
        .null_stdin()
        .spawn();
    let session = run.session_id(DEADLINE);
    assert!(run.wait(DEADLINE).success(), "{}", run.stderr.text());
    // The agent's output (the inner tether's stdout and stderr) is tether's stdout.
    let printed = run.stdout.text();
    let link = printed
        .lines()
        .find(|line| line.contains("#token="))
        .unwrap_or_else(|| panic!("no link printed: {printed}"));
    let (linked, token) = link_parts(link);
    assert_eq!(linked, session, "the link is for the run's own session");
    assert!(token.starts_with("ts2."), "{token}");
    assert!(printed.contains("read-only link"), "{printed}");
    assert!(
        printed
            .lines()
            .filter(|l| l.contains('█') || l.contains('▀'))
            .count()
            > 10,
        "a QR code: {printed}"
    );
    let listed = shares(&relay, &session).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role, Role::ReadOnly);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_and_revoke_from_the_command_line() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let older = relay.register_session(&key, "claude");
    let _older_agent = relay.connect_agent(&older, &key).await;
    let session = relay.register_session(&key, "codex");
    let _agent = relay.connect_agent(&session, &key).await;
    // Registered last but offline: never the default.
    let _offline = relay.register_session(&key, "amp");
    let home = relay.home();

    let made = share(&relay, home, &["--read-write", "--ttl", "1h"]);
    assert!(made.status.success(), "{}", made.stderr);
    let (linked, token) = link_parts(made.stdout.trim());
    assert_eq!(made.stdout.lines().count(), 1, "stdout is the link alone");
    assert_eq!(linked, session, "the most recent live session");
    assert!(made.stderr.contains("read-write link"), "{}", made.stderr);
    assert!(
        made.stderr.contains("can type into the agent"),
        "a read-write link warns: {}",
        made.stderr
    );
    let listed = shares(&relay, &session).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role, Role::ReadWrite);
    let share_id = listed[0].id.clone();

    let mut viewer = relay.connect_viewer(&session, &token, None).await;
    match viewer.socket.next_event().await {
        Event::Frame(Frame::Control(Control::Role { role, shared_by })) => {
            assert_eq!(
                (role, shared_by.as_deref()),
                (Role::ReadWrite, Some("local"))
            )
        }
        other => panic!("joining with the link: {other:?}"),
    }
    let list = share(&relay, home, &["--list", &session]);
    assert!(list.status.success(), "{}", list.stderr);
    let row = list
        .stdout
        .lines()
        .find(|line| line.starts_with(&share_id))
        .unwrap_or_else(|| panic!("{share_id} not listed: {}", list.stdout));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!((columns[1], columns[3]), ("read-write", "1"), "{row}");

    let revoked = share(&relay, home, &["--revoke", &share_id]);
    assert!(revoked.status.success(), "{}", revoked.stderr);
    assert_eq!(
        viewer.socket.closed().await,
        Some((1008, "share link revoked".into()))
    );
    let list = share(&relay, home, &["--list", &session]);
    assert!(
        list.stdout.contains("no working share links"),
        "{}",
        list.stdout
    );
    let unknown = share(&relay, home, &["--revoke", "0123456789abcdef"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        unknown.stderr.contains("unknown share link"),
        "{}",
        unknown.stderr
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_refusal() {
    let relay = RelayProcess::start();
    let home = relay.home();
    let refused = |args: &[&str], want: &str| {
        let ran = share(&relay, home, args);
        assert_eq!(ran.status.code(), Some(2), "{args:?}: {}", ran.stderr);
        assert!(ran.stderr.contains(want), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
    };
    refused(&["--ttl", "8d"], "at most 7 days");
    refused(&["--ttl", "soon"], "bad TTL");
    refused(&["not-a-session"], "a session id is a UUID");
    refused(&[], "no live session");
    refused(&["0b6e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"], "unknown session");
    let empty = tempfile::tempdir().unwrap();
    let ran = share(&relay, empty.path(), &[]);
    assert_eq!(ran.status.code(), Some(2));
    assert!(ran.stderr.contains("no relay configured"), "{}", ran.stderr);
}
