//! `tether` with the real `tether-relay`: output reaches viewers byte-exact,
//! viewers' input and resizes reach the agent, the exit status is reported,
//! a relay restart loses nothing, and terminal queries get one answer.

use protocol::{Control, Frame};
use std::time::{Duration, Instant};
use tests::relay::{http, Event, Join, RelayProcess, ViewerClient};
use tests::wrapper::{sha256_hex, tether_bin, wait_until, TetherCommand, Tmux};

const WAIT: Duration = Duration::from_secs(20);

/// A `tether` run against `relay`, with a private home and the relay's key.
fn tether_for(relay: &RelayProcess, home: &std::path::Path) -> TetherCommand {
    TetherCommand::new(home)
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
}

/// Reads OUTPUT until `len` bytes arrived (history and live), failing on a gap.
async fn read_output(viewer: &mut ViewerClient, mut output: Vec<u8>, len: usize) -> Vec<u8> {
    let deadline = Instant::now() + WAIT;
    while output.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        match viewer.socket.next_event_within(left).await {
            Some(Event::Frame(Frame::Output(data))) => output.extend_from_slice(&data),
            Some(Event::Frame(Frame::Control(Control::Gap { from, to }))) => {
                panic!("gap {from}..{to} after {} bytes", output.len())
            }
            Some(Event::Frame(_)) => {}
            other => panic!("after {} of {len} bytes: {other:?}", output.len()),
        }
    }
    output
}

/// The first frame matching `want`, from the join or (if not there) live.
async fn wait_frame(
    viewer: &mut ViewerClient,
    join: &Join,
    want: impl Fn(&Frame) -> bool,
) -> Frame {
    if let Some(frame) = join.frames.iter().find(|f| want(f)) {
        return frame.clone();
    }
    loop {
        match viewer.socket.next_event().await {
            Event::Frame(frame) if want(&frame) => return frame,
            Event::Frame(_) => {}
            other => panic!("waiting for a frame, got {other:?}"),
        }
    }
}

