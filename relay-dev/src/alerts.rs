//! What the relay does when a session's attention changes. A new wait
//! (`AttentionChange::new_wait`) is claimed in the store by its stream
//! offset — once per wait, also across relay restarts and reconnects — then
//! recorded in the session's message log and sent to the owner's Web Push
//! subscriptions. Runs beside the agent's link, never in it:
//! streaming does not wait for the store.

use std::sync::Arc;

use protocol::AttentionState;
use uuid::Uuid;

use crate::metrics::add;
use crate::push::PushMessage;
use crate::session::AttentionChange;
use crate::state::Shared;
use crate::store::MessageRecord;
use crate::time::unix_now;

/// Handles an attention change of session `id` (owned by `user`) in the
/// background.
pub(crate) fn attention_changed(state: &Arc<Shared>, id: Uuid, change: AttentionChange) {
    if !change.new_wait || change.now.attention.state != AttentionState::Waiting {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = new_wait(&state, id, change).await {
            tracing::warn!(session = %id, "recording a wait: {e}");
        }
    });
}

/// The words logged for a wait.
fn wait_message(text: Option<&str>) -> String {
    match text {
        Some(text) => format!("Waiting for you: {text}"),
        None => "Waiting for you".to_string(),
    }
}

async fn new_wait(
    state: &Shared,
    id: Uuid,
    change: AttentionChange,
) -> Result<(), crate::store::StoreError> {
    let attention = change.now.attention;
    let keep = state.config.max_messages.max(1);
    let message = MessageRecord {
        id: Uuid::new_v4(),
        session_id: id,
        content: wait_message(attention.text.as_deref()),
        sender: "agent".into(),
        requires_user_input: true,
        created_at: unix_now(),
    };
    let offset = attention.offset;
    let push = state.push.is_some();
    let session = state.registry.get(id);
    let claimed = state
        .store
        .call(move |s| {
            // A wait without an offset (a peer that does not say) is new
            // whenever memory says so.
            let claimed = match offset {
                Some(offset) => s.claim_alert(id, offset)?,
                None => true,
            };
            // At most one alert a second per session (a bell in a loop);
            // a wait the store has seen takes no slot.
            if !claimed || !session.is_none_or(|s| s.take_alert_slot()) {
                return Ok(None);
            }
            s.add_message(&message)?;
            s.trim_messages(id, keep)?;
            let Some(record) = s.session(id)? else {
                return Ok(None);
            };
            let subscriptions = if push {
                s.push_subscriptions_of(&record.user)?
            } else {
                Vec::new()
            };
            Ok(Some((record, subscriptions)))
        })
        .await?;
    let Some((record, subscriptions)) = claimed else {
        return Ok(());
    };
    tracing::info!(session = %id, ?offset, subscriptions = subscriptions.len(), "session waits for its owner");
    if let (Some(push), false) = (&state.push, subscriptions.is_empty()) {
        let url = format!("/s/{id}");
        let session_id = id.to_string();
        let message = PushMessage {
            title: record
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&record.agent_type),
            body: attention.text.as_deref().unwrap_or("Waiting for you"),
            url: &url,
            session_id: &session_id,
        };
        let dropped = push.alert(subscriptions, &message);
        if dropped > 0 {
            add(&state.metrics.push_dropped, dropped);
            tracing::warn!(session = %id, dropped, "push queue full: alerts dropped");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn waits_are_logged_with_their_text() {
        assert_eq!(
            super::wait_message(Some("Allow?")),
            "Waiting for you: Allow?"
        );
        assert_eq!(super::wait_message(None), "Waiting for you");
    }
}
