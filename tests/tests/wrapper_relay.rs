//! `tether` with the real `tether-relay`: output reaches viewers byte-exact,
//! viewers' input and resizes reach the agent, the exit status is reported,
//! a relay restart loses nothing, and terminal queries get one answer —
//! and with fake relays that misbehave (stuck, forgetful, legacy). How
//! viewers' sizes reach the PTY: `wrapper_sizes.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use protocol::{Control, Frame};
use tests::fake_relay::{Behaviour, CuttableProxy, FakeRelay, SESSION_ID};
use tests::relay::{RelayProcess, ViewerClient};
use tests::tmux::{RelayTerminal, Tmux};
use tests::tools::require_tool;
use tests::wait::{eventually, eventually_blocking, DEADLINE};
use tests::wrapper::{sha256_hex, tether_bin, wrapper_log, PrintOnPanic, TetherCommand};

/// A key for the fake relays, which check none.
const ANY_KEY: &str = "tk1.any.key";

/// A `tether` run against `relay`, with a private home and the relay's key.
fn tether_for(relay: &RelayProcess, home: &Path) -> TetherCommand {
    tether_at(&relay.http_url(), &relay.api_key(), home)
}

/// A `tether` run against the API at `api_url` (a relay, a fake one, a
/// proxy) with `key`, and a private home.
fn tether_at(api_url: &str, key: &str, home: &Path) -> TetherCommand {
    TetherCommand::new(home)
        .env("TETHER_API_URL", api_url)
        .env("TETHER_API_KEY", key)
}