fn seq_output(n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n as usize * 8);
    for i in 1..=n {
        out.extend_from_slice(i.to_string().as_bytes());
        out.push(b'\n');
    }
    out
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
    let id = tether.session_id(WAIT);
    let _log = PrintOnPanic(home.path().join("sh_wrapper").join(format!("{id}.log")));
    let _relay_log = PrintOnPanic(relay.home().join("relay.log"));
    tether.stdout.wait_for_text("ready\n", WAIT);

    // A viewer joins before the output starts and reads it live.
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &relay.api_key(), None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    tether.write_stdin(b"go\n");

    let mut expected = b"ready\n".to_vec();
    expected.extend_from_slice(&seq_output(N));
    let got = read_output(&mut viewer, join.output, expected.len()).await;
    assert_eq!(
        tether.wait(WAIT).code(),
        Some(0),
        "{}",
        tether.stderr.text()
    );
    assert_eq!(got.len(), expected.len());
    assert_eq!(
        sha256_hex(&got),
        sha256_hex(&expected),
        "viewer bytes differ"
    );
    assert_eq!(
        sha256_hex(&tether.stdout.bytes()),
        sha256_hex(&expected),
        "local bytes differ"
    );
    let (status, json) = http(
        "GET",
        &format!("{}/api/v1/agent-instances/{id}", relay.http_url()),
        Some(&relay.api_key()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["exit_status"], 0, "{json}");
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
    let id = tether.session_id(WAIT);
    let key = relay.api_key();
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    // The viewer may join before the wrapper's link is up: METADATA then comes live.
    let metadata = match wait_frame(&mut viewer, &join, |f| matches!(f, Frame::Metadata(_))).await {
        Frame::Metadata(m) => m,
        _ => unreachable!(),
    };
    assert_eq!(metadata.agent, "sh");
    assert_eq!(metadata.agent_display_name.as_deref(), Some("input test"));
    assert_eq!(metadata.extra["local_terminal"], false);
    if !tests::relay::contains(&join.output, b"ready") {
        viewer.read_output_until(b"ready").await;
    }

    viewer
        .send(&[Frame::Input(b"hello from the browser\r".to_vec())])
        .await;
    viewer
        .read_output_until(b"got:hello from the browser")
        .await;
    assert_eq!(tether.wait(WAIT).code(), Some(3));
    tether
        .stdout
        .wait_for_text("got:hello from the browser", WAIT);
    let ended = viewer
        .wait_control(|c| matches!(c, Control::SessionEnded { .. }))
        .await;
    assert_eq!(
        ended,
        Control::SessionEnded {
            exit_status: Some(3)
        }
    );

    let (status, json) = http(
        "GET",
        &format!("{}/api/v1/agent-instances/{id}", relay.http_url()),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["exit_status"], 3, "{json}");
    assert_eq!(json["name"], "input test", "{json}");
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
    let id = tether.session_id(WAIT);
    tether.stdout.wait_for_text("line 20\r\n", WAIT);
    relay.kill();
    // The agent keeps running and printing while the relay is down.
    tether.stdout.wait_for_text("line 120\r\n", WAIT);
    relay.restart();
    tether.stdout.wait_for_text("all-written\r\n", WAIT);
    let written = tether.stdout.bytes();

    // The wrapper retries every 5 s: wait for the re-upload through a viewer.
    let key = relay.api_key();
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    assert_eq!(
        join.start,
        Some(0),
        "the restarted relay holds the stream from byte 0"
    );
    let got = read_output(&mut viewer, join.output, written.len()).await;
    assert_eq!(
        got, written,
        "exactly the agent's bytes: no gap, no duplicate"
    );

    tether.write_stdin(b"\n");
    viewer.read_output_until(b"bye").await;
    assert_eq!(tether.wait(WAIT).code(), Some(0));
    let err = tether.stderr.text();
    assert!(
        err.contains("relay link dropped"),
        "one line about the lost link: {err}"
    );
    let log_dir = home.path().join("sh_wrapper");
    let log = std::fs::read_to_string(log_dir.join(format!("{id}.log"))).expect("the wrapper log");
    assert!(log.contains("relay connection failed"), "{log}");
    assert!(!log.contains(&key), "the log never holds the key");
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
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", format!("http://127.0.0.1:{port}"))
        .env("TETHER_API_KEY", "tk1.some.key")
        .args(["--command", "sh", "--", "-c", "echo works-offline; exit 4"])
        .null_stdin()
        .spawn();
    tether.stdout.wait_for_text("works-offline", WAIT);
    assert_eq!(tether.wait(WAIT).code(), Some(4));
    let err = tether.stderr.text();
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("running locally"), "{err}");
    assert!(err.contains("never reachable"), "{err}");
}

#[tokio::test]
async fn refused_key_and_unknown_resume_id_are_explained() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", "tk1.0000.not-a-real-key")
        .args(["--command", "true"])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(WAIT).code(), Some(2));
    assert!(
        tether.stderr.text().contains("tether --auth"),
        "{}",
        tether.stderr.text()
    );

    let mut tether = tether_for(&relay, home.path())
        .args([
            "--command",
            "true",
            "--resume",
            "6f1c1b1e-2f7e-4d3c-9a51-3c1f0b8e9d10",
        ])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(WAIT).code(), Some(2));
    assert!(
        tether.stderr.text().contains("unknown session"),
        "{}",
        tether.stderr.text()
    );
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
    assert_eq!(
        tether.wait(WAIT).code(),
        Some(0),
        "{}",
        tether.stderr.text()
    );
    let path = home.path().join("config.json");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(config["api_key"], key.as_str());
    assert_eq!(config["api_url"], relay.http_url().as_str());
    assert_eq!(
        config["relay_url"],
        format!("{}/agent", relay.ws_url()).as_str()
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        !tether.stdout.text().contains(&key),
        "the key is never printed"
    );

    let mut tether = TetherCommand::new(home.path())
        .args([
            "--auth",
            "--api-key",
            "tk1.bad.key",
            "--api-url",
            &relay.http_url(),
        ])
        .null_stdin()
        .spawn();
    assert_eq!(tether.wait(WAIT).code(), Some(2));
    assert!(
        tether.stderr.text().contains("refused"),
        "{}",
        tether.stderr.text()
    );

    // The stored key and URLs are used by the next run.
    let mut tether = TetherCommand::new(home.path())
        .args(["--command", "sh", "--", "-c", "echo ok"])
        .null_stdin()
        .spawn();
    assert_eq!(
        tether.wait(WAIT).code(),
        Some(0),
        "{}",
        tether.stderr.text()
    );
}

