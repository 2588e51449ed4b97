//! Recordings: a session's history downloaded as asciicast v3, checked with
//! the real asciinema CLI and against when the test sent the output; who
//! may download it; and the bytes the ring no longer holds, said at the start.

use std::time::{Duration, Instant};

use protocol::asciicast::Event;
use protocol::{Frame, Role, Size};
use serde_json::json;
use tests::asciicast::{asciinema_cat_and_convert, asciinema_raw, Cast};
use tests::relay::{fetch, RelayProcess, Reply, SessionFixture};
use tests::wait::DEADLINE;

async fn download(relay: &RelayProcess, session: &str, credential: Option<&str>) -> Reply {
    let url = format!(
        "{}/api/v1/agent-instances/{session}/recording",
        relay.http_url()
    );
    fetch("GET", &url, credential, None).await
}

#[tokio::test]
async fn the_recording_plays_in_asciinema_with_the_times_the_output_was_sent() {
    let relay = RelayProcess::start();
    let key = relay.api_key();
    let body = json!({"agent_type": "claude", "transport": "ws", "name": "fix the tests"});
    let (_, created) = relay
        .api("POST", "agent-instances", &key, Some(&body))
        .await;
    let session = created["id"].as_str().unwrap().to_string();
    let mut agent = relay.connect_agent(&session, &key).await;

    // "€" split between two chunks, a resize between outputs, 300 ms pauses.
    let euro = "€".as_bytes();
    let chunks: [&[u8]; 4] = [
        b"\x1b[1mfirst\x1b[0m\r\n",
        b"second ",
        &euro[..1],
        &euro[1..],
    ];
    agent
        .send(&[
            Frame::Resize(Size::new(24, 80)),
            Frame::Output(chunks[0].to_vec()),
        ])
        .await;
    let started = Instant::now();
    let mut sent = 0;
    for (n, chunk) in chunks.iter().enumerate() {
        sent += chunk.len() as u64;
        if n > 0 {
            agent.send_output(chunk).await;
        }
        agent.wait_ack(sent).await;
        if n == 1 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let second_at = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent.send(&[Frame::Resize(Size::new(30, 100))]).await;
    let resized_at = started.elapsed();
    agent.send_output(b"\r\nthird").await;
    sent += 7;
    agent.wait_ack(sent).await;
    let ended = json!({"agent_instance_id": session, "exit_status": 3});
    relay.api("POST", "sessions/end", &key, Some(&ended)).await;

    let reply = download(&relay, &session, Some(&key)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/x-asciicast")
    );
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"fix_the_tests.cast\"")
    );
    let cast = Cast::parse(&reply.text());
    assert_eq!(cast.header["title"], "fix the tests");
    assert_eq!(
        (
            cast.header["term"]["cols"].as_u64(),
            cast.header["term"]["rows"].as_u64()
        ),
        (Some(80), Some(24))
    );
    let printed = "\x1b[1mfirst\x1b[0m\r\nsecond €\r\nthird";
    assert_eq!(cast.output(), printed);
    // Times as the test sent them (the relay's clock, so within a margin).
    let close = |got: f64, want: Duration, what: &str| {
        let want = want.as_secs_f64();
        assert!(
            (got - want).abs() < 0.15,
            "{what} at {got:.3} s, sent at {want:.3} s"
        );
    };
    close(cast.time_of("second"), Duration::ZERO, "\"second\"");
    close(cast.time_of("€"), second_at, "\"€\"");
    let resize = cast
        .events
        .iter()
        .find(|(_, e)| *e == Event::Resize(Size::new(30, 100)));
    close(resize.expect("an r event").0, resized_at, "the resize");
    assert_eq!(cast.events.last().map(|e| &e.1), Some(&Event::Exit(3)));

    // The real player takes it and replays the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("session.cast");
    std::fs::write(&file, &reply.body).unwrap();
    let Some(replayed) = asciinema_raw(&file) else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&replayed), printed);
    let text = asciinema_cat_and_convert(&file);
    assert!(
        text.contains("second €") && text.contains("third"),
        "{text:?}"
    );
}

