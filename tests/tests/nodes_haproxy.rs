//! The whole multi-node path: a real `tether` runs a program through HAProxy
//! in front of three relay nodes (on Redis and PostgreSQL); viewers watch through
//! HAProxy and straight at each node. Every viewer sees every byte of 20 MB
//! (SHA-256 equal), a line typed in a viewer on a node that does not hold
//! the agent link reaches the program, and the node holding it is killed
//! (SIGKILL) mid-stream: the wrapper lands on another node and re-uploads
//! from what it retained, the viewers reconnect and resume by offset, and
//! the stream stays byte-exact — nothing lost, nothing duplicated.

use std::time::Duration;

use protocol::{Control, Frame};
use tests::relay::{contains, Event, RelayNodes, ViewerClient};
use tests::services::haproxy::HaproxyServer;
use tests::wait::{eventually, SYSTEM_DEADLINE};
use tests::wrapper::{sha256_hex, wrapper_log, PrintOnPanic, TetherCommand};

/// Numbers printed before the program waits for a line from a viewer.
const FIRST: u64 = 1_200_000;
/// Numbers printed after it, in blocks with a pause between them, so that
/// the owner node dies while the output flows.
const BLOCKS: u64 = 56;
const BLOCK: u64 = 25_000;

/// The program: `ready`, numbers, a wait for `go`, more numbers slowly.
fn script() -> String {
    format!(
        "stty -opost -echo; echo ready; seq 1 {FIRST}; read go; i=0; \
         while [ $i -lt {BLOCKS} ]; do seq $((i*{BLOCK}+{FIRST}+1)) $(((i+1)*{BLOCK}+{FIRST})); \
         i=$((i+1)); sleep 0.03; done; echo done"
    )
}

/// What the program prints.
fn expected() -> Vec<u8> {
    let mut out = b"ready\n".to_vec();
    for i in 1..=FIRST + BLOCKS * BLOCK {
        out.extend_from_slice(format!("{i}\n").as_bytes());
    }
    out.extend_from_slice(b"done\n");
    out
}

/// Reads the session's output from wherever `url(attempt)` points, to
/// `len` bytes, reconnecting from the last byte received whenever the link
/// closes: each resume must start exactly there and no gap may be reported.
async fn watch(url: impl Fn(usize) -> String, session: String, key: String, len: usize) -> Vec<u8> {
    let mut got: Vec<u8> = Vec::with_capacity(len);
    let mut attempt = 0;
    while got.len() < len {
        let from = Some(got.len() as u64);
        let Ok(mut viewer) = ViewerClient::connect(&url(attempt), &session, &key, from).await
        else {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        attempt += 1;
        loop {
            match viewer.socket.next_event().await {
                Event::Frame(Frame::StreamOffset(at)) => {
                    assert_eq!(at, got.len() as u64, "resumed elsewhere than asked")
                }
                Event::Frame(Frame::Output(data)) => got.extend_from_slice(&data),
                Event::Frame(Frame::Control(Control::Gap { from, to })) => {
                    panic!("gap {from}..{to} after {} bytes", got.len())
                }
                Event::Frame(_) | Event::Text(_) => {}
                Event::Closed(..) | Event::Gone => break,
            }
            if got.len() >= len {
                break;
            }
        }
    }
    got
}

/// Reads `viewer`'s output until `text` has been shown (looking only at
/// the latest bytes: the output runs to megabytes).
async fn wait_for_text(viewer: &mut ViewerClient, text: &str) {
    let needle = text.as_bytes();
    let mut tail: Vec<u8> = Vec::new();
    loop {
        match viewer.socket.next_event().await {
            Event::Frame(Frame::Output(data)) => {
                tail.extend_from_slice(&data);
                if contains(&tail, needle) {
                    return;
                }
                let keep = tail.len().saturating_sub(needle.len());
                tail.drain(..keep);
            }
            Event::Frame(_) => {}
            other => panic!("waiting for {text:?}, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_haproxy_every_byte_reaches_every_viewer_and_survives_its_node() {
    // Rings that hold the whole stream: the new owner gets all the wrapper
    // retained (16 MiB) at once, faster than a debug-build viewer reads.
    let Some(mut nodes) = RelayNodes::start_on_postgres(3, &["--history-bytes", "32M"]) else {
        return;
    };
    let addrs = [0, 1, 2].map(|i| nodes.node(i).addr());
    let Some(lb) = HaproxyServer::start(addrs) else {
        return;
    };
    let key = nodes.key();
    let home = tempfile::tempdir().unwrap();
    let _relay_log = PrintOnPanic(nodes.node(0).home().join("relay.log"));
    let mut tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", lb.http_url())
        .env("TETHER_API_KEY", &key)
        .args(["--command", "sh", "--", "-c", &script()])
        .spawn();
    let id = tether.session_id(SYSTEM_DEADLINE);
    let _log = PrintOnPanic(wrapper_log(home.path(), "sh", &id));
    let expected = expected();
    let len = expected.len();

    // Which node holds the agent link (HAProxy chose it).
    let owner = eventually(
        "one node holds the agent link",
        SYSTEM_DEADLINE,
        async || {
            for (i, node) in nodes.nodes.iter().enumerate() {
                if node.metric("tether_relay_agents").await == 1 {
                    return Some(i);
                }
            }
            None
        },
    )
    .await;
    let typist = (owner + 1) % 3;

    // Viewers: through HAProxy, and straight at each node. One straight at
    // the owner goes through HAProxy once that node is gone, as a browser
    // behind the load balancer would.
    let mut watchers = Vec::new();
    let lb_url = lb.ws_url();
    watchers.push(tokio::spawn(watch(
        move |_| lb_url.clone(),
        id.clone(),
        key.clone(),
        len,
    )));
    for i in 0..3 {
        let direct = nodes.node(i).ws_url();
        let lb_url = lb.ws_url();
        let url = move |attempt: usize| match (i == owner, attempt) {
            (true, 1..) => lb_url.clone(),
            _ => direct.clone(),
        };
        watchers.push(tokio::spawn(watch(url, id.clone(), key.clone(), len)));
    }

    // A line typed on a node that does not hold the agent link.
    let mut typing = nodes.node(typist).connect_viewer(&id, &key, None).await;
    wait_for_text(&mut typing, &format!("\n{FIRST}\n")).await;
    typing.send(&[Frame::Input(b"go\n".to_vec())]).await;
    wait_for_text(&mut typing, &format!("\n{}\n", FIRST + 3 * BLOCK)).await;

    // Mid-stream, the owner dies.
    nodes.nodes[owner].kill();
    let mut seen = Vec::new();
    for watcher in watchers {
        let got = tokio::time::timeout(SYSTEM_DEADLINE, watcher)
            .await
            .expect("every viewer gets the whole stream in time")
            .expect("a viewer task");
        seen.push(sha256_hex(&got));
        assert_eq!(got.len(), len);
    }
    let want = sha256_hex(&expected);
    assert!(seen.iter().all(|s| *s == want), "{seen:?} vs {want}");
    assert_eq!(tether.wait(SYSTEM_DEADLINE).code(), Some(0));
    assert_eq!(
        sha256_hex(&tether.stdout.bytes()),
        want,
        "the local terminal"
    );
    let survivors: Vec<_> = (0..3).filter(|i| *i != owner).collect();
    for i in survivors {
        let info = nodes.node(i).session(&key, &id).await.expect("listed");
        assert_eq!(info.status, "ended", "node{}: {info:?}", i + 1);
        assert_eq!(info.exit_status, Some(0));
    }
}
