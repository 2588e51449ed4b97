//! `tether` facing a relay it cannot trust (issue 10): what the relay and
//! its viewers send is bounded (input in bytes, sizes clamped, log lines
//! throttled), what it prints of the relay's words is escaped, the agent
//! never sees Tether's secrets, and the files tether writes are private.
//!
//! The relay here is `tests::hostile_relay::HostileRelay`: a small server
//! that answers and sends exactly what each test scripts, as a relay at a
//! wrong URL (or a compromised one) could.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use axum::http::StatusCode;
use protocol::{Frame, Size};
use tests::fake_relay::SESSION_ID;
use tests::hostile_relay::{HostileRelay, Link, Script, KEY};
use tests::wait::{eventually_blocking, DEADLINE};
use tests::wrapper::{wrapper_log, PrintOnPanic, TetherCommand, TetherProcess};

/// Panics when `text` holds a character a terminal could obey (anything
/// but printable characters and line ends).
fn assert_printable(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)))
        .collect();
    assert!(
        bad.is_empty(),
        "{what} holds control characters {bad:?}: {text:?}"
    );
}

/// The agent script that prints its terminal's size at start and on every
/// change, and never reads its input.
const PRINT_SIZES: &str =
    "trap 'stty size' WINCH; stty size; echo ready; while :; do sleep 0.05; done";

/// Runs `tether --command sh -c PRINT_SIZES` against `relay` and waits for the agent.
fn start_size_printer(relay: &HostileRelay, home: &Path) -> TetherProcess {
    let tether = relay
        .tether(home)
        .args(["--command", "sh", "--", "-c", PRINT_SIZES])
        .spawn();
    tether.stdout.wait_for_text("ready", DEADLINE);
    tether
}

fn resize(rows: u16, cols: u16) -> Vec<u8> {
    Frame::Resize(Size::new(rows, cols)).to_bytes()
}

/// Lines of the session's log that contain `what`.
fn log_lines(home: &Path, what: &str) -> Vec<String> {
    let log = std::fs::read_to_string(wrapper_log(home, "sh", SESSION_ID)).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains(what))
        .map(str::to_owned)
        .collect()
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

// ------------------------------------------------------ what tether prints

/// A registration answered with a "session id" made of escape sequences
/// (a window title, a clipboard write) is refused, and none of it reaches
/// the person's terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_that_is_not_a_uuid_is_refused() {
    let evil = "\u{1b}]0;owned\u{7}\u{1b}]52;c;aGk=\u{7}";
    let mut script = Script::link(Link::Send(Vec::new()));
    script.register.1 = serde_json::json!({ "agent_instance_id": evil }).to_string();
    let relay = HostileRelay::start(script).await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = relay
        .tether(home.path())
        .args(["--command", "true"])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(2));
    let err = tether.stderr.text();
    assert!(err.contains("not a UUID"), "{err}");
    assert!(err.contains(r"\x1b]0;owned\x07"), "shown escaped: {err}");
    assert_printable("stderr", &err);
}

/// The API's error text, however it is made, is printed escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_error_texts_are_printed_escaped() {
    for body in [
        serde_json::json!({ "error": "\u{1b}]52;c;aGk=\u{7}boom\u{1b}[2J\u{9b}31m\u{202e}" })
            .to_string(),
        "not json \u{1b}[2J\u{1b}]0;title\u{7}boom".to_owned(),
    ] {
        let mut script = Script::link(Link::Send(Vec::new()));
        script.register = (StatusCode::INTERNAL_SERVER_ERROR, body);
        let relay = HostileRelay::start(script).await;
        let home = tempfile::tempdir().unwrap();
        let mut tether = relay
            .tether(home.path())
            .args(["--command", "true"])
            .null_stdin()
            .spawn();
        assert_eq!(tether.wait(DEADLINE).code(), Some(2));
        let err = tether.stderr.text();
        assert!(err.contains("HTTP 500") && err.contains("boom"), "{err}");
        assert!(err.contains(r"\x1b"), "shown escaped: {err}");
        assert_printable("stderr", &err);
    }
}

/// Why the link failed — a close reason, a refusal's body — is printed
/// escaped at exit, and logged escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_reasons_and_refusals_are_printed_escaped() {
    for link in [
        Link::Close("\u{1b}]0;title\u{7}bye\u{1b}[2J".to_owned()),
        Link::Refuse(
            StatusCode::FORBIDDEN,
            "\u{1b}]52;c;aGk=\u{7}no\u{1b}[2J".to_owned(),
        ),
    ] {
        let relay = HostileRelay::start(Script::link(link.clone())).await;
        let home = tempfile::tempdir().unwrap();
        let mut tether = relay
            .tether(home.path())
            .args(["--command", "sh", "--", "-c", "sleep 1"])
            .null_stdin()
            .spawn();
        let _log = PrintOnPanic(wrapper_log(home.path(), "sh", SESSION_ID));
        assert_eq!(tether.wait(DEADLINE).code(), Some(0));
        let err = tether.stderr.text();
        assert!(err.contains("never reachable"), "{link:?}: {err}");
        assert!(err.contains(r"\x1b"), "{link:?}: shown escaped: {err}");
        assert_printable("stderr", &err);
        let log = std::fs::read_to_string(wrapper_log(home.path(), "sh", SESSION_ID)).unwrap();
        assert_printable("the log", &log);
    }
}

