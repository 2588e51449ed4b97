//! The relay on the open internet, budgets: session history in memory
//! (per user and in all, in bytes), viewers' input (every frame charged, one
//! refusal per message, per credential, queued for the agent in bytes),
//! RESIZE bounds, and the message log (field lengths, rotation, pages).

use protocol::{Control, Frame, Role, Size};
use serde_json::{json, Value};
use tests::relay::{AgentClient, Connect, Event, FrameSocket, RelayProcess, SessionFixture};

/// Registers a session over REST: the status and the answer.
async fn register(relay: &RelayProcess, key: &str) -> (u16, Value) {
    let body = json!({"agent_type": "claude", "transport": "ws"});
    relay.api("POST", "agent-instances", key, Some(&body)).await
}

#[tokio::test]
async fn session_history_is_held_within_the_users_byte_budget() {
    let relay = RelayProcess::start_with(&["--history-bytes", "1M", "--user-memory-budget", "3M"]);
    let key = relay.api_key();
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (status, body) = register(&relay, &key).await;
        assert_eq!(status, 201, "{body}");
        sessions.push(body["id"].as_str().unwrap().to_string());
    }
    // Three open sessions reserve their three 1 MiB rings: no room for a fourth.
    let (status, body) = register(&relay, &key).await;
    assert_eq!(status, 429, "{body}");
    let reason = body["error"].as_str().unwrap();
    assert!(
        reason.starts_with("memory budget for this user is full"),
        "{reason}"
    );
    assert_eq!(relay.metric("tether_relay_history_bytes").await, 3 << 20);

    // An ended session keeps what its ring holds, and counts ...
    let mut agent = relay.connect_agent(&sessions[0], &key).await;
    agent.send_output(&vec![b'x'; 600 << 10]).await;
    agent.wait_ack(600 << 10).await;
    agent.socket.close().await;
    let end = json!({"agent_instance_id": sessions[0], "exit_status": 0});
    assert_eq!(
        relay.api("POST", "sessions/end", &key, Some(&end)).await.0,
        200
    );
    // ... until a new session needs the room: then it is freed.
    let (status, body) = register(&relay, &key).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(relay.metric("tether_relay_history_freed_total").await, 1);
    let mut late = relay.connect_viewer(&sessions[0], &key, None).await;
    assert!(late.read_history().await.output.is_empty(), "history freed");

    // Nothing left to free: an agent link for a new session is refused with 1013.
    let refused = relay
        .refused_agent("00000000-0000-4000-8000-00000000000a", &key)
        .await;
    assert!(
        refused.starts_with("closed 1013: memory budget for this user is full"),
        "{refused}"
    );
    assert!(relay.metric("tether_relay_budget_refusals_total").await >= 2);
}

#[tokio::test]
async fn all_users_together_are_held_within_the_relays_byte_budget() {
    let relay = RelayProcess::start_with(&["--history-bytes", "1M", "--memory-budget", "2M"]);
    let ann = relay.api_key();
    let bob = relay.create_key("bob");
    assert_eq!(register(&relay, &ann).await.0, 201);
    assert_eq!(register(&relay, &bob).await.0, 201);
    let (status, body) = register(&relay, &ann).await;
    assert_eq!(status, 429, "{body}");
    let reason = body["error"].as_str().unwrap();
    assert!(
        reason.starts_with("the relay's memory budget is full"),
        "{reason}"
    );
}

/// A read-only viewer of `fx`'s session, joined.
async fn read_only_viewer(fx: &SessionFixture) -> FrameSocket {
    let share = fx
        .relay
        .share(&fx.key, &fx.session, Role::ReadOnly, 600)
        .await;
    fx.relay
        .joined_viewer(&fx.session, &share.token)
        .await
        .socket
}

