//! Who may connect to what: keys, revocation, other users' sessions, share
//! tokens with roles and expiry. Every refusal is a close with 1008.

use std::time::{Duration, Instant};

use protocol::{Control, Frame, Role};
use serde_json::json;
use tests::relay::{http, Connect, Event, RelayProcess, SessionFixture, ViewerClient};

/// Connects a viewer and returns the close it gets right away.
async fn refused_viewer(relay: &RelayProcess, session: &str, how: Connect) -> (u16, String) {
    let mut viewer = ViewerClient::connect_with(&relay.ws_url(), session, None, &how)
        .await
        .unwrap();
    viewer.socket.closed().await.expect("a close frame")
}

fn tether(subprotocol_key: Option<&str>) -> Connect {
    Connect {
        subprotocol_key: subprotocol_key.map(str::to_string),
        tether: true,
        ..Default::default()
    }
}

async fn share(relay: &RelayProcess, key: &str, session: &str, role: Role, ttl: u64) -> String {
    let share = relay.share(key, session, role, ttl).await;
    let expected = format!("{}/s/{session}#token={}", relay.http_url(), share.token);
    assert_eq!(share.url, expected);
    assert_eq!(share.role, role);
    share.token
}

#[tokio::test]
async fn viewers_without_a_valid_key_are_closed_with_1008() {
    let fx = SessionFixture::start(&[]);

    let (code, reason) = refused_viewer(&fx.relay, &fx.session, tether(None)).await;
    assert_eq!((code, reason.as_str()), (1008, "missing API key"));
    let (code, reason) = refused_viewer(&fx.relay, &fx.session, tether(Some("tk1.00.00.00"))).await;
    assert_eq!((code, reason.as_str()), (1008, "invalid API key or token"));
    let mut forged = fx.key.clone();
    forged.pop();
    forged.push(if fx.key.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        refused_viewer(&fx.relay, &fx.session, tether(Some(&forged)))
            .await
            .0,
        1008
    );

    // Unknown and malformed sessions are refused with a reason too.
    let unknown = "00000000-0000-4000-8000-000000000000";
    let (code, reason) = refused_viewer(&fx.relay, unknown, tether(Some(&fx.key))).await;
    assert_eq!((code, reason.as_str()), (1008, "unknown session"));
    assert_eq!(
        refused_viewer(&fx.relay, "not-a-uuid", tether(Some(&fx.key)))
            .await
            .0,
        1008
    );

    // The agent link refuses the same way.
    let err = fx.relay.refused_agent(&fx.session, &forged).await;
    assert!(err.contains("1008"), "{err}");
}

