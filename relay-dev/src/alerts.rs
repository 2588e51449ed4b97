//! What the relay does when a session's attention changes. A new wait
//! (`AttentionChange::new_wait`) is claimed in the store by its stream
//! offset — once per wait, also across relay restarts and reconnects — then
//! recorded in the session's message log (and, with Web Push set up, sent
//! to the owner's subscriptions). Runs beside the agent's link, never in it:
//! streaming does not wait for the store.

use std::sync::Arc;

use protocol::AttentionState;
use uuid::Uuid;

use crate::server::Shared;
use crate::session::AttentionChange;
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
    let claimed = state
        .store
        .call(move |s| {
            // A wait without an offset (a peer that does not say) is new
            // whenever memory says so.
            let claimed = match offset {
                Some(offset) => s.claim_alert(id, offset)?,
                None => true,
            };
            if claimed {
                s.add_message(&message)?;
                s.trim_messages(id, keep)?;
            }
            Ok(claimed)
        })
        .await?;
    if claimed {
        tracing::info!(session = %id, ?offset, "session waits for its owner");
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