/// What `seq 1 n` prints.
fn seq_output(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 8);
    for i in 1..=n {
        out.extend_from_slice(i.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// The agent's exit status as the API shows it.
async fn exit_status(relay: &RelayProcess, id: &str) -> Option<i32> {
    let key = relay.api_key();
    let session = relay.session(&key, id).await.expect("the session exists");
    session.exit_status
}

#[tokio::test]
async fn fifty_megabytes_reach_a_viewer_byte_exact() {
    // A ring larger than the output: this test is about the wrapper's bytes,
    // not about a slow (debug-build) viewer falling behind the relay's ring.
    let relay = RelayProcess::start_with(&["--history-bytes", "67108864"]);
    let home = tempfile::tempdir().unwrap();
    const N: u64 = 6_500_000; // `seq 1 N` is 50.9 MB
    let mut tether = tether_for(&relay, home.path())
        .args(["--command", "sh", "--", "-c"])
        .args([format!("stty -opost -echo; echo ready; read go; seq 1 {N}")])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", &id));
    let _relay_log = PrintOnPanic(relay.home().join("relay.log"));
    tether.stdout.wait_for_text("ready\n", DEADLINE);

    // A viewer joins before the output starts and reads it live.
    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    let join = viewer.read_history().await;
    tether.write_stdin(b"go\n");

    let mut expected = b"ready\n".to_vec();
    expected.extend_from_slice(&seq_output(N));
    let got = viewer.read_output_to(join.output, expected.len()).await;
    let status = tether.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", tether.stderr.text());
    assert_eq!(got.len(), expected.len());
    assert_eq!(sha256_hex(&got), sha256_hex(&expected), "viewer bytes");
    let local = tether.stdout.bytes();
    assert_eq!(sha256_hex(&local), sha256_hex(&expected), "local bytes");
    assert_eq!(exit_status(&relay, &id).await, Some(0));
    // The live viewer learns the end right after the last byte.
    let ended = viewer
        .wait_control(|c| matches!(c, Control::SessionEnded { .. }))
        .await;
    assert_eq!(
        ended,
        Control::SessionEnded {
            exit_status: Some(0)
        }
    );
}

#[tokio::test]
async fn viewer_input_reaches_the_agent_and_the_exit_status_is_reported() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_for(&relay, home.path())
        .args(["--command", "sh", "--name", "input test", "--", "-c"])
        .args(["stty -echo; echo ready; read line; echo \"got:$line\"; exit 3"])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    let join = viewer.read_history().await;
    // The viewer may join before the wrapper's link is up: METADATA then comes live.
    let Frame::Metadata(metadata) = viewer
        .wait_frame(&join, |f| matches!(f, Frame::Metadata(_)))
        .await
    else {
        unreachable!("wait_frame returns what was asked for")
    };
    assert_eq!(metadata.agent, "sh");
    assert_eq!(metadata.agent_display_name.as_deref(), Some("input test"));
    assert_eq!(metadata.local_terminal, Some(false));
    viewer.wait_for_output(&join, b"ready").await;

    viewer
        .send(&[Frame::Input(b"hello from the browser\r".to_vec())])
        .await;
    viewer
        .read_output_until(b"got:hello from the browser")
        .await;
    assert_eq!(tether.wait(DEADLINE).code(), Some(3));
    let local = tether.stdout.text();
    assert!(local.contains("got:hello from the browser"), "{local}");
    let ended = viewer
        .wait_control(|c| matches!(c, Control::SessionEnded { .. }))
        .await;
    assert_eq!(
        ended,
        Control::SessionEnded {
            exit_status: Some(3)
        }
    );

    let session = relay.session(&relay.api_key(), &id).await.unwrap();
    assert_eq!(session.exit_status, Some(3), "{session:?}");
    assert_eq!(session.name.as_deref(), Some("input test"), "{session:?}");
}

/// The relay is killed while the agent writes and started again (memory
/// lost): the wrapper keeps the agent and terminal going, reconnects and
/// re-uploads, and the restarted relay ends with exactly the agent's bytes.
#[tokio::test]
async fn relay_killed_mid_stream_and_restarted_loses_nothing() {
    let mut relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let script = "stty -echo; i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.005; done; \
                  echo all-written; read x; echo bye";
    let mut tether = tether_for(&relay, home.path())
        .args(["--command", "sh", "--", "-c", script])
        .spawn();
    let id = tether.session_id(DEADLINE);
    tether.stdout.wait_for_text("line 20\r\n", DEADLINE);
    relay.kill();
    // The agent keeps running and printing while the relay is down.
    tether.stdout.wait_for_text("line 120\r\n", DEADLINE);
    relay.restart();
    tether.stdout.wait_for_text("all-written\r\n", DEADLINE);
    let written = tether.stdout.bytes();

    // The wrapper retries every 5 s: wait for the re-upload through a viewer.
    let key = relay.api_key();
    let mut viewer = relay.connect_viewer(&id, &key, None).await;
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(0), "the restarted relay holds byte 0 on");
    let got = viewer.read_output_to(join.output, written.len()).await;
    assert_eq!(
        got, written,
        "exactly the agent's bytes: no gap, no duplicate"
    );

    tether.write_stdin(b"\n");
    viewer.read_output_until(b"bye").await;
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let err = tether.stderr.text();
    assert!(
        err.contains("relay link dropped"),
        "one line about it: {err}"
    );
    let log = std::fs::read_to_string(wrapper_log(home.path(), "sh", &id)).unwrap();
    assert!(log.contains("relay connection failed"), "{log}");
    assert!(!log.contains(&key), "the log never holds the key");
}