/// Viewer RESIZE requests: debounced (latest wins) and applied in steps.
#[tokio::test]
async fn viewer_resizes_are_debounced_and_stepped() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether_for(&relay, home.path())
        .env("LINES", "24")
        .env("COLUMNS", "80")
        .args([
            "--command",
            "sh",
            "--",
            "-c",
            "stty -echo; echo ready; read x; stty size",
        ])
        .spawn();
    let id = tether.session_id(WAIT);
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &relay.api_key(), None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    wait_frame(&mut viewer, &join, |f| {
        *f == Frame::Resize(protocol::Size { rows: 24, cols: 80 })
    })
    .await;

    viewer
        .send(&[Frame::Resize(protocol::Size { rows: 30, cols: 90 })])
        .await;
    viewer
        .send(&[Frame::Resize(protocol::Size {
            rows: 40,
            cols: 150,
        })])
        .await;
    let asked = Instant::now();
    let mut sizes = Vec::new();
    while sizes.last() != Some(&(40, 150)) {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Resize(protocol::Size { rows, cols })) => sizes.push((rows, cols)),
            Event::Frame(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "debounced: applied after {took:?}"
    );
    assert!(
        !sizes.contains(&(30, 90)),
        "the superseded request was skipped: {sizes:?}"
    );
    assert!(sizes.len() >= 3, "a large change goes in steps: {sizes:?}");
    for pair in sizes.windows(2) {
        assert!(
            pair[1].1 > pair[0].1,
            "columns grow step by step: {sizes:?}"
        );
    }
    tether.write_stdin(b"\n");
    tether.stdout.wait_for_text("40 150", WAIT);
    assert_eq!(tether.wait(WAIT).code(), Some(0));
}

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

/// Two viewers answer a query as xterm.js would.
async fn answer_queries(viewer: &mut ViewerClient, reply: &[u8]) {
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
        .args(["--command", "sh", "--", "-c", CPR_PROBE])
        .env("TETHER_LOG", "debug")
        .spawn();
    let id = tether.session_id(WAIT);
    let key = relay.api_key();
    let log = home.path().join("sh_wrapper").join(format!("{id}.log"));
    let _print = PrintOnPanic(log);
    let mut first = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let mut second = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    first.read_history().await;
    second.read_history().await;
    tether.stdout.wait_for_text("ready", WAIT);
    tether.write_stdin(b"\n");
    answer_queries(&mut first, b"\x1b[5;9R").await;
    answer_queries(&mut second, b"\x1b[99;300R").await;
    tether.stdout.wait_for_text(":END", WAIT);
    // The two replies reach the wrapper in either order: exactly one of them
    // is forwarded, the other dropped, and the cursor is clamped to the PTY.
    let reply = probe_reply(&tether.stdout.text());
    assert!(
        reply == b"\x1b[5;9R" || reply == b"\x1b[24;80R",
        "exactly one answer, inside the 24x80 PTY: {:?}",
        String::from_utf8_lossy(&reply)
    );
    assert_eq!(tether.wait(WAIT).code(), Some(0));
}

#[tokio::test]
async fn with_nobody_to_answer_the_wrapper_answers_cpr() {
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("LINES", "24")
        .env("COLUMNS", "80")
        .args(["--no-relay", "--command", "sh", "--", "-c", CPR_PROBE])
        .spawn();
    tether.stdout.wait_for_text("ready", WAIT);
    tether.write_stdin(b"\n");
    tether.stdout.wait_for_text(":END", WAIT);
    // `ready\r\n` was printed on row 1: the cursor is at row 2, column 1.
    assert_eq!(probe_reply(&tether.stdout.text()), b"\x1b[2;1R");
    assert_eq!(tether.wait(WAIT).code(), Some(0));
}

/// A 100×30 tmux terminal whose shell has `home` as its home and Tether's
/// home, and the relay's API URL and `key` in its environment.
fn tmux_for(relay: &RelayProcess, home: &std::path::Path, key: &str) -> Tmux {
    let home = home.to_str().unwrap();
    let api = relay.http_url();
    Tmux::start(
        100,
        30,
        &[
            ("TETHER_HOME", home),
            ("HOME", home),
            ("TETHER_API_URL", &api),
            ("TETHER_API_KEY", key),
        ],
    )
}