// ------------------------------------------------------- what the agent gets

/// The agent runs with `TETHER_SESSION_ID`, but without the API key tether
/// streams with (or any other Tether secret).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_never_sees_tethers_secrets() {
    let relay = HostileRelay::start(Script::link(Link::Send(Vec::new()))).await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = relay
        .tether(home.path())
        .env("TETHER_SHARE_TOKEN", "share-secret-value")
        .args(["--command", "sh", "--", "-c", "env; echo env-done"])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let env = tether.stdout.text();
    assert!(env.contains("env-done"), "{env}");
    assert!(
        env.contains(&format!("TETHER_SESSION_ID={SESSION_ID}")),
        "{env}"
    );
    assert!(
        env.contains("TETHER_API_URL="),
        "other variables stay: {env}"
    );
    for secret in [
        "TETHER_API_KEY",
        KEY,
        "TETHER_SHARE_TOKEN",
        "share-secret-value",
    ] {
        assert!(!env.contains(secret), "the agent sees {secret}: {env}");
    }
}

/// A viewer asking for a 65535×65535 terminal gets 1000×1000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_cannot_make_the_agents_terminal_huge() {
    let relay =
        HostileRelay::start(Script::link(Link::Send(vec![(resize(65535, 65535), 1)]))).await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = start_size_printer(&relay, home.path());
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", SESSION_ID));
    tether.stdout.wait_for_text("1000 1000", DEADLINE);
    eventually_blocking("the relay to be told 1000×1000", DEADLINE, || {
        relay
            .received()
            .contains(&Frame::Resize(Size::new(1000, 1000)))
    });
    let sizes = tether.stdout.text();
    let too_big = sizes
        .split_whitespace()
        .filter_map(|n| n.parse::<u32>().ok())
        .any(|n| n > 1000);
    assert!(!too_big, "{sizes}");
    tether.signal("TERM");
    tether.wait(DEADLINE);
}

// ---------------------------------------------------------- floods

/// 20 000 RESIZE requests write a few log lines, not 20 000; the latest
/// size still wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_resizes_writes_a_few_log_lines() {
    let flood: Vec<u8> = (0..1000u16)
        .flat_map(|i| resize(20 + i % 40, 60 + i % 100))
        .collect();
    let script = Script::link(Link::Send(vec![(flood, 20), (resize(33, 111), 1)]));
    let relay = HostileRelay::start(script).await;
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tether = start_size_printer(&relay, home.path());
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", SESSION_ID));
    tether.stdout.wait_for_text("33 111", DEADLINE);
    let seconds = started.elapsed().as_secs() as usize;
    let requests = log_lines(home.path(), "viewer asks for a size");
    assert!(
        !requests.is_empty() && requests.len() <= seconds + 2,
        "{} request lines in {seconds} s",
        requests.len()
    );
    let resized = log_lines(home.path(), "PTY resized");
    assert!(
        resized.len() <= seconds + 2,
        "{} resize lines",
        resized.len()
    );
    tether.signal("TERM");
    tether.wait(DEADLINE);
}

/// An agent that reads nothing while viewers send 120 MiB of input: tether
/// holds about a megabyte of it (not 120), logs a few lines about the rest,
/// and keeps serving the link (a RESIZE sent after the flood arrives).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_waiting_for_the_agent_is_bounded_in_bytes() {
    const FRAME: usize = 256 * 1024;
    const FRAMES: usize = 480;
    let input = Frame::Input(vec![b'x'; FRAME]).to_bytes();
    let script = Script::link(Link::Send(vec![(input, FRAMES), (resize(33, 111), 1)]));
    let relay = HostileRelay::start(script).await;
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tether = start_size_printer(&relay, home.path());
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", SESSION_ID));
    tether.stdout.wait_for_text("33 111", DEADLINE);
    let held = rss(tether.pid());
    assert!(
        held < 64 << 20,
        "tether holds {} MiB after {} MiB of unread input",
        held >> 20,
        (FRAME * FRAMES) >> 20
    );
    let seconds = started.elapsed().as_secs() as usize;
    let dropped = log_lines(home.path(), "viewer input dropped");
    assert!(
        !dropped.is_empty() && dropped.len() <= seconds + 2,
        "{} drop lines in {seconds} s",
        dropped.len()
    );
    tether.signal("TERM");
    tether.wait(DEADLINE);
}

// ------------------------------------------------------------ local files

/// A new `$TETHER_HOME`, the log folder and the log are readable by the
/// person only; so is the config.
#[test]
fn files_tether_creates_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("tether-home");
    let run = |args: &[&str]| {
        let mut tether = TetherCommand::new(dir.path())
            .env("TETHER_HOME", &home)
            .args(args)
            .null_stdin()
            .spawn();
        assert_eq!(
            tether.wait(DEADLINE).code(),
            Some(0),
            "{}",
            tether.stderr.text()
        );
    };
    run(&["--no-relay", "--command", "true"]);
    run(&["--set-default", "codex"]);

    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let logs = home.join("true_wrapper");
    let log = std::fs::read_dir(&logs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&home), 0o700, "{}", home.display());
    assert_eq!(mode(&logs), 0o700, "{}", logs.display());
    assert_eq!(mode(&log), 0o600, "{}", log.display());
    assert_eq!(mode(&home.join("config.json")), 0o600);
}