/// The link drops while the relay keeps running: the wrapper reconnects at
/// once and resumes from the relay's ACK — no gap, no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_blip_resumes_from_the_relays_ack() {
    let relay = RelayProcess::start();
    let proxy = CuttableProxy::start(relay.addr()).await;
    let home = tempfile::tempdir().unwrap();
    let key = relay.api_key();
    let script = "stty -echo; i=0; while [ $i -lt 200 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.005; done; \
                  echo all-written; read x";
    let mut tether = tether_at(&proxy.api_url(), &key, home.path())
        .args(["--command", "sh", "--", "-c", script])
        .spawn();
    let id = tether.session_id(DEADLINE);
    tether.stdout.wait_for_text("line 40\r\n", DEADLINE);
    proxy.cut();
    tether.stdout.wait_for_text("line 120\r\n", DEADLINE);
    proxy.cut();
    tether.stdout.wait_for_text("all-written\r\n", DEADLINE);
    let written = tether.stdout.bytes();

    let mut viewer = relay.connect_viewer(&id, &key, None).await;
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(0));
    let got = viewer.read_output_to(join.output, written.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&written),
        "exactly the agent's bytes"
    );
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let log = std::fs::read_to_string(wrapper_log(home.path(), "sh", &id)).unwrap();
    assert!(log.contains("reconnecting at once"), "{log}");
}

#[tokio::test]
async fn relay_down_at_start_keeps_the_agent_running_locally() {
    let home = tempfile::tempdir().unwrap();
    // A port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut tether = tether_at(&format!("http://127.0.0.1:{port}"), ANY_KEY, home.path())
        .args(["--command", "sh", "--", "-c", "echo works-offline; exit 4"])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(4));
    assert!(tether.stdout.text().contains("works-offline"));
    let err = tether.stderr.text();
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("running locally"), "{err}");
    assert!(err.contains("never reachable"), "{err}");
}

/// The relay is down when tether starts: the agent runs at once, and the
/// session is registered and streamed (from byte 0) once the relay is up.
#[tokio::test]
async fn a_relay_that_comes_up_later_gets_the_whole_session() {
    let mut relay = RelayProcess::start();
    let key = relay.api_key();
    relay.kill();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_for(&relay, home.path())
        .args(["--command", "sh", "--", "-c"])
        .args(["stty -echo; echo early-output; read x; echo late-output"])
        .spawn();
    tether.stdout.wait_for_text("early-output", DEADLINE);
    let err = tether.stderr.text();
    assert!(err.contains("unreachable"), "{err}");
    let id = tether.session_id(DEADLINE);

    relay.restart();
    eventually("the session to be registered", DEADLINE, async || {
        relay.session(&key, &id).await.is_some()
    })
    .await;
    let mut viewer = relay.connect_viewer(&id, &key, None).await;
    let join = viewer.read_history().await;
    viewer.wait_for_output(&join, b"early-output").await;
    tether.write_stdin(b"\n");
    viewer.read_output_until(b"late-output").await;
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
}

/// `--resume ID` continues the session's stream after what the relay holds.
#[tokio::test]
async fn resume_continues_the_stream() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut first = tether_for(&relay, home.path())
        .args(["--command", "sh", "--", "-c", "echo first-run"])
        .null_stdin()
        .spawn();
    let id = first.session_id(DEADLINE);
    assert_eq!(first.wait(DEADLINE).code(), Some(0));
    let mut expected = first.stdout.bytes();

    let mut second = tether_for(&relay, home.path())
        .args(["--resume", &id, "--command", "sh", "--", "-c"])
        .args(["stty -echo; echo second-run; read x"])
        .spawn();
    assert_eq!(second.session_id(DEADLINE), id);
    second.stdout.wait_for_text("second-run\r\n", DEADLINE);
    expected.extend_from_slice(&second.stdout.bytes());

    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(0));
    let got = viewer.read_output_to(join.output, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "the second run continues right after the first"
    );
    second.write_stdin(b"\n");
    assert_eq!(second.wait(DEADLINE).code(), Some(0));
}

#[tokio::test]
async fn refused_key_and_unknown_resume_id_are_explained() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_at(&relay.http_url(), "tk1.0000.not-a-real-key", home.path())
        .args(["--command", "true"])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(2));
    let err = tether.stderr.text();
    assert!(err.contains("tether --auth"), "{err}");

    let unknown = "6f1c1b1e-2f7e-4d3c-9a51-3c1f0b8e9d10";
    let mut tether = tether_for(&relay, home.path())
        .args(["--command", "true", "--resume", unknown])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(2));
    let err = tether.stderr.text();
    assert!(err.contains("unknown session"), "{err}");
}