/// With a local terminal (tmux) and two viewers answering, the agent gets the
/// local terminal's answer only, inside the PTY.
#[tokio::test]
async fn with_a_local_terminal_and_two_viewers_one_answer_per_query() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping");
        return;
    }
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let key = relay.api_key();
    let tmux = tmux_for(&relay, home.path(), &key);
    let script = home.path().join("probe.sh");
    std::fs::write(&script, CPR_PROBE).unwrap();
    tmux.type_line(&format!(
        "clear; {} --command sh -- {}",
        tether_bin().display(),
        script.display()
    ));
    let screen = tmux.wait_for_text("ready", WAIT);
    let id = screen
        .lines()
        .find_map(|l| l.split("/s/").nth(1))
        .expect("dashboard line on screen")
        .trim()
        .to_string();
    let mut first = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let mut second = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    first.read_history().await;
    second.read_history().await;
    tmux.send_keys(&["Enter"]);
    answer_queries(&mut first, b"\x1b[7;7R").await;
    answer_queries(&mut second, b"\x1b[8;8R").await;
    let output = first.read_output_until(b":END").await;
    let text = String::from_utf8_lossy(&output);
    let reply = probe_reply(&text);
    assert_eq!(
        reply.iter().filter(|&&b| b == 0x1b).count(),
        1,
        "one answer: {reply:?}"
    );
    assert!(reply.ends_with(b"R"), "a cursor position report: {reply:?}");
    assert!(
        reply != b"\x1b[7;7R" && reply != b"\x1b[8;8R",
        "the local terminal's answer: {reply:?}"
    );
}

struct PrintOnPanic(std::path::PathBuf);
impl Drop for PrintOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- {} ----\n{}",
                self.0.display(),
                std::fs::read_to_string(&self.0).unwrap_or_default()
            );
        }
    }
}

/// A fake relay that registers sessions and accepts the agent link, says
/// `ready` and ACK(0), then never reads again: TCP backs up.
async fn stuck_relay() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = [0u8; 16];
            let Ok(n) = stream.peek(&mut head).await else {
                continue;
            };
            if head[..n].starts_with(b"GET /agent") {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let mut hello = Frame::Control(Control::Ready).to_bytes();
                Frame::Ack(0).encode(&mut hello);
                use futures_util::SinkExt;
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::Binary(
                        hello.into(),
                    ))
                    .await;
                held.push(ws); // never read: the wrapper's sends back up
                continue;
            }
            // A REST call: read the request, answer with a session.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !tests::relay::contains(&request, b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body =
                r#"{"agent_instance_id":"0b7c3f7e-5c1a-4f55-8f39-7d0e3c2a9b11","success":true}"#;
            let response = format!(
                "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    addr
}

/// A relay that stops reading never slows the agent or the local output, and
/// tether still exits promptly with the agent's status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_relay_never_slows_the_agent() {
    let addr = stuck_relay().await;
    let home = tempfile::tempdir().unwrap();
    const N: u64 = 3_000_000; // about 21 MB, far more than TCP buffers hold
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", format!("http://{addr}"))
        .env("TETHER_API_KEY", "tk1.any.key")
        .args(["--command", "sh", "--", "-c"])
        .args([format!("stty -opost; seq 1 {N}; exit 6")])
        .null_stdin()
        .spawn();
    let expected = seq_output(N);
    let started = Instant::now();
    tether
        .stdout
        .wait_for("all of the agent's output", WAIT, |b| {
            b.len() >= expected.len()
        });
    let output_took = started.elapsed();
    assert_eq!(tether.wait(WAIT).code(), Some(6));
    let total = started.elapsed();
    assert_eq!(sha256_hex(&tether.stdout.bytes()), sha256_hex(&expected));
    assert!(
        output_took < Duration::from_secs(10),
        "output took {output_took:?}"
    );
    assert!(
        total < output_took + Duration::from_secs(8),
        "exit took {:?}",
        total - output_took
    );
    let err = tether.stderr.text();
    assert!(
        err.contains("end of the output may not have reached the relay"),
        "{err}"
    );
}

