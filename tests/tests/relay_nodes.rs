//! Three `tether-relay` nodes on one Redis and one store (`RelayNodes`):
//! the session list is the same from every node (liveness, viewer counts,
//! attention, share links' viewers); a viewer on a node that
//! does not hold the agent link is served from the one that does, byte for
//! byte, and its input and resizes reach the agent; a revoked key or share
//! link closes its links on every node within two seconds.

use std::time::{Duration, Instant};

use protocol::api::ShareInfo;
use protocol::{Attention, AttentionState, Control, Frame, Role, Size};
use tests::relay::{AgentClient, RelayNodes, ViewerClient};
use tests::wait::{eventually, DEADLINE};
use tests::workload::agent_output;

/// What the issue allows for a revocation to reach every node's links.
const REVOCATION_REACH: Duration = Duration::from_secs(2);

/// `session` as each node lists it: status, viewers, attention, and the
/// viewers of each of its share links.
async fn listed(nodes: &RelayNodes, key: &str, session: &str) -> Vec<Listed> {
    let mut seen = Vec::new();
    for node in &nodes.nodes {
        let list = node.sessions(key).await;
        let info = list.iter().find(|s| s.id == session).expect("listed");
        let (status, shares) = node
            .api(
                "GET",
                &format!("agent-instances/{session}/shares"),
                key,
                None,
            )
            .await;
        assert_eq!(status, 200, "{shares}");
        let shares: Vec<ShareInfo> = serde_json::from_value(shares).expect("a share list");
        seen.push(Listed {
            status: info.status.clone(),
            viewers: info.viewer_count,
            attention: info.attention.clone().map(|a| (a.state, a.text, a.offset)),
            share_viewers: shares.iter().map(|s| s.viewer_count).collect(),
        });
    }
    seen
}

/// What the list tests compare from node to node.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    status: String,
    viewers: u64,
    attention: Option<(AttentionState, Option<String>, Option<u64>)>,
    share_viewers: Vec<u64>,
}

#[tokio::test]
async fn the_session_list_is_the_same_from_every_node() {
    let Some(nodes) = RelayNodes::start(3, &[]) else {
        return;
    };
    let key = nodes.key();
    let session = nodes.node(1).register_session(&key, "claude");
    let mut agent = nodes.node(0).connect_agent(&session, &key).await;
    let share = nodes
        .node(2)
        .share(&key, &session, Role::ReadOnly, 600)
        .await;
    let _on_second = nodes.node(1).joined_viewer(&session, &key).await;
    let _shared_on_third = nodes.node(2).joined_viewer(&session, &share.token).await;
    let wait = Attention::new(AttentionState::Waiting, Some("Allow edit?".into()), Some(0));
    agent
        .send(&[Frame::Control(Control::Attention(wait.clone()))])
        .await;
    let want = Listed {
        status: "live".into(),
        viewers: 2,
        attention: Some((wait.state, wait.text.clone(), wait.offset)),
        share_viewers: vec![1],
    };
    let want = vec![want; 3];
    eventually(
        "every node lists it live, waiting, with its 2 viewers, 1 through the share link",
        DEADLINE,
        async || listed(&nodes, &key, &session).await == want,
    )
    .await;
    for node in &nodes.nodes {
        let one = node.session(&key, &session).await.expect("shown");
        assert_eq!((one.status.as_str(), one.viewer_count), ("live", 2));
        assert_eq!(
            one.attention.map(|a| a.state),
            Some(AttentionState::Waiting)
        );
    }

    drop(agent);
    eventually("every node lists it offline", DEADLINE, async || {
        let offline = Listed {
            status: "offline".into(),
            viewers: 0,
            attention: None,
            share_viewers: vec![0],
        };
        listed(&nodes, &key, &session).await == vec![offline; 3]
    })
    .await;
}