/// Reads until the link ends; the refusals (CONTROL errors) seen.
async fn errors_until_the_end(socket: &mut FrameSocket) -> Vec<String> {
    let mut errors = Vec::new();
    loop {
        match socket.next_event().await {
            Event::Frame(Frame::Control(Control::Error { reason })) => errors.push(reason),
            Event::Closed(..) | Event::Gone => return errors,
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_message_of_400_000_refused_frames_gets_one_refusal() {
    let (fx, _agent) = SessionFixture::with_agent(&[]).await;
    let mut viewer = read_only_viewer(&fx).await;
    let flood = vec![Frame::Input(Vec::new()); 400_000];
    viewer.send(&flood).await;
    // The close is answered after the flood: every error comes before it.
    viewer.close().await;
    let errors = errors_until_the_end(&mut viewer).await;
    assert_eq!(errors.len(), 1, "one refusal for the whole message");
    assert_eq!(errors[0], "read-only viewer: input and resize refused");
    assert_eq!(
        fx.relay.metric("tether_relay_frames_dropped_total").await,
        400_000
    );
}

#[tokio::test]
async fn a_viewer_that_keeps_sending_refused_frames_is_closed() {
    let (fx, _agent) = SessionFixture::with_agent(&[]).await;
    let mut viewer = read_only_viewer(&fx).await;
    for _ in 0..20 {
        viewer.send(&[Frame::Input(b"x".to_vec())]).await;
    }
    let closed = viewer.closed().await;
    assert_eq!(
        closed,
        Some((
            1008,
            "too many refused frames (read-only, malformed or over the input rate)".into()
        ))
    );
}

#[tokio::test]
async fn every_frame_is_charged_to_the_input_bucket_resize_too() {
    // 100 bytes a second: a frame costs its 5-byte header and its payload.
    let (fx, mut agent) = SessionFixture::with_agent(&["--max-input-rate", "100"]).await;
    let mut viewer = fx.joined_viewer().await;
    viewer
        .send(&vec![Frame::Resize(Size::new(24, 80)); 20])
        .await;
    assert_eq!(
        viewer.wait_error().await,
        "input rate limit exceeded: input dropped"
    );
    let mut resizes = 0;
    while let Some(Event::Frame(Frame::Resize(_))) = agent
        .socket
        .next_event_within(std::time::Duration::from_millis(300))
        .await
    {
        resizes += 1;
    }
    assert_eq!(resizes, 100 / 9, "as many as 100 bytes pay for");
}

#[tokio::test]
async fn links_with_the_same_credential_share_one_input_bucket() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--max-input-rate", "200"]).await;
    let mut first = fx.joined_viewer().await;
    let mut second = fx.joined_viewer().await;
    first.send(&[Frame::Input(vec![b'a'; 195])]).await;
    assert_eq!(agent.next_command().await, Frame::Input(vec![b'a'; 195]));
    second.send(&[Frame::Input(vec![b'b'; 150])]).await;
    assert_eq!(
        second.wait_error().await,
        "input rate limit exceeded: input dropped"
    );
}

#[tokio::test]
async fn input_queued_for_an_agent_that_stops_reading_is_bounded_in_bytes() {
    // No rate limit in the way: only the queue's bound (two 1 MiB frames).
    let fx = SessionFixture::start(&["--max-input-rate", "1000000000"]);
    let stalled = Connect {
        receive_buffer: Some(4096),
        ..Connect::tether_agent(&fx.key)
    };
    let _agent = AgentClient::connect_with(&fx.relay.ws_url(), &fx.session, stalled)
        .await
        .expect("the agent's link");
    let mut viewer = fx.joined_viewer().await;
    // What the relay takes before it says "busy": the queue, the agent's
    // socket buffers (the kernel's send buffer grows to 4 MiB) and the
    // message in hand. Counting commands instead (256 of them) took 128 MiB.
    const MOST: usize = 12 << 20;
    let chunk = vec![b'k'; 512 << 10];
    let mut sent = 0;
    let refusal = 'flood: loop {
        assert!(
            sent < MOST,
            "{sent} bytes queued for an agent that reads nothing"
        );
        viewer.send(&[Frame::Input(chunk.clone())]).await;
        sent += chunk.len();
        let within = std::time::Duration::from_millis(20);
        while let Some(event) = viewer.socket.next_event_within(within).await {
            if let Event::Frame(Frame::Control(Control::Error { reason })) = event {
                break 'flood reason;
            }
        }
    };
    assert_eq!(refusal, "agent busy: input dropped");
}

#[tokio::test]
async fn a_huge_resize_reaches_the_agent_clamped() {
    let (fx, mut agent) = SessionFixture::with_agent(&[]).await;
    let mut viewer = fx.joined_viewer().await;
    viewer.send(&[Frame::Resize(Size::new(65535, 65535))]).await;
    assert_eq!(
        agent.next_command().await,
        Frame::Resize(Size::new(1000, 1000))
    );
    // And an agent's own report is clamped before viewers see it.
    agent.send(&[Frame::Resize(Size::new(5000, 80))]).await;
    let size = viewer
        .wait_frame(&Default::default(), |f| matches!(f, Frame::Resize(_)))
        .await;
    assert_eq!(size, Frame::Resize(Size::new(1000, 80)));
}

#[tokio::test]
async fn message_fields_have_length_limits() {
    let fx = SessionFixture::start(&[]);
    let post = async |body: Value| {
        fx.relay
            .api("POST", "messages/agent", &fx.key, Some(&body))
            .await
    };
    let long = "x".repeat(64 << 10);
    let (status, _) = post(json!({"agent_instance_id": fx.session, "content": long.clone()})).await;
    assert_eq!(status, 200, "64 KiB of content is fine");
    let (status, body) =
        post(json!({"agent_instance_id": fx.session, "content": long + "x"})).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "content is longer than 65536 bytes");
    let new_id = "00000000-0000-4000-8000-00000000000b";
    let (status, body) = post(json!({
        "agent_instance_id": new_id, "content": "hi", "agent_type": "a".repeat(257)
    }))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "agent_type is longer than 256 characters");
    let register = json!({"agent_type": "claude", "name": "n".repeat(257)});
    let (status, body) = fx
        .relay
        .api("POST", "agent-instances", &fx.key, Some(&register))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "name is longer than 256 characters");
    let user = json!({"agent_instance_id": fx.session, "content": "u".repeat((64 << 10) + 1)});
    let (status, _) = fx
        .relay
        .api("POST", "messages/user", &fx.key, Some(&user))
        .await;
    assert_eq!(status, 413);
}