/// Polls the API until the session exists (it is registered late when the
/// relay was down at start).
async fn wait_registered(relay: &RelayProcess, key: &str, id: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = format!("{}/api/v1/agent-instances/{id}", relay.http_url());
        let (status, _) = http("GET", &url, Some(key), None).await;
        if status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "session {id} never registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    tether.stdout.wait_for_text("early-output", WAIT);
    assert!(
        tether.stderr.text().contains("unreachable"),
        "{}",
        tether.stderr.text()
    );
    let id = tether.session_id(WAIT);
    relay.restart();
    wait_registered(&relay, &key, &id).await;
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    if !tests::relay::contains(&join.output, b"early-output") {
        viewer.read_output_until(b"early-output").await;
    }
    tether.write_stdin(b"\n");
    viewer.read_output_until(b"late-output").await;
    assert_eq!(tether.wait(WAIT).code(), Some(0));
}

/// `--resume ID` continues the session's stream after what the relay holds.
#[tokio::test]
async fn resume_continues_the_stream() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let home = tempfile::tempdir().unwrap();
    let mut first = tether_for(&relay, home.path())
        .args(["--command", "sh", "--", "-c", "echo first-run"])
        .null_stdin()
        .spawn();
    let id = first.session_id(WAIT);
    assert_eq!(first.wait(WAIT).code(), Some(0));
    let first_bytes = first.stdout.bytes();

    let mut second = tether_for(&relay, home.path())
        .args(["--resume", &id, "--command", "sh", "--", "-c"])
        .args(["stty -echo; echo second-run; read x"])
        .spawn();
    assert_eq!(second.session_id(WAIT), id);
    second.stdout.wait_for_text("second-run\r\n", WAIT);
    let mut expected = first_bytes.clone();
    expected.extend_from_slice(&second.stdout.bytes());

    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(0));
    let got = read_output(&mut viewer, join.output, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected),
        "the second run continues right after the first"
    );
    second.write_stdin(b"\n");
    assert_eq!(second.wait(WAIT).code(), Some(0));
}

/// A fake legacy (Omnara) relay: registers sessions, accepts the agent link
/// with the text `{"type":"ready"}` and forwards every frame it receives.
async fn legacy_relay() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<Frame>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncReadExt;
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = [0u8; 16];
            let Ok(n) = stream.peek(&mut head).await else {
                continue;
            };
            if head[..n].starts_with(b"GET /agent") {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let _ = ws.send(Message::text(r#"{"type":"ready"}"#)).await;
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Binary(bytes) = message {
                            for frame in
                                protocol::decode_message(&bytes, 1 << 24).expect("whole frames")
                            {
                                let _ = tx.send(frame);
                            }
                        }
                    }
                });
                continue;
            }
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !tests::relay::contains(&request, b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = r#"{"agent_instance_id":"3c1e6a52-8d0f-4b7e-9c8a-5f2d1e0b4a77"}"#;
            respond_json(&mut stream, "201 Created", body).await;
        }
    });
    (addr, rx)
}

