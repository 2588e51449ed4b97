//! Web Push end to end, against a local push service: a real `tether`
//! prints a notification, the real relay sends its owner's subscriptions one
//! encrypted, VAPID-signed push per wait (never again for the same wait
//! after a relay restart), a slow push service never delays streaming, a
//! subscription answered 410 is dropped, and with several nodes on
//! PostgreSQL a browser subscribed through one node is pushed to by another
//! with the one VAPID key they share.

use std::path::Path;
use std::time::{Duration, Instant};

use protocol::api::{PushKey, PushSubscriptionInfo};
use protocol::{Attention, AttentionState, Control, Frame};
use tests::push_service::{check_vapid, BrowserKeys, PushService, SLOW};
use tests::relay::{RelayNodes, RelayProcess};
use tests::wait::{eventually, DEADLINE};
use tests::wrapper::{TetherCommand, TetherProcess};

/// Prints a notification for each `wait` line, echoes anything else.
const AGENT: &str = r#"stty -echo; echo ready
while read line; do
  case "$line" in
    wait*) printf '\033]9;Allow %s?\007' "$line" ;;
    *) echo "echo:$line" ;;
  esac
done"#;

fn tether(relay: &RelayProcess, home: &Path) -> TetherProcess {
    TetherCommand::new(home)
        .env("TETHER_API_URL", relay.http_url())
        .env("TETHER_API_KEY", relay.api_key())
        .args([
            "--idle-after",
            "0",
            "--command",
            "sh",
            "--name",
            "fix tests",
        ])
        .args(["--", "-c", AGENT])
        .spawn()
}

fn push_relay() -> RelayProcess {
    RelayProcess::start_with(&["--push-allow-http"])
}

async fn subscribe(
    relay: &RelayProcess,
    subscription: &serde_json::Value,
) -> (u16, serde_json::Value) {
    relay
        .api(
            "POST",
            "push/subscriptions",
            &relay.api_key(),
            Some(subscription),
        )
        .await
}

