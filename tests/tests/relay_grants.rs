//! Grants a relay on the internet hands out, and how they end: share links
//! with ids, listed and revoked on their own or with the key that minted
//! them (open viewers close within about a second), their lifetimes,
//! another user's sessions answered as unknown ones, `/metrics` behind a
//! key, and the relay's files on disk (owner-only, an existing
//! `config.json` key never replaced).

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use protocol::api::ShareInfo;
use protocol::{Frame, Role};
use serde_json::json;
use tests::relay::{fetch, workspace_binary, RelayProcess, SessionFixture};
use tests::wait::DEADLINE;

/// `GET /api/v1/agent-instances/{session}/shares` as `key`.
async fn shares(relay: &RelayProcess, key: &str, session: &str) -> Vec<ShareInfo> {
    let url = format!(
        "{}/api/v1/agent-instances/{session}/shares",
        relay.http_url()
    );
    let reply = fetch("GET", &url, Some(key), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(!reply.text().contains("token"), "lists never show tokens");
    reply.parse()
}

/// `DELETE /api/v1/shares/{id}` as `key`: the status.
async fn revoke_share(relay: &RelayProcess, key: &str, id: &str) -> u16 {
    let url = format!("{}/api/v1/shares/{id}", relay.http_url());
    fetch("DELETE", &url, Some(key), None).await.status
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Unix seconds of an RFC 3339 UTC time as the relay writes it
/// (`2026-01-02T03:04:05Z`).
fn unix_of(time: &str) -> u64 {
    let n = |range: std::ops::Range<usize>| -> i64 { time[range].parse().expect(time) };
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

#[tokio::test]
async fn revoking_the_minting_key_closes_its_share_viewers_at_once_and_refuses_new_ones() {
    let relay = RelayProcess::start();
    let owner = relay.api_key();
    let minter = relay.create_key("local");
    let session = relay.register_session(&owner, "claude");
    let mut agent = relay.connect_agent(&session, &owner).await;
    let share = relay.share(&minter, &session, Role::ReadWrite, 600).await;
    let mut helper = relay.joined_viewer(&session, &share.token).await;
    let mut owners_viewer = relay.joined_viewer(&session, &owner).await;

    relay.revoke_key(&minter);
    let revoked = Instant::now();
    relay
        .assert_share_revoked(
            &session,
            &share.token,
            revoked,
            std::slice::from_mut(&mut helper),
        )
        .await;
    assert!(!share.id.is_empty(), "a share link has an id");
    assert!(shares(&relay, &owner, &session).await.is_empty());

    // The owner's own key is untouched: its viewer keeps the stream.
    agent.send_output(b"still here").await;
    owners_viewer.read_output_until(b"still here").await;
}

#[tokio::test]
async fn a_deleted_share_closes_its_viewers_and_leaves_the_list_while_another_still_works() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    let watch = fx
        .relay
        .share(&fx.key, &fx.session, Role::ReadOnly, 600)
        .await;
    let help = fx
        .relay
        .share(&fx.key, &fx.session, Role::ReadWrite, 600)
        .await;
    let mut watchers = Vec::new();
    for _ in 0..2 {
        watchers.push(fx.relay.joined_viewer(&fx.session, &watch.token).await);
    }
    let mut helper = fx.relay.joined_viewer(&fx.session, &help.token).await;

    let listed = shares(&fx.relay, &fx.key, &fx.session).await;
    let summary: Vec<_> = listed
        .iter()
        .map(|s| (s.id.as_str(), s.role, s.viewer_count))
        .collect();
    assert_eq!(
        summary,
        [
            (watch.id.as_str(), Role::ReadOnly, 2),
            (help.id.as_str(), Role::ReadWrite, 1)
        ]
    );
    assert_eq!(listed[0].expires_at, watch.expires_at);

    assert_eq!(revoke_share(&fx.relay, &fx.key, &watch.id).await, 204);
    let revoked = Instant::now();
    (fx.relay)
        .assert_share_revoked(&fx.session, &watch.token, revoked, &mut watchers)
        .await;
    let left: Vec<_> = shares(&fx.relay, &fx.key, &fx.session)
        .await
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, std::slice::from_ref(&help.id));

    // The other link is untouched: its viewer watches and types.
    agent.send_output(b"after the revocation").await;
    helper.read_output_until(b"after the revocation").await;
    helper.send(&[Frame::Input(b"y".to_vec())]).await;
    assert_eq!(agent.next_command().await, Frame::Input(b"y".to_vec()));

    assert_eq!(revoke_share(&fx.relay, &fx.key, &watch.id).await, 204);
    assert_eq!(
        revoke_share(&fx.relay, &fx.key, "0123456789abcdef").await,
        404
    );
}

#[tokio::test]
async fn only_the_owner_lists_and_revokes_a_sessions_shares() {
    let fx = SessionFixture::start(&[]);
    let bob = fx.relay.create_key("bob");
    let share = fx
        .relay
        .share(&fx.key, &fx.session, Role::ReadWrite, 600)
        .await;
    let url = format!(
        "{}/api/v1/agent-instances/{}/shares",
        fx.relay.http_url(),
        fx.session
    );
    assert_eq!(fetch("GET", &url, Some(&bob), None).await.status, 404);
    assert_eq!(
        fetch("GET", &url, Some(&share.token), None).await.status,
        403
    );
    assert_eq!(fetch("GET", &url, None, None).await.status, 401);
    assert_eq!(revoke_share(&fx.relay, &bob, &share.id).await, 404);
    assert_eq!(revoke_share(&fx.relay, &share.token, &share.id).await, 403);
    fx.relay.joined_viewer(&fx.session, &share.token).await;
}

#[tokio::test]
async fn share_links_last_a_day_unless_asked_and_never_more_than_seven() {
    let fx = SessionFixture::start(&[]);
    let url = format!(
        "{}/api/v1/agent-instances/{}/share",
        fx.relay.http_url(),
        fx.session
    );
    let lifetime = async |body: serde_json::Value| {
        let before = unix_now();
        let reply = fetch("POST", &url, Some(&fx.key), Some(&body)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        let expires = unix_of(reply.json()["expires_at"].as_str().expect("expires_at"));
        expires.saturating_sub(before)
    };
    let day = lifetime(json!({"role": "read-only"})).await;
    assert!((86_399..=86_402).contains(&day), "default lifetime {day} s");
    let asked = lifetime(json!({"role": "read-only", "ttl_secs": 30 * 86_400})).await;
    assert!(
        (7 * 86_400 - 1..=7 * 86_400 + 2).contains(&asked),
        "30 days asked, {asked} s given"
    );
    let hour = lifetime(json!({"role": "read-write", "ttl_secs": 3600})).await;
    assert!((3599..=3602).contains(&hour), "{hour} s");
}

#[tokio::test]
async fn a_session_holds_at_most_64_working_share_links() {
    let fx = SessionFixture::start(&[]);
    let url = format!(
        "{}/api/v1/agent-instances/{}/share",
        fx.relay.http_url(),
        fx.session
    );
    let body = json!({"role": "read-only", "ttl_secs": 600});
    let mut first = None;
    for _ in 0..64 {
        let reply = fetch("POST", &url, Some(&fx.key), Some(&body)).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        first.get_or_insert(reply.json()["id"].as_str().unwrap().to_string());
    }
    let refused = fetch("POST", &url, Some(&fx.key), Some(&body)).await;
    assert_eq!(refused.status, 429, "{}", refused.text());
    assert!(refused.text().contains("revoke"), "{}", refused.text());
    assert_eq!(revoke_share(&fx.relay, &fx.key, &first.unwrap()).await, 204);
    let again = fetch("POST", &url, Some(&fx.key), Some(&body)).await;
    assert_eq!(again.status, 200, "room again after a revocation");
}

#[tokio::test]
async fn another_users_session_is_answered_exactly_as_an_unknown_one() {
    let relay = RelayProcess::start();
    let ann = relay.api_key();
    let bob = relay.create_key("bob");
    let session = relay.register_session(&ann, "claude");
    let unknown = "00000000-0000-4000-8000-000000000000";
    let requests = |id: &str| {
        let (get, post) = ("GET", "POST");
        let session = json!({"agent_instance_id": id, "content": "hi"});
        [
            (get, format!("agent-instances/{id}"), None),
            (get, format!("agent-instances/{id}/shares"), None),
            (
                get,
                format!("messages/pending?agent_instance_id={id}"),
                None,
            ),
            (
                post,
                format!("agent-instances/{id}/share"),
                Some(json!({"role": "read-write"})),
            ),
            (post, "sessions/end".to_string(), Some(session.clone())),
            (post, "messages/user".to_string(), Some(session)),
        ]
    };
    for (theirs, nobodys) in requests(&session).into_iter().zip(requests(unknown)) {
        let (method, path, body) = theirs;
        let answer = relay.api(method, &path, &bob, body.as_ref()).await;
        let (method, path, body) = nobodys;
        let unknown_answer = relay.api(method, &path, &bob, body.as_ref()).await;
        assert_eq!(answer, unknown_answer, "{method} {path}");
        assert_eq!(answer.0, 404, "{method} {path}: {}", answer.1);
    }
    // And the viewer link refuses both alike.
    assert_eq!(
        relay.refused_viewer(&session, &bob).await,
        relay.refused_viewer(unknown, &bob).await
    );
    // Ann still sees hers.
    assert!(relay.session(&ann, &session).await.is_some());
}

#[tokio::test]
async fn metrics_are_served_only_with_an_api_key() {
    let fx = SessionFixture::start(&[]);
    let url = format!("{}/metrics", fx.relay.http_url());
    let without = fetch("GET", &url, None, None).await;
    assert_eq!(without.status, 401, "{}", without.text());
    assert!(!without.text().contains("tether_relay_"));
    assert_eq!(fetch("GET", &url, Some("nonsense"), None).await.status, 401);
    let share = fx
        .relay
        .share(&fx.key, &fx.session, Role::ReadOnly, 600)
        .await;
    assert_eq!(
        fetch("GET", &url, Some(&share.token), None).await.status,
        403
    );
    let with = fetch("GET", &url, Some(&fx.key), None).await;
    assert_eq!(with.status, 200);
    assert!(
        with.text().contains("\ntether_relay_viewers "),
        "{}",
        with.text()
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn a_new_data_dir_and_the_database_files_are_for_the_owner_only() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("fresh/data");
    let relay = RelayProcess::start_with(&["--data-dir", data.to_str().unwrap()]);
    // A write, so that SQLite has its -wal and -shm.
    relay.register_session(&relay.api_key(), "claude");
    assert_eq!(mode(&data), 0o700, "data dir");
    for file in ["relay.db", "relay.db-wal", "relay.db-shm", "relay.secret"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
}

/// Starts the relay binary in `home` on a free port and returns what it
/// printed up to its dashboard line (the last of the first start), then
/// stops it.
fn first_start_output(home: &Path) -> Vec<String> {
    let mut child = Command::new(workspace_binary("tether-relay"))
        .args(["--listen", "127.0.0.1:0"])
        .env("TETHER_HOME", home)
        .env("TETHER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tether-relay");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(line) = rx.recv_timeout(DEADLINE) {
        let done = line.starts_with("dashboard:");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[tokio::test]
async fn the_first_start_never_replaces_a_key_in_config_json_and_prints_its_own() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.json");
    let theirs = r#"{"api_key": "tk1.theirs.key.sig", "api_url": "https://other.example", "relay_url": "wss://other.example/agent"}"#;
    std::fs::write(&config, theirs).unwrap();
    let printed = first_start_output(home.path());
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        theirs,
        "config.json is left as it was\n{printed:#?}"
    );
    let text = printed.join("\n");
    assert!(text.contains("tether --auth"), "{text}");
    let key = printed
        .iter()
        .find_map(|line| line.strip_prefix("API key (shown once): "))
        .unwrap_or_else(|| panic!("the new key is printed:\n{text}"));
    assert!(key.starts_with("tk1."), "{key}");

    // The printed key is the local user's, on this relay.
    let relay = RelayProcess::start_in(home.path(), &[]);
    let url = format!("{}/api/v1/agent-instances", relay.http_url());
    assert_eq!(fetch("GET", &url, Some(key), None).await.status, 200);

    // A file naming another relay, even without a key, is not given ours either.
    let other = tempfile::tempdir().unwrap();
    let theirs = r#"{"api_url": "https://other.example"}"#;
    std::fs::write(other.path().join("config.json"), theirs).unwrap();
    let printed = first_start_output(other.path());
    let kept = std::fs::read_to_string(other.path().join("config.json")).unwrap();
    assert_eq!(kept, theirs, "{printed:#?}");
}
