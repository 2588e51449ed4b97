//! The REST API, the local-dev first start, persistence across restarts,
//! static files, metrics, retention and graceful shutdown.

use protocol::{Control, Frame};
use serde_json::json;
use tests::relay::{fetch, http, RelayProcess, SessionFixture};
use tests::wait::{eventually, DEADLINE};

#[tokio::test]
async fn sessions_are_registered_listed_shown_with_messages_and_ended() {
    let relay = RelayProcess::start();
    let key = relay.api_key();

    let body = json!({"agent_type": "codex", "transport": "ws", "name": "fix the tests"});
    let (status, created) = relay
        .api("POST", "agent-instances", &key, Some(&body))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["agent_instance_id"].as_str().unwrap().to_string();
    assert_eq!(created["id"], created["agent_instance_id"]);
    assert_eq!(
        (created["agent_type"].as_str(), created["name"].as_str()),
        (Some("codex"), Some("fix the tests"))
    );
    assert_eq!(created["status"], "offline");
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    for content in ["Started terminal session", "needs input?"] {
        let body = json!({"content": content, "agent_instance_id": id, "requires_user_input": content.ends_with('?')});
        let (status, posted) = relay.api("POST", "messages/agent", &key, Some(&body)).await;
        assert_eq!(
            (status, posted["success"].as_bool()),
            (200, Some(true)),
            "{posted}"
        );
        assert_eq!(posted["agent_instance_id"].as_str(), Some(id.as_str()));
        assert!(posted["message_id"].is_string());
    }

    let mut agent = relay.connect_agent(&id, &key).await;
    let mut viewer = relay.joined_viewer(&id, &key).await;
    let (_, list) = relay.api("GET", "agent-instances", &key, None).await;
    let listed = &list.as_array().unwrap()[0];
    assert_eq!(
        (listed["id"].as_str(), listed["status"].as_str()),
        (Some(id.as_str()), Some("live"))
    );
    assert_eq!(listed["viewer_count"], 1);

    let (_, shown) = relay
        .api(
            "GET",
            &format!("agent-instances/{id}?message_limit=1"),
            &key,
            None,
        )
        .await;
    let messages = shown["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (
            messages[0]["content"].as_str(),
            messages[0]["requires_user_input"].as_bool()
        ),
        (Some("needs input?"), Some(true))
    );

    let body = json!({"agent_instance_id": id, "exit_status": 3});
    let (status, ended) = relay.api("POST", "sessions/end", &key, Some(&body)).await;
    assert_eq!(
        (status, ended["final_status"].as_str()),
        (200, Some("ended"))
    );
    viewer
        .wait_control(|c| {
            *c == Control::SessionEnded {
                exit_status: Some(3),
            }
        })
        .await;
    let (_, shown) = relay
        .api("GET", &format!("agent-instances/{id}"), &key, None)
        .await;
    assert_eq!(
        (shown["status"].as_str(), shown["exit_status"].as_i64()),
        (Some("ended"), Some(3))
    );

    // The agent reporting its exit ends a session too.
    let (_, second) = relay
        .api(
            "POST",
            "agent-instances",
            &key,
            Some(&json!({"agent_type": "claude"})),
        )
        .await;
    let second = second["id"].as_str().unwrap().to_string();
    drop(agent);
    agent = relay.connect_agent(&second, &key).await;
    let mut viewer = relay.joined_viewer(&second, &key).await;
    agent
        .send(&[Frame::Control(Control::AgentExited {
            exit_status: Some(0),
        })])
        .await;
    viewer
        .wait_control(|c| {
            *c == Control::SessionEnded {
                exit_status: Some(0),
            }
        })
        .await;
}

#[tokio::test]
async fn bad_requests_get_json_errors_with_fitting_statuses() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let (status, body) = relay
        .api("POST", "agent-instances", &key, Some(&json!({"nope": 1})))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("bad request body"),
        "{body}"
    );
    let unknown = "00000000-0000-4000-8000-000000000000";
    let (status, body) = relay
        .api("GET", &format!("agent-instances/{unknown}"), &key, None)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown session"))
    );
    let (status, _) = relay
        .api("GET", "agent-instances/not-a-uuid", &key, None)
        .await;
    assert_eq!(status, 400);
    let body = json!({"agent_instance_id": unknown});
    assert_eq!(
        relay.api("POST", "sessions/end", &key, Some(&body)).await.0,
        404
    );
}

#[tokio::test]
async fn the_first_start_saves_a_private_key_that_later_starts_reuse() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut relay = RelayProcess::start();
    let config = relay.home().join("config.json");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert_eq!(saved["api_url"].as_str(), Some(relay.http_url().as_str()));
    assert_eq!(
        saved["relay_url"].as_str(),
        Some(format!("{}/agent", relay.ws_url()).as_str())
    );
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let bob = relay.create_key("bob");

    relay.restart();
    assert_eq!(relay.api_key(), key, "a later start keeps the key");
    let list = format!("{}/api/v1/agent-instances", relay.http_url());
    let (status, sessions) = http("GET", &list, Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        sessions[0]["id"].as_str(),
        Some(session.as_str()),
        "the registry survives"
    );
    assert_eq!(
        http("GET", &list, Some(&bob), None).await.0,
        200,
        "created keys survive"
    );
    let log = relay.log();
    assert!(
        !log.contains(&key) && !log.contains(&bob),
        "keys never reach the log"
    );
}