/// The contents of `session`'s messages as `GET agent-instances/{id}?query` shows them.
async fn contents(fx: &SessionFixture, query: &str) -> Vec<String> {
    let path = format!("agent-instances/{}?{query}", fx.session);
    let (status, body) = fx.relay.api("GET", &path, &fx.key, None).await;
    assert_eq!(status, 200, "{body}");
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_message_log_keeps_the_latest_messages_and_pages_back() {
    let fx = SessionFixture::start(&["--max-messages", "5"]);
    for i in 0..8 {
        let body = json!({"agent_instance_id": fx.session, "content": format!("m{i}")});
        let (status, _) = fx
            .relay
            .api("POST", "messages/agent", &fx.key, Some(&body))
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        contents(&fx, "message_limit=100").await,
        ["m3", "m4", "m5", "m6", "m7"],
        "the oldest rotated out"
    );
    let path = format!("agent-instances/{}?message_limit=2", fx.session);
    let (_, page) = fx.relay.api("GET", &path, &fx.key, None).await;
    let oldest = page["messages"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        contents(&fx, &format!("message_limit=2&before={oldest}")).await,
        ["m4", "m5"]
    );
}

#[tokio::test]
async fn the_session_list_pages() {
    let fx = SessionFixture::start(&[]);
    let mut ids = vec![fx.session.clone()];
    for _ in 0..3 {
        ids.push(fx.relay.register_session(&fx.key, "claude"));
    }
    ids.reverse(); // newest first, as the list shows them
    let page = |query: &'static str| {
        let fx = &fx;
        async move {
            let path = format!("agent-instances?{query}");
            let (status, body) = fx.relay.api("GET", &path, &fx.key, None).await;
            assert_eq!(status, 200, "{body}");
            body.as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page("").await, ids, "without a query: every session");
    assert_eq!(page("limit=2").await, ids[..2]);
    assert_eq!(page("limit=2&offset=2").await, ids[2..]);
    assert!(page("offset=10").await.is_empty());
}