#[tokio::test]
async fn only_the_owner_and_read_write_links_get_it_and_others_get_404() {
    let fx = SessionFixture::start(&[]);
    let (relay, session) = (&fx.relay, fx.session.as_str());
    assert_eq!(download(relay, session, Some(&fx.key)).await.status, 200);
    let unknown = "00000000-0000-4000-8000-000000000000";
    assert_eq!(download(relay, unknown, Some(&fx.key)).await.status, 404);
    let bob = relay.create_key("bob");
    let foreign = download(relay, session, Some(&bob)).await;
    assert_eq!(foreign.status, 404, "{}", foreign.text());
    assert_eq!(
        download(relay, "not-an-id", Some(&fx.key)).await.status,
        400
    );
    assert_eq!(download(relay, session, None).await.status, 401);

    let helper = relay.share(&fx.key, session, Role::ReadWrite, 600).await;
    assert_eq!(
        download(relay, session, Some(&helper.token)).await.status,
        200
    );
    let watcher = relay.share(&fx.key, session, Role::ReadOnly, 600).await;
    let refused = download(relay, session, Some(&watcher.token)).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    // A link to one session opens no other.
    let other = relay.register_session(&fx.key, "codex");
    assert_eq!(
        download(relay, &other, Some(&helper.token)).await.status,
        404
    );
}

#[tokio::test]
async fn output_the_ring_no_longer_holds_is_said_at_the_start() {
    let (fx, mut agent) = SessionFixture::with_agent(&["--history-bytes", "64"]).await;
    let output: Vec<u8> = (0..200u32).map(|n| b'a' + (n % 26) as u8).collect();
    for chunk in output.chunks(50) {
        agent.send_output(chunk).await;
    }
    agent.wait_ack(200).await;
    let reply = download(&fx.relay, &fx.session, Some(&fx.key)).await;
    let cast = Cast::parse(&reply.text());
    match &cast.events[0] {
        (at, Event::Marker(label)) if *at == 0.0 => {
            assert!(label.contains("136 bytes missing"), "{label}")
        }
        other => panic!("the first event is not the marker: {other:?}"),
    }
    assert_eq!(cast.output().as_bytes(), &output[136..]);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evicted.cast");
    std::fs::write(&file, &reply.body).unwrap();
    if let Some(replayed) = asciinema_raw(&file) {
        assert_eq!(replayed, &output[136..]);
    }
}

#[tokio::test]
async fn ended_sessions_recordings_are_kept_on_disk_and_served_after_a_restart() {
    let kept = tempfile::tempdir().unwrap();
    let dir = kept.path().to_str().unwrap();
    let mut relay = RelayProcess::start_with(&["--keep-recordings", dir]);
    let key = relay.api_key();
    let session = relay.register_session(&key, "claude");
    let mut agent = relay.connect_agent(&session, &key).await;
    agent.send_output(b"kept output\r\n").await;
    agent.wait_ack(13).await;
    let ended = json!({"agent_instance_id": session, "exit_status": 0});
    relay.api("POST", "sessions/end", &key, Some(&ended)).await;
    let file = kept.path().join(format!("{session}.cast"));
    tests::wait::eventually_blocking("the recording on disk", DEADLINE, || file.is_file());

    // The relay's memory is gone; the kept file answers.
    drop(agent);
    relay.restart();
    let reply = download(&relay, &session, Some(&key)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let cast = Cast::parse(&reply.text());
    assert_eq!(cast.output(), "kept output\r\n");
    assert_eq!(cast.events.last().map(|e| &e.1), Some(&Event::Exit(0)));
    let bob = relay.create_key("bob");
    assert_eq!(download(&relay, &session, Some(&bob)).await.status, 404);

    // Listed for its owner only, with the file's size.
    let (status, listed) = relay.api("GET", "recordings", &key, None).await;
    assert_eq!(status, 200, "{listed}");
    let listed: Vec<protocol::api::RecordingInfo> = serde_json::from_value(listed).unwrap();
    let size = std::fs::metadata(&file).unwrap().len();
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.session_id.as_str(), r.agent_type.as_str(), r.bytes))
            .collect::<Vec<_>>(),
        [(session.as_str(), "claude", size)]
    );
    assert!(
        listed[0].ended_at.ends_with('Z'),
        "{:?}",
        listed[0].ended_at
    );
    let (status, of_bob) = relay.api("GET", "recordings", &bob, None).await;
    assert_eq!(
        (status, of_bob),
        (200, json!([])),
        "another user's are not listed"
    );
    let (status, _) = relay.api("GET", "recordings", "wrong-key", None).await;
    assert_eq!(status, 401);
}