/// Answers a fake relay's HTTP request with `status` and a JSON `body`, then
/// closes (best effort: the wrapper may already be gone).
async fn respond_json(stream: &mut tokio::net::TcpStream, status: &str, body: &str) {
    use tokio::io::AsyncWriteExt;
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

/// Against a legacy relay the wrapper sends only the four Omnara frame types,
/// METADATA first, and the whole output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_relay_gets_only_legacy_frames() {
    let (addr, mut frames) = legacy_relay().await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", format!("http://{addr}"))
        .env("TETHER_API_KEY", "tk1.any.key")
        .args(["--command", "sh", "--", "-c"])
        .args(["stty -echo; echo ready; read x; echo legacy-output; exit 2"])
        .spawn();
    // The first frame comes as soon as the link is up.
    let first = tokio::time::timeout(WAIT, frames.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, Frame::Metadata(_)),
        "METADATA first: {first:?}"
    );
    tether.stdout.wait_for_text("ready", WAIT);
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(WAIT).code(), Some(2));
    // Everything the agent wrote (also before the link was up), only types 0-3.
    let written = tether.stdout.bytes();
    let mut output = Vec::new();
    while output.len() < written.len() {
        let frame = tokio::time::timeout(WAIT, frames.recv())
            .await
            .expect("the rest of the output")
            .expect("the fake relay is running");
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

/// Local terminal attached (tmux): a viewer's resize takes control of the
/// PTY size; resizing the local terminal takes it back.
#[tokio::test]
async fn a_viewer_takes_control_and_the_local_terminal_takes_it_back() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping");
        return;
    }
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let key = relay.api_key();
    let tmux = tmux_for(&relay, home.path(), &key);
    tmux.type_line(&format!("clear; {} --command sh", tether_bin().display()));
    let screen = tmux.wait_for_text("/s/", WAIT);
    let id = screen
        .lines()
        .find_map(|l| l.split("/s/").nth(1))
        .expect("dashboard line on screen")
        .trim()
        .to_string();
    tmux.wait_for_process("sh", WAIT);
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    wait_frame(&mut viewer, &join, |f| {
        *f == Frame::Resize(protocol::Size {
            rows: 30,
            cols: 100,
        })
    })
    .await;

    viewer
        .send(&[Frame::Resize(protocol::Size { rows: 20, cols: 60 })])
        .await;
    wait_frame(&mut viewer, &Join::default(), |f| {
        *f == Frame::Resize(protocol::Size { rows: 20, cols: 60 })
    })
    .await;
    tmux.type_line("stty size");
    tmux.wait_for_text("20 60", WAIT);

    tmux.resize(110, 35);
    wait_frame(&mut viewer, &Join::default(), |f| {
        *f == Frame::Resize(protocol::Size {
            rows: 35,
            cols: 110,
        })
    })
    .await;
    tmux.type_line("clear; stty size");
    tmux.wait_for_text("35 110", WAIT);
    tmux.type_line("exit");
    tmux.wait_until_idle(WAIT);
}

/// `tether --auth` in a terminal asks for the key without echoing it.
#[tokio::test]
async fn auth_prompts_for_the_key_without_echo() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping");
        return;
    }
    let relay = RelayProcess::start();
    let key = relay.create_key("bob");
    let home = tempfile::tempdir().unwrap();
    let home_str = home.path().to_str().unwrap().to_string();
    // Wide enough that the key would not wrap if it were echoed.
    let tmux = Tmux::start(250, 30, &[("TETHER_HOME", &home_str), ("HOME", &home_str)]);
    tmux.type_line(&format!(
        "{} --auth --api-url {}",
        tether_bin().display(),
        relay.http_url()
    ));
    tmux.wait_for_text("Paste your Tether API key:", WAIT);
    tmux.type_line(&key);
    let screen = tmux.wait_for_text("key accepted", WAIT);
    assert!(!screen.contains(&key), "the key is not shown:\n{screen}");
    let config = std::fs::read_to_string(home.path().join("config.json")).unwrap();
    assert!(config.contains(&key));
}