#[tokio::test]
async fn another_users_session_is_refused() {
    let relay = RelayProcess::start();
    let ann = relay.api_key();
    let bob = relay.create_key("bob");
    let session = relay.register_session(&ann, "claude");

    // Refused as if it did not exist (relay_grants checks every endpoint).
    let (code, reason) = refused_viewer(&relay, &session, tether(Some(&bob))).await;
    assert_eq!((code, reason.as_str()), (1008, "unknown session"));
    let err = relay.refused_agent(&session, &bob).await;
    assert!(err.contains("another user"), "{err}");
    let url = format!("{}/api/v1/agent-instances/{session}", relay.http_url());
    assert_eq!(http("GET", &url, Some(&bob), None).await.0, 404);
    let body = json!({"agent_type": "claude", "agent_instance_id": session});
    let (status, _) = relay
        .api("POST", "agent-instances", &bob, Some(&body))
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_its_open_links_close_within_seconds() {
    let relay = RelayProcess::start();
    let owner = relay.api_key();
    let key = relay.create_key("local");
    let session = relay.register_session(&owner, "claude");
    let mut agent = relay.connect_agent(&session, &key).await;
    let mut viewer = relay.joined_viewer(&session, &key).await;
    let mut owners_viewer = relay.joined_viewer(&session, &owner).await;

    relay.revoke_key(&key);
    let started = Instant::now();
    assert_eq!(
        viewer.socket.closed().await,
        Some((1008, "API key revoked".into()))
    );
    assert_eq!(
        agent.socket.closed().await,
        Some((1008, "API key revoked".into()))
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    let (code, reason) = refused_viewer(&relay, &session, tether(Some(&key))).await;
    assert_eq!((code, reason.as_str()), (1008, "API key revoked"));
    // Another key of the same user is unaffected: its viewer just sees the agent go.
    owners_viewer
        .wait_control(|c| *c == Control::AgentOffline)
        .await;
}

#[tokio::test]
async fn share_tokens_grant_their_role_on_their_session_only() {
    let fx = SessionFixture::start(&[]);
    let other_session = fx.relay.register_session(&fx.key, "claude");
    let mut agent = fx.connect_agent().await;
    agent.send_output(b"shared screen").await;
    agent.wait_ack(13).await;

    let read_only = share(&fx.relay, &fx.key, &fx.session, Role::ReadOnly, 600).await;
    let mut watcher = fx.relay.connect_viewer(&fx.session, &read_only, None).await;
    assert_eq!(watcher.echoed, Some(format!("omnara-key.{read_only}")));
    let join = watcher.read_history().await;
    assert_eq!(
        join.frames[0],
        Frame::Control(Control::Role {
            role: Role::ReadOnly,
            shared_by: Some("local".into()),
        })
    );
    assert_eq!(join.output, b"shared screen");
    watcher.send(&[Frame::Input(b"rm -rf /\r".to_vec())]).await;
    assert_eq!(
        watcher.wait_error().await,
        "read-only viewer: input and resize refused"
    );
    watcher
        .send(&[Frame::Resize(protocol::Size { rows: 10, cols: 10 })])
        .await;
    watcher.wait_error().await;

    let read_write = share(&fx.relay, &fx.key, &fx.session, Role::ReadWrite, 600).await;
    let mut helper = fx
        .relay
        .connect_viewer(&fx.session, &read_write, None)
        .await;
    assert_eq!(
        helper.read_history().await.frames[0],
        Frame::Control(Control::Role {
            role: Role::ReadWrite,
            shared_by: Some("local".into()),
        })
    );
    helper.send(&[Frame::Input(b"y\r".to_vec())]).await;
    // Only the read-write viewer's input arrives.
    assert_eq!(agent.next_command().await, Frame::Input(b"y\r".to_vec()));

    // Another session is refused alike whether it exists or not.
    let unknown = "0b6e2f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b".to_owned();
    for session in [&other_session, &unknown] {
        let (code, reason) = refused_viewer(&fx.relay, session, tether(Some(&read_write))).await;
        assert_eq!(
            (code, reason.as_str()),
            (1008, "share link is for another session")
        );
    }
    let forged = read_write.replacen(".rw.", ".ro.", 1);
    let (code, reason) = refused_viewer(&fx.relay, &fx.session, tether(Some(&forged))).await;
    assert_eq!((code, reason.as_str()), (1008, "unknown share link"));
    // Share tokens cannot stream as the agent nor use the API.
    fx.relay.refused_agent(&fx.session, &read_write).await;
    let list = format!("{}/api/v1/agent-instances", fx.relay.http_url());
    assert_eq!(http("GET", &list, Some(&read_write), None).await.0, 403);
}

#[tokio::test]
async fn an_expired_share_token_is_refused_and_closes_its_viewer() {
    let fx = SessionFixture::start(&[]);
    let token = share(&fx.relay, &fx.key, &fx.session, Role::ReadOnly, 1).await;
    let mut viewer = ViewerClient::connect(&fx.relay.ws_url(), &fx.session, &token, None).await;
    // Within its second the token works; then the open link is closed.
    if let Ok(viewer) = viewer.as_mut() {
        let closed = viewer.socket.closed().await;
        assert!(
            closed == Some((1008, "share token expired".into())),
            "{closed:?}"
        );
    }
    let (code, reason) = refused_viewer(&fx.relay, &fx.session, tether(Some(&token))).await;
    assert_eq!((code, reason.as_str()), (1008, "share token expired"));
}

#[tokio::test]
async fn the_api_requires_a_valid_key() {
    let relay = RelayProcess::start();
    let list = format!("{}/api/v1/agent-instances", relay.http_url());
    let (status, body) = http("GET", &list, None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("missing API key"))
    );
    let (status, body) = http("GET", &list, Some("nonsense"), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid API key or token"))
    );
    let key = relay.api_key();
    assert_eq!(http("GET", &list, Some(&key), None).await.0, 200);
}

#[tokio::test]
async fn header_auth_works_for_viewers_too() {
    let fx = SessionFixture::start(&[]);
    let how = Connect {
        header_key: Some(fx.key.clone()),
        tether: true,
        ..Default::default()
    };
    let mut viewer = ViewerClient::connect_with(&fx.relay.ws_url(), &fx.session, None, &how)
        .await
        .unwrap();
    match viewer.socket.next_event().await {
        Event::Frame(Frame::Control(Control::Role { role, shared_by })) => {
            assert_eq!((role, shared_by), (Role::ReadWrite, None))
        }
        other => panic!("{other:?}"),
    }
}