#[tokio::test]
async fn auth_checks_and_stores_the_key() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let key = relay.create_key("alice");
    let mut tether = TetherCommand::new(home.path())
        .args(["--auth", "--api-key", &key, "--api-url", &relay.http_url()])
        .null_stdin()
        .spawn();
    let status = tether.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", tether.stderr.text());
    let config = protocol::config::Config::load(home.path()).unwrap();
    assert_eq!(config.api_key.as_deref(), Some(key.as_str()));
    assert_eq!(config.api_url, Some(relay.http_url()));
    assert_eq!(config.relay_url, Some(format!("{}/agent", relay.ws_url())));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.path().join("config.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !tether.stdout.text().contains(&key),
        "the key is never printed"
    );

    let mut tether = TetherCommand::new(home.path())
        .args(["--auth", "--api-key", "tk1.bad.key"])
        .args(["--api-url", &relay.http_url()])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(DEADLINE).code(), Some(2));
    let err = tether.stderr.text();
    assert!(err.contains("refused"), "{err}");

    // The stored key and URLs are used by the next run.
    let mut tether = TetherCommand::new(home.path())
        .args(["--command", "sh", "--", "-c", "echo ok"])
        .null_stdin()
        .spawn();
    let status = tether.wait(DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", tether.stderr.text());
}

/// A viewer's keystroke comes back (agent echo) without timer-like delays:
/// no Nagle / delayed-ACK stall (~40 ms) anywhere on the path.
#[tokio::test]
async fn keystroke_round_trip_has_no_stalls() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let tether = tether_for(&relay, home.path())
        .args([
            "--command",
            "sh",
            "--",
            "-c",
            "stty raw -echo; echo ready; exec cat",
        ])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let mut viewer = relay.joined_viewer(&id, &relay.api_key()).await;
    tether.stdout.wait_for_text("ready", DEADLINE);
    let mut times = Vec::new();
    for i in 0..100u8 {
        let byte = b'a' + i % 26;
        let sent = Instant::now();
        viewer.send(&[Frame::Input(vec![byte])]).await;
        viewer.read_output_until(&[byte]).await;
        times.push(sent.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "median round trip {median:?} (all: {times:?})"
    );
}

// ----------------------------------------------------------- terminal queries

/// Codex-style cursor position query: the agent asks `ESC[6n` and prints the
/// replies it got, in hex.
const CPR_PROBE: &str = "stty -echo -icanon min 0 time 20; echo ready; read -r x; printf '\\033[6n'; \
                         sleep 1; echo; printf 'REPLY:'; dd bs=256 count=1 2>/dev/null | od -An -tx1 | tr -d ' \\n'; \
                         echo ':END'";