/// A viewer's keystroke comes back (agent echo) without timer-like delays:
/// no Nagle / delayed-ACK stall (~40 ms) anywhere on the path.
#[tokio::test]
async fn keystroke_round_trip_has_no_stalls() {
    let relay = RelayProcess::start();
    let home = tempfile::tempdir().unwrap();
    let key = relay.api_key();
    let tether = tether_for(&relay, home.path())
        .args([
            "--command",
            "sh",
            "--",
            "-c",
            "stty raw -echo; echo ready; exec cat",
        ])
        .spawn();
    let id = tether.session_id(WAIT);
    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    viewer.read_history().await;
    tether.stdout.wait_for_text("ready", WAIT);
    let mut times = Vec::new();
    for i in 0..100u8 {
        let byte = b'a' + i % 26;
        let sent = Instant::now();
        viewer.send(&[Frame::Input(vec![byte])]).await;
        loop {
            match viewer.socket.next_event().await {
                Event::Frame(Frame::Output(data)) if data.contains(&byte) => break,
                Event::Frame(_) => {}
                other => panic!("{other:?}"),
            }
        }
        times.push(sent.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "median round trip {median:?} (all: {times:?})"
    );
}

/// A TCP proxy in front of the relay whose connections can all be cut at
/// once (a network blip: the relay itself keeps running and remembers).
struct CuttableProxy {
    addr: std::net::SocketAddr,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CuttableProxy {
    async fn start(backend: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let registry = std::sync::Arc::clone(&links);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let task = tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(backend).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                registry.lock().unwrap().push(task.abort_handle());
            }
        });
        Self { addr, links }
    }

    /// Drops every open connection (new ones are still accepted).
    fn cut(&self) {
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
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
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", format!("http://{}", proxy.addr))
        .env("TETHER_API_KEY", &key)
        .args(["--command", "sh", "--", "-c", script])
        .spawn();
    let id = tether.session_id(WAIT);
    tether.stdout.wait_for_text("line 40\r\n", WAIT);
    proxy.cut();
    tether.stdout.wait_for_text("line 120\r\n", WAIT);
    proxy.cut();
    tether.stdout.wait_for_text("all-written\r\n", WAIT);
    let written = tether.stdout.bytes();

    let mut viewer = ViewerClient::connect(&relay.ws_url(), &id, &key, None)
        .await
        .unwrap();
    let join = viewer.read_history().await;
    assert_eq!(join.start, Some(0));
    let got = read_output(&mut viewer, join.output, written.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&written),
        "exactly the agent's bytes"
    );
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(WAIT).code(), Some(0));
    let log =
        std::fs::read_to_string(home.path().join("sh_wrapper").join(format!("{id}.log"))).unwrap();
    assert!(log.contains("reconnecting at once"), "{log}");
}

/// A fake relay that has forgotten every session on its first agent link
/// (HTTP 404, as after a restart with a new data dir) and records the
/// requests it gets: `POST /api/...` bodies and `GET /agent` attempts.
async fn forgetful_relay() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use futures_util::SinkExt;
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let requests = std::sync::Arc::clone(&log);
    tokio::spawn(async move {
        let mut agent_links = 0;
        let mut held = Vec::new();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = [0u8; 16];
            let Ok(n) = stream.peek(&mut head).await else {
                continue;
            };
            if head[..n].starts_with(b"GET /agent") {
                agent_links += 1;
                requests
                    .lock()
                    .unwrap()
                    .push(format!("GET /agent #{agent_links}"));
                if agent_links == 1 {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    respond_json(
                        &mut stream,
                        "404 Not Found",
                        r#"{"error":"unknown session"}"#,
                    )
                    .await;
                    continue;
                }
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    continue;
                };
                let mut hello = Frame::Control(Control::Ready).to_bytes();
                Frame::Ack(0).encode(&mut hello);
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::Binary(
                        hello.into(),
                    ))
                    .await;
                held.push(ws);
                continue;
            }
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
                // Headers and the (small, sized) JSON body are in.
                if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                    let text = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                    let length = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let line = text.lines().next().unwrap_or_default().to_string();
            let body = text
                .split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_string();
            requests.lock().unwrap().push(format!("{line} {body}"));
            let answer = r#"{"agent_instance_id":"5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12"}"#;
            respond_json(&mut stream, "201 Created", answer).await;
        }
    });
    (addr, log)
}

/// A relay that no longer knows the session (404 on the agent link) gets it
/// registered again, with the same id, before the next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_forgot_the_session_gets_it_registered_again() {
    let (addr, requests) = forgetful_relay().await;
    let home = tempfile::tempdir().unwrap();
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", format!("http://{addr}"))
        .env("TETHER_API_KEY", "tk1.any.key")
        .args(["--command", "sh", "--", "-c", "stty -echo; read x"])
        .spawn();
    wait_until("a second agent link", WAIT, || {
        let log = requests.lock().unwrap();
        log.iter().any(|r| r == "GET /agent #2").then_some(())
    });
    tether.write_stdin(b"\n");
    assert_eq!(tether.wait(WAIT).code(), Some(0));
    let log = requests.lock().unwrap().clone();
    let registrations: Vec<_> = log
        .iter()
        .filter(|r| r.starts_with("POST /api/v1/agent-instances"))
        .collect();
    assert_eq!(registrations.len(), 2, "{log:#?}");
    assert!(
        registrations[1].contains("5d2f7a10-3c4b-4e8f-9a61-2b7c8d9e0f12"),
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