#[tokio::test]
async fn a_viewer_on_another_node_gets_every_byte_and_reaches_the_agent() {
    let Some(nodes) = RelayNodes::start(3, &[]) else {
        return;
    };
    let key = nodes.key();
    let session = nodes.node(0).register_session(&key, "claude");
    let mut agent = nodes.node(0).connect_agent(&session, &key).await;
    let mut remote = nodes.node(1).joined_viewer(&session, &key).await;
    let mut local = nodes.node(0).joined_viewer(&session, &key).await;

    let data = agent_output(2 << 20, 13);
    for chunk in data.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    agent.wait_ack(data.len() as u64).await;
    let got = remote.read_output_to(Vec::new(), data.len()).await;
    assert!(got == data, "the relayed viewer got other bytes");
    assert_eq!(
        nodes.node(1).metric("tether_relay_proxied_viewers").await,
        1
    );
    assert_eq!(nodes.node(0).metric("tether_relay_viewers").await, 2);
    let got = local.read_output_to(Vec::new(), data.len()).await;
    assert!(got == data, "the owner's own viewer got other bytes");

    remote
        .send(&[Frame::Input(b"typed on node2\r".to_vec())])
        .await;
    assert_eq!(
        agent.next_command().await,
        Frame::Input(b"typed on node2\r".to_vec())
    );
    let size = Size {
        rows: 30,
        cols: 100,
    };
    remote.send(&[Frame::Resize(size)]).await;
    assert_eq!(agent.next_command().await, Frame::Resize(size));

    // A viewer that joins later on the third node resumes by offset there.
    let half = data.len() as u64 / 2;
    let mut late = nodes
        .node(2)
        .connect_viewer(&session, &key, Some(half))
        .await;
    let join = late.read_history().await;
    assert_eq!(join.start, Some(half));
    let got = late.read_output_to(join.output, data.len() / 2).await;
    assert!(
        got == data[data.len() / 2..],
        "resumed at {half} through node3"
    );
}

/// Whether `viewer` closes with 1008 within [`REVOCATION_REACH`] of `since`.
async fn closes_refused(viewer: &mut ViewerClient, since: Instant, what: &str) {
    let closed = tokio::time::timeout(REVOCATION_REACH, viewer.socket.closed()).await;
    let Ok(Some((code, reason))) = closed else {
        panic!(
            "{what}: still open {:?} after the revocation",
            since.elapsed()
        );
    };
    assert_eq!(code, 1008, "{what}: {reason}");
}

#[tokio::test]
async fn a_revoked_key_or_share_link_closes_its_links_on_every_node() {
    let Some(nodes) = RelayNodes::start(3, &[]) else {
        return;
    };
    let key = nodes.key();
    let doomed = nodes.create_key("local");
    let live = nodes.node(0).register_session(&key, "claude");
    let _agent = nodes.node(0).connect_agent(&live, &key).await;
    // No agent anywhere: each node serves its own viewers of this one.
    let offline = nodes.node(2).register_session(&key, "claude");

    let mut viewers = Vec::new();
    for (i, node) in nodes.nodes.iter().enumerate() {
        viewers.push((
            format!("node{} live", i + 1),
            node.joined_viewer(&live, &doomed).await,
        ));
        let what = format!("node{} offline", i + 1);
        viewers.push((what, node.joined_viewer(&offline, &doomed).await));
    }
    let mut kept = nodes.node(1).joined_viewer(&live, &key).await;

    let since = Instant::now();
    nodes.revoke_key(&doomed);
    for (what, viewer) in &mut viewers {
        closes_refused(viewer, since, what).await;
    }
    assert!(
        kept.socket
            .next_event_within(Duration::from_millis(300))
            .await
            .is_none(),
        "another key's viewer stays"
    );

    // A share link minted on one node, watched on another, revoked on a third.
    let share = nodes.node(0).share(&key, &live, Role::ReadOnly, 600).await;
    let mut shared = nodes.node(1).joined_viewer(&live, &share.token).await;
    let since = Instant::now();
    let (status, _) = nodes
        .node(2)
        .api("DELETE", &format!("shares/{}", share.id), &key, None)
        .await;
    assert_eq!(status, 204);
    closes_refused(&mut shared, since, "the share link's viewer on node2").await;
    kept.send(&[Frame::Input(b"still here".to_vec())]).await;
}

#[tokio::test]
async fn a_registration_takes_memory_only_on_the_node_the_agent_link_reaches() {
    // Room for one 1 MiB ring per node.
    let Some(nodes) = RelayNodes::start(2, &["--history-bytes", "1M", "--memory-budget", "1M"])
    else {
        return;
    };
    let key = nodes.key();
    let first = nodes.node(1).register_session(&key, "claude");
    // node2 reserved nothing for the first, so it has room to answer a second.
    let second = nodes.node(1).register_session(&key, "claude");
    assert_eq!(nodes.node(1).metric("tether_relay_history_bytes").await, 0);

    let _on_first = nodes.node(0).connect_agent(&first, &key).await;
    assert_eq!(
        nodes.node(0).metric("tether_relay_history_bytes").await,
        1 << 20
    );
    let mut on_second = nodes.node(1).connect_agent(&second, &key).await;
    on_second.send_output(b"held on node2").await;
    on_second.wait_ack(13).await;
    assert_eq!(
        nodes.node(1).metric("tether_relay_history_bytes").await,
        1 << 20
    );
    // Both nodes are full now: a third session's agent link is refused where it lands.
    let third = nodes.node(0).register_session(&key, "claude");
    let refused = nodes.node(1).refused_agent(&third, &key).await;
    assert!(
        refused.starts_with("closed 1013") && refused.contains("memory budget"),
        "{refused}"
    );
}