/// The hex the probe prints, parsed back to bytes.
fn probe_reply(output: &str) -> Vec<u8> {
    let start = output.rfind("REPLY:").expect("REPLY:") + "REPLY:".len();
    let end = output[start..].find(":END").expect(":END") + start;
    let hex = &output[start..end];
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A viewer answers the query as xterm.js would.
async fn answer_query(viewer: &mut ViewerClient, reply: &[u8]) {
    viewer.read_output_until(b"\x1b[6n").await;
    viewer.send(&[Frame::Input(reply.to_vec())]).await;
}

#[tokio::test]
async fn without_a_local_terminal_one_viewer_answer_is_forwarded() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_for(&relay, home.path())
        .env("LINES", "24")
        .env("COLUMNS", "80")
        .env("TETHER_LOG", "debug")
        .args(["--command", "sh", "--", "-c", CPR_PROBE])
        .spawn();
    let id = tether.session_id(DEADLINE);
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", &id));
    let key = relay.api_key();
    let mut first = relay.joined_viewer(&id, &key).await;
    let mut second = relay.joined_viewer(&id, &key).await;
    tether.stdout.wait_for_text("ready", DEADLINE);
    tether.write_stdin(b"\n");
    answer_query(&mut first, b"\x1b[5;9R").await;
    answer_query(&mut second, b"\x1b[99;300R").await;
    tether.stdout.wait_for_text(":END", DEADLINE);
    // The two replies reach the wrapper in either order: exactly one of them
    // is forwarded, the other dropped, and the cursor is clamped to the PTY.
    let reply = probe_reply(&tether.stdout.text());
    assert!(
        reply == b"\x1b[5;9R" || reply == b"\x1b[24;80R",
        "exactly one answer, inside the 24x80 PTY: {:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
}

#[tokio::test]
async fn with_nobody_to_answer_the_wrapper_answers_cpr() {
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("LINES", "24")
        .env("COLUMNS", "80")
        .args(["--no-relay", "--command", "sh", "--", "-c", CPR_PROBE])
        .spawn();
    tether.stdout.wait_for_text("ready", DEADLINE);
    tether.write_stdin(b"\n");
    tether.stdout.wait_for_text(":END", DEADLINE);
    // `ready\r\n` was printed on row 1: the cursor is at row 2, column 1.
    assert_eq!(probe_reply(&tether.stdout.text()), b"\x1b[2;1R");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
}

// ------------------------------------------------------ a local terminal (tmux)

/// With a local terminal (tmux) and two viewers answering, the agent gets the
/// local terminal's answer only, inside the PTY.
#[tokio::test]
async fn with_a_local_terminal_and_two_viewers_one_answer_per_query() {
    let Some(RelayTerminal {
        tmux,
        key,
        home,
        relay,
    }) = RelayTerminal::start(100, 30)
    else {
        return;
    };
    let script = home.path().join("probe.sh");
    std::fs::write(&script, CPR_PROBE).unwrap();
    let tether = tether_bin();
    tmux.type_line(&format!(
        "clear; {} --command sh -- {}",
        tether.display(),
        script.display()
    ));
    tmux.wait_for_text("ready", DEADLINE);
    let id = tmux.session_id(DEADLINE);
    let mut first = relay.joined_viewer(&id, &key).await;
    let mut second = relay.joined_viewer(&id, &key).await;
    tmux.send_keys(&["Enter"]);
    answer_query(&mut first, b"\x1b[7;7R").await;
    answer_query(&mut second, b"\x1b[8;8R").await;
    let output = first.read_output_until(b":END").await;
    let reply = probe_reply(&String::from_utf8_lossy(&output));
    let answers = reply.iter().filter(|&&b| b == 0x1b).count();
    assert_eq!(answers, 1, "one answer: {reply:?}");
    assert!(reply.ends_with(b"R"), "a cursor position report: {reply:?}");
    assert!(
        reply != b"\x1b[7;7R" && reply != b"\x1b[8;8R",
        "the local terminal's answer: {reply:?}"
    );
}

/// `tether --auth` in a terminal asks for the key without echoing it.
#[tokio::test]
async fn auth_prompts_for_the_key_without_echo() {
    if !require_tool("tmux") {
        return;
    }
    let relay = RelayProcess::start();
    let key = relay.create_key("bob");
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap();
    // Wide enough that the key would not wrap if it were echoed.
    let tmux = Tmux::start(250, 30, &[("TETHER_HOME", home_str), ("HOME", home_str)]);
    let tether = tether_bin();
    tmux.type_line(&format!(
        "{} --auth --api-url {}",
        tether.display(),
        relay.http_url()
    ));
    tmux.wait_for_text("Paste your Tether API key:", DEADLINE);
    tmux.type_line(&key);
    let screen = tmux.wait_for_text("key accepted", DEADLINE);
    assert!(!screen.contains(&key), "the key is not shown:\n{screen}");
    let config = protocol::config::Config::load(home.path()).unwrap();
    assert_eq!(config.api_key, Some(key));
}

// ------------------------------------------------------- relays that misbehave

/// A relay that stops reading never slows the agent or the local output, and
/// tether still exits promptly with the agent's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_relay_never_slows_the_agent() {
    let relay = FakeRelay::start(Behaviour::Stuck).await;
    let home = tempfile::tempdir().unwrap();
    const N: u64 = 3_000_000; // about 21 MB, far more than TCP buffers hold
    let mut tether = tether_at(&relay.api_url(), ANY_KEY, home.path())
        .args(["--command", "sh", "--", "-c"])
        .args([format!("stty -opost; seq 1 {N}; exit 6")])
        .null_stdin()
        .spawn();
    let expected = seq_output(N);
    let started = Instant::now();
    tether
        .stdout
        .wait_for("all of the agent's output", DEADLINE, |b| {
            b.len() >= expected.len()
        });
    let output_took = started.elapsed();
    assert_eq!(tether.wait(DEADLINE).code(), Some(6));
    let exit_took = started.elapsed() - output_took;
    assert_eq!(sha256_hex(&tether.stdout.bytes()), sha256_hex(&expected));
    assert!(
        output_took < Duration::from_secs(10),
        "output took {output_took:?}"
    );
    assert!(
        exit_took < Duration::from_secs(8),
        "exit took {exit_took:?}"
    );
    let err = tether.stderr.text();
    assert!(
        err.contains("end of the output may not have reached the relay"),
        "{err}"
    );
}