#[tokio::test]
async fn health_metrics_and_static_files() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(dist.path().join("index.html"), "<html>viewer</html>").unwrap();
    std::fs::write(dist.path().join("viewer_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dist.path().join("xterm.mjs"), "export {}").unwrap();
    let relay = RelayProcess::start_with(&["--static-dir", dist.path().to_str().unwrap()]);
    let base = relay.http_url();

    let (status, health) = http("GET", &format!("{base}/health"), None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let metrics = fetch(
        "GET",
        &format!("{base}/metrics"),
        Some(&relay.api_key()),
        None,
    )
    .await;
    assert_eq!(metrics.status, 200);
    let metrics = metrics.text();
    for name in [
        "sessions",
        "viewers",
        "bytes_in_total",
        "bytes_out_total",
        "frames_dropped_total",
        "auth_failures_total",
    ] {
        assert!(
            metrics.contains(&format!("\ntether_relay_{name} ")),
            "{name} in {metrics}"
        );
    }

    for (path, body) in [
        ("/", "<html>viewer</html>"),
        (
            "/s/00000000-0000-4000-8000-000000000000",
            "<html>viewer</html>",
        ),
    ] {
        let page = fetch("GET", &format!("{base}{path}"), None, None).await;
        assert_eq!((page.status, page.text().as_str()), (200, body));
    }
    let content_type = async |path: &str| {
        let reply = fetch("GET", &format!("{base}{path}"), None, None).await;
        reply.header("content-type").map(str::to_owned)
    };
    assert_eq!(
        content_type("/viewer_bg.wasm").await.as_deref(),
        Some("application/wasm")
    );
    let module = content_type("/xterm.mjs").await.unwrap_or_default();
    assert!(module.starts_with("text/javascript"), "{module}");
    let missing = fetch("GET", &format!("{base}/missing.js"), None, None).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn sigterm_closes_links_with_1001_and_exits_cleanly() {
    let (mut fx, mut agent) = SessionFixture::with_agent(&[]).await;
    let mut viewer = fx.joined_viewer().await;
    let terminated = tokio::task::spawn_blocking(move || {
        let ok = fx.relay.terminate();
        (ok, fx)
    });
    assert_eq!(
        viewer.socket.closed().await,
        Some((1001, "relay shutting down".into()))
    );
    assert_eq!(
        agent.socket.closed().await,
        Some((1001, "relay shutting down".into()))
    );
    let (exited_cleanly, _fx) = terminated.await.unwrap();
    assert!(exited_cleanly);
}

#[tokio::test]
async fn offline_sessions_leave_memory_after_the_retention_time() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--retention", "1"]).await;
    agent.send_output(b"bytes").await;
    agent.wait_ack(5).await;
    assert_eq!(fx.relay.metric("tether_relay_sessions").await, 1);
    drop(agent);
    eventually("the session to leave memory", DEADLINE, async || {
        fx.relay.metric("tether_relay_sessions").await == 0
    })
    .await;
    // Its registration stays; a viewer finds it empty and offline.
    let mut viewer = fx.connect_viewer(None).await;
    assert!(viewer.read_history().await.output.is_empty());
}

#[tokio::test]
async fn the_persons_replies_are_pending_for_the_agent() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let id = relay.register_session(&key, "claude");
    let body =
        json!({"content": "which branch?", "agent_instance_id": id, "requires_user_input": true});
    let (_, question) = relay.api("POST", "messages/agent", &key, Some(&body)).await;
    let question_id = question["message_id"].as_str().unwrap();
    let pending_path =
        format!("messages/pending?agent_instance_id={id}&last_read_message_id={question_id}");
    let (_, pending) = relay.api("GET", &pending_path, &key, None).await;
    assert_eq!(
        (
            pending["status"].as_str(),
            pending["messages"].as_array().unwrap().len()
        ),
        (Some("ok"), 0)
    );

    let body = json!({"content": "main", "agent_instance_id": id});
    let (status, _) = relay.api("POST", "messages/user", &key, Some(&body)).await;
    assert_eq!(status, 200);
    let (_, pending) = relay.api("GET", &pending_path, &key, None).await;
    let messages = pending["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        (
            messages[0]["content"].as_str(),
            messages[0]["sender_type"].as_str()
        ),
        (Some("main"), Some("user"))
    );
}

#[tokio::test]
async fn share_links_use_the_public_url_when_set() {
    let relay = RelayProcess::start_with(&["--public-url", "https://relay.example.com/"]);
    let key = relay.api_key();
    let id = relay.register_session(&key, "claude");
    let url = format!("{}/api/v1/agent-instances/{id}/share", relay.http_url());
    let body = json!({"role": "read-only", "ttl_secs": 60});
    let (status, shared) = http("POST", &url, Some(&key), Some(&body)).await;
    assert_eq!(status, 200);
    let token = shared["token"].as_str().unwrap();
    assert_eq!(
        shared["url"].as_str().unwrap(),
        format!("https://relay.example.com/s/{id}#token={token}")
    );
}