/// Sends `part` of the output, which ends at offset `end`, and waits for its ACK.
async fn send(agent: &mut AgentClient, part: &[u8], end: usize) {
    for chunk in part.chunks(64 << 10) {
        agent.send_output(chunk).await;
    }
    agent.wait_ack(end as u64).await;
}

#[tokio::test]
async fn nodes_serve_on_through_a_redis_outage_and_publish_their_sessions_again() {
    let Some(mut nodes) = RelayNodes::start(2, &[]) else {
        return;
    };
    let key = nodes.key();
    let session = nodes.node(0).register_session(&key, "claude");
    let mut agent = nodes.node(0).connect_agent(&session, &key).await;
    let mut relayed = nodes.node(1).joined_viewer(&session, &key).await;
    let mut local = nodes.node(0).joined_viewer(&session, &key).await;
    let data = agent_output(3 << 20, 17);
    let third = data.len() / 3;
    send(&mut agent, &data[..third], third).await;

    nodes.redis.kill();
    send(&mut agent, &data[third..2 * third], 2 * third).await;
    // The owner serves on from memory: its list, and a viewer joining now.
    let listed = nodes.node(0).session(&key, &session).await.expect("shown");
    assert_eq!(listed.status, "live");
    let mut joined_meanwhile = nodes.node(0).connect_viewer(&session, &key, Some(0)).await;
    eventually("the nodes to log the outage", DEADLINE, async || {
        nodes.logs().contains("heartbeat to Redis failed")
    })
    .await;

    nodes.redis.restart();
    // The owner writes its session into the empty Redis again: the other
    // node lists it, and relays a new viewer to it.
    eventually("node2 lists the session live again", DEADLINE, async || {
        let seen = nodes.node(1).session(&key, &session).await;
        seen.is_some_and(|s| s.status == "live" && s.viewer_count == 3)
    })
    .await;
    let resume_at = 2 * third as u64;
    let mut late = nodes
        .node(1)
        .connect_viewer(&session, &key, Some(resume_at))
        .await;
    send(&mut agent, &data[2 * third..], data.len()).await;
    assert_eq!(
        nodes.node(1).metric("tether_relay_proxied_viewers").await,
        2
    );

    let join = late.read_history().await;
    assert_eq!(join.start, Some(resume_at));
    let got = late
        .read_output_to(join.output, data.len() - 2 * third)
        .await;
    assert!(
        got == data[2 * third..],
        "the viewer relayed after the outage"
    );
    let join = joined_meanwhile.read_history().await;
    let got = joined_meanwhile
        .read_output_to(join.output, data.len())
        .await;
    assert!(got == data, "the viewer that joined during the outage");
    for (what, viewer) in [("relayed", &mut relayed), ("local", &mut local)] {
        let got = viewer.read_output_to(Vec::new(), data.len()).await;
        assert!(got == data, "the {what} viewer lost or changed bytes");
    }
    eventually(
        "the nodes to log that Redis is back",
        DEADLINE,
        async || nodes.logs().contains("Redis answers again"),
    )
    .await;
}

#[tokio::test]
async fn the_owner_checks_every_relayed_link_itself_so_forged_ones_are_refused() {
    let Some(nodes) = RelayNodes::start(2, &[]) else {
        return;
    };
    let key = nodes.key();
    let session = nodes.node(0).register_session(&key, "claude");
    let _agent = nodes.node(0).connect_agent(&session, &key).await;
    let other_session = nodes.node(0).register_session(&key, "claude");
    let other_share = nodes
        .node(0)
        .share(&key, &other_session, Role::ReadWrite, 600)
        .await;
    // The same key with one character of its signature changed.
    let at = key.len() - 6;
    let swapped = if &key[at..=at] == "0" { "1" } else { "0" };
    let forged = format!("{}{swapped}{}", &key[..at], &key[at + 1..]);
    let credentials = [
        ("a key with a forged signature", forged),
        ("another user's key", nodes.create_key("mallory")),
        ("another session's share link", other_share.token),
        ("no credential", String::new()),
    ];
    // Straight at the owner's --node-url (what a node's relayed link is),
    // and through the other node, which relays it without vouching for it.
    for (i, node) in nodes.nodes.iter().enumerate() {
        for (what, credential) in &credentials {
            let mut viewer = node.connect_viewer(&session, credential, None).await;
            let closed = tokio::time::timeout(DEADLINE, viewer.socket.closed()).await;
            let Ok(Some((code, reason))) = closed else {
                panic!("node{}: {what} was not refused", i + 1);
            };
            assert_eq!(code, 1008, "node{}: {what}: {reason}", i + 1);
        }
    }
    assert_eq!(nodes.node(0).metric("tether_relay_viewers").await, 0);
}
