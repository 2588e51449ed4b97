//! Three `tether-relay` nodes on one Redis and one store (`RelayNodes`):
//! the session list is the same from every node; a viewer on a node that
//! does not hold the agent link is served from the one that does, byte for
//! byte, and its input and resizes reach the agent; a revoked key or share
//! link closes its links on every node within two seconds.

use std::time::{Duration, Instant};

use protocol::{Frame, Role, Size};
use tests::relay::{RelayNodes, ViewerClient};
use tests::wait::{eventually, DEADLINE};
use tests::workload::agent_output;

/// What the issue allows for a revocation to reach every node's links.
const REVOCATION_REACH: Duration = Duration::from_secs(2);

/// `(status, viewer_count)` of `session` as each node lists it.
async fn listed(nodes: &RelayNodes, key: &str, session: &str) -> Vec<(String, u64)> {
    let mut seen = Vec::new();
    for node in &nodes.nodes {
        let list = node.sessions(key).await;
        let info = list.iter().find(|s| s.id == session).expect("listed");
        seen.push((info.status.clone(), info.viewer_count));
    }
    seen
}

#[tokio::test]
async fn the_session_list_is_the_same_from_every_node() {
    let Some(nodes) = RelayNodes::start(3, &[]) else {
        return;
    };
    let key = nodes.key();
    let session = nodes.node(1).register_session(&key, "claude");
    let agent = nodes.node(0).connect_agent(&session, &key).await;
    let _on_second = nodes.node(1).joined_viewer(&session, &key).await;
    let _on_third = nodes.node(2).joined_viewer(&session, &key).await;
    let live = vec![("live".to_string(), 2); 3];
    eventually(
        "every node lists it live with its 2 viewers",
        DEADLINE,
        async || listed(&nodes, &key, &session).await == live,
    )
    .await;
    for node in &nodes.nodes {
        let one = node.session(&key, &session).await.expect("shown");
        assert_eq!((one.status.as_str(), one.viewer_count), ("live", 2));
    }

    drop(agent);
    eventually("every node lists it offline", DEADLINE, async || {
        listed(&nodes, &key, &session)
            .await
            .iter()
            .all(|(status, _)| status == "offline")
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