/// A relay that no longer knows the session (404 on the agent link) gets it
/// registered again, with the same id, before the next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_forgot_the_session_gets_it_registered_again() {
    let relay = FakeRelay::start(Behaviour::Forgetful).await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_at(&relay.api_url(), ANY_KEY, home.path())
        .args(["--command", "sh", "--", "-c", "stty -echo; read x"])
        .spawn();
    eventually_blocking("a second agent link", DEADLINE, || {
        relay.requests().iter().any(|r| r == "GET /agent #2")
    });
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(0));
    let log = relay.requests();
    let registrations: Vec<_> = log
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/agent-instances"))
        .collect();
    assert_eq!(registrations.len(), 2, "{log:#?}");
    assert!(
        registrations[1].contains(SESSION_ID),
        "re-registered with the same id: {log:#?}"
    );
    let order: Vec<_> = log
        .iter()
        .map(|r| r.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        order,
        [
            "POST /api/v1/agent-instances",
            "GET /agent",
            "POST /api/v1/agent-instances",
            "GET /agent",
            "POST /api/v1/sessions/end",
        ],
        "{log:#?}"
    );
}

/// Against a legacy relay the wrapper sends only the four Omnara frame types,
/// METADATA first, and the whole output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_relay_gets_only_legacy_frames() {
    let mut relay = FakeRelay::start(Behaviour::Legacy).await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_at(&relay.api_url(), ANY_KEY, home.path())
        .args(["--command", "sh", "--", "-c"])
        .args(["stty -echo; echo ready; read x; echo legacy-output; exit 2"])
        .spawn();
    // The first frame comes as soon as the link is up.
    let first = relay.next_frame().await;
    assert!(
        matches!(first, Frame::Metadata(_)),
        "METADATA first: {first:?}"
    );
    tether.stdout.wait_for_text("ready", DEADLINE);
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(DEADLINE).code(), Some(2));
    // Everything the agent wrote (also before the link was up), only types 0-3.
    let written = tether.stdout.bytes();
    let mut output = Vec::new();
    while output.len() < written.len() {
        let frame = relay.next_frame().await;
        assert!(frame.frame_type().is_legacy(), "only types 0-3: {frame:?}");
        if let Frame::Output(data) = frame {
            output.extend_from_slice(&data);
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&output),
        String::from_utf8_lossy(&written)
    );
}
