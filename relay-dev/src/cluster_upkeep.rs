//! A node's background work in the cluster: the heartbeat that keeps its
//! URL and its sessions' owner keys alive, and the events it hears from the
//! other nodes (revocations, sessions taken over).

use std::time::Duration;

use futures_util::StreamExt as _;

use crate::cluster::{Event, EVENTS, HEARTBEAT};
use crate::state::{AppState, Shared};

/// Runs the heartbeat and the event listener until aborted.
pub(crate) async fn run(state: AppState) {
    tokio::join!(heartbeat(&state), listen(&state));
}

/// Every [`HEARTBEAT`]: keeps the keys alive; a session another node has
/// claimed meanwhile is let go here.
async fn heartbeat(state: &Shared) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let mut tick = tokio::time::interval(HEARTBEAT);
    let mut failing = false;
    loop {
        tick.tick().await;
        let live = state.registry.live_sessions();
        match cluster.heartbeat(&live).await {
            Ok(lost) => {
                if failing {
                    tracing::info!("Redis answers again");
                    failing = false;
                }
                for id in lost {
                    tracing::info!(session = %id, "another node holds the session now");
                    if let Some(session) = state.registry.get(id) {
                        session.moved_away();
                    }
                }
            }
            Err(e) if !failing => {
                tracing::warn!(
                    "heartbeat to Redis failed (serving on; retrying every second): {e}"
                );
                failing = true;
            }
            Err(_) => {}
        }
    }
}

/// Listens to the other nodes' events, resubscribing when the connection
/// to Redis drops (and then reloading the revocations it may have missed).
async fn listen(state: &Shared) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    let mut first = true;
    loop {
        let subscribed = async {
            let mut pubsub = cluster.client().get_async_pubsub().await?;
            pubsub.subscribe(EVENTS).await?;
            redis::RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(Duration::from_secs(5), subscribed).await {
            Ok(Ok(mut pubsub)) => {
                if !first {
                    tracing::info!("listening to the other nodes again");
                    state.refresh_revocations().await;
                }
                first = false;
                let mut messages = pubsub.on_message();
                while let Some(message) = messages.next().await {
                    if let Ok(text) = message.get_payload::<String>() {
                        on_event(state, &text).await;
                    }
                }
                tracing::warn!("lost the Redis subscription; subscribing again");
            }
            Ok(Err(e)) => tracing::warn!("subscribing to the other nodes' events: {e}"),
            Err(_) => tracing::warn!("subscribing to the other nodes' events timed out"),
        }
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// Acts on one event from another node.
async fn on_event(state: &Shared, text: &str) {
    let Some(cluster) = &state.cluster else {
        return;
    };
    match Event::parse(text) {
        Some(Event::Revoked) => state.refresh_revocations().await,
        Some(Event::Owner { session: id, node }) if node != cluster.node_id() => {
            let Some(session) = state.registry.get(id) else {
                return;
            };
            // An old event must not evict an agent link that came back here
            // since: ask Redis who holds the session now.
            if session.liveness() == crate::session::Liveness::Live {
                let owner = cluster.owner(id).await;
                if owner.is_some_and(|o| o.node == cluster.node_id()) {
                    return;
                }
            }
            tracing::info!(session = %id, node, "session taken over by another node");
            session.moved_away();
        }
        Some(Event::Owner { .. }) => {}
        None => tracing::debug!("ignoring an unknown cluster event"),
    }
}