async fn relay_key(relay: &RelayProcess) -> String {
    let (status, body) = relay.api("GET", "push/key", &relay.api_key(), None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value::<PushKey>(body).unwrap().public_key
}

async fn state_is(relay: &RelayProcess, id: &str, state: AttentionState) -> bool {
    let session = relay.session(&relay.api_key(), id).await;
    session
        .and_then(|s| s.attention)
        .is_some_and(|a| a.state == state)
}

#[tokio::test]
async fn a_wait_is_pushed_once_encrypted_and_signed_and_not_again_after_a_restart() {
    let mut relay = push_relay();
    let push = PushService::start().await;
    let key = relay_key(&relay).await;
    let mut browser = BrowserKeys::new();
    let (status, body) = subscribe(&relay, &browser.subscription(&push.endpoint("/phone"))).await;
    assert_eq!(status, 201, "{body}");

    let home = tempfile::tempdir().unwrap();
    let mut tether = tether(&relay, home.path());
    let id = tether.session_id(DEADLINE);
    tether.stdout.wait_for_text("ready", DEADLINE);
    tether.write_stdin(b"wait one\n");
    eventually("the push", DEADLINE, async || {
        push.requests("/phone").len() == 1
    })
    .await;

    let request = &push.requests("/phone")[0];
    assert_eq!(request.header("content-encoding"), "aes128gcm");
    assert!(request
        .header("ttl")
        .parse::<u64>()
        .is_ok_and(|ttl| ttl > 0));
    check_vapid(request, &key, &push.origin());
    let message: serde_json::Value =
        serde_json::from_slice(&browser.decrypt(&request.body)).unwrap();
    assert_eq!(message["title"], "fix tests", "{message}");
    assert_eq!(message["body"], "Allow wait one?", "{message}");
    assert_eq!(message["url"], format!("/s/{id}"), "{message}");

    // A restart: the wrapper reconnects, re-uploads and reports the same
    // wait again; nobody is alerted twice.
    relay.restart();
    eventually("the wait reported again", DEADLINE * 2, async || {
        relay
            .session(&relay.api_key(), &id)
            .await
            .and_then(|s| s.attention)
            .is_some_and(|a| {
                a.state == AttentionState::Waiting && a.text.as_deref() == Some("Allow wait one?")
            })
    })
    .await;
    // A new wait is pushed (and only it: the queue is in order).
    eventually("the agent working again", DEADLINE, async || {
        tether.write_stdin(b"go on\n");
        tokio::time::sleep(Duration::from_millis(200)).await;
        state_is(&relay, &id, AttentionState::Working).await
    })
    .await;
    tether.write_stdin(b"wait two\n");
    eventually("the second push", DEADLINE, async || {
        push.requests("/phone").len() >= 2
    })
    .await;
    let second = &push.requests("/phone")[1];
    check_vapid(second, &key, &push.origin());
    let log = relay
        .session(&relay.api_key(), &id)
        .await
        .unwrap()
        .messages
        .unwrap();
    let waits = log
        .iter()
        .filter(|m| m.content.starts_with("Waiting for you"))
        .count();
    assert_eq!(waits, 2, "{log:?}");
    assert_eq!(push.requests("/phone").len(), 2);
}

#[tokio::test]
async fn a_slow_push_service_never_delays_streaming_and_410_or_404_drops_the_subscription() {
    let relay = push_relay();
    let push = PushService::start().await;
    for path in ["/slow", "/gone", "/missing", "/broken"] {
        let (status, body) = subscribe(
            &relay,
            &BrowserKeys::new().subscription(&push.endpoint(path)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let home = tempfile::tempdir().unwrap();
    let mut tether = tether(&relay, home.path());
    let id = tether.session_id(DEADLINE);
    let mut viewer = relay.connect_viewer(&id, &relay.api_key(), None).await;
    let join = viewer.read_history().await;
    viewer.wait_for_output(&join, b"ready").await;

    tether.write_stdin(b"wait\n");
    eventually("the slow push to start", DEADLINE, async || {
        push.requests("/slow").len() == 1
    })
    .await;
    let started = Instant::now();
    // While the slow service holds its request, output streams as ever.
    for i in 0..5 {
        let line = format!("line {i}\n");
        tether.write_stdin(line.as_bytes());
        viewer
            .read_output_until(format!("echo:line {i}").as_bytes())
            .await;
    }
    assert!(
        started.elapsed() < SLOW,
        "streaming waited for the push service"
    );

    // 410 and 404 drop their subscriptions; a 500 keeps its one (it may work later).
    eventually(
        "the 410 and 404 subscriptions dropped",
        DEADLINE,
        async || {
            let (_, list) = relay
                .api("GET", "push/subscriptions", &relay.api_key(), None)
                .await;
            let list: Vec<PushSubscriptionInfo> = serde_json::from_value(list).unwrap();
            ["/gone", "/missing", "/broken"]
                .iter()
                .all(|path| !push.requests(path).is_empty())
                && list.len() == 2
        },
    )
    .await;
    eventually("the slow push accepted", DEADLINE, async || {
        relay.metric("tether_relay_push_sent_total").await == 1
    })
    .await;

    // The next wait goes to the subscriptions kept, not to those dropped.
    eventually("the agent working again", DEADLINE, async || {
        tether.write_stdin(b"go on\n");
        tokio::time::sleep(Duration::from_millis(200)).await;
        state_is(&relay, &id, AttentionState::Working).await
    })
    .await;
    tether.write_stdin(b"wait\n");
    eventually(
        "the second wait pushed to the 500 one",
        DEADLINE,
        async || push.requests("/broken").len() == 2,
    )
    .await;
    assert_eq!(push.requests("/missing").len(), 1);
    assert_eq!(push.requests("/gone").len(), 1);
}

#[tokio::test]
async fn bad_subscriptions_are_refused_and_a_user_keeps_ten() {
    let relay = push_relay();
    let keys = BrowserKeys::new();
    let mut bad = keys.subscription("https://push.example/x");
    bad["keys"]["p256dh"] = "AAAA".into();
    let (status, body) = subscribe(&relay, &bad).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap().contains("p256dh")),
        (400, true),
        "{body}"
    );
    let mut bad = keys.subscription("https://push.example/x");
    bad["keys"]["auth"] = "AAAA".into();
    assert_eq!(subscribe(&relay, &bad).await.0, 400);
    let long = format!("https://push.example/{}", "x".repeat(3000));
    assert_eq!(subscribe(&relay, &keys.subscription(&long)).await.0, 400);
    assert_eq!(
        subscribe(&relay, &keys.subscription("ftp://push.example/x"))
            .await
            .0,
        400
    );
    for i in 0..12 {
        let endpoint = format!("https://push.example/{i}");
        assert_eq!(
            subscribe(&relay, &keys.subscription(&endpoint)).await.0,
            201
        );
    }
    let (_, list) = relay
        .api("GET", "push/subscriptions", &relay.api_key(), None)
        .await;
    let list: Vec<PushSubscriptionInfo> = serde_json::from_value(list).unwrap();
    assert_eq!(list.len(), 10);
    assert!(
        list.iter().all(|s| s.origin == "https://push.example"),
        "{list:?}"
    );
    let (status, _) = relay
        .api(
            "DELETE",
            &format!("push/subscriptions/{}", list[0].id),
            &relay.api_key(),
            None,
        )
        .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn nodes_share_one_vapid_key_so_any_node_pushes_to_a_subscription_made_on_another() {
    // Separate data directories: only the database is shared, as between machines.
    let Some(nodes) = RelayNodes::start_apart(2, &["--push-allow-http"]) else {
        return;
    };
    let (first, second) = (nodes.node(0), nodes.node(1));
    let key = relay_key(first).await;
    // The first node's local-dev key: the store, and so the keys, are shared.
    let api_key = nodes.key();
    let (status, body) = second.api("GET", "push/key", &api_key, None).await;
    assert_eq!(status, 200, "{body}");
    let on_second = serde_json::from_value::<PushKey>(body).unwrap().public_key;
    assert_eq!(on_second, key, "one VAPID key on every node");
    let push = PushService::start().await;
    let mut browser = BrowserKeys::new();
    let (status, body) = subscribe(first, &browser.subscription(&push.endpoint("/phone"))).await;
    assert_eq!(status, 201, "{body}");

    let session = second.register_session(&api_key, "claude");
    let mut agent = second.connect_agent(&session, &api_key).await;
    let wait = Attention::new(AttentionState::Waiting, Some("Allow edit?".into()), Some(0));
    agent
        .send(&[Frame::Control(Control::Attention(wait))])
        .await;
    eventually("the push from node2", DEADLINE, async || {
        push.requests("/phone").len() == 1
    })
    .await;
    let request = &push.requests("/phone")[0];
    check_vapid(request, &key, &push.origin());
    let message: serde_json::Value =
        serde_json::from_slice(&browser.decrypt(&request.body)).unwrap();
    assert_eq!(message["body"], "Allow edit?", "{message}");
}
