//! Which waits are new: the dashboard alerts once per wait, never again on
//! the next poll of the same list, and not for waits that were already
//! there when the page opened (the list shows those).

use std::collections::HashSet;

use protocol::api::SessionInfo;
use protocol::AttentionState;

/// A wait's identity: the session and the stream offset (or, without one,
/// the time) at which it began. The same wait reported again after a
/// reconnect keeps its offset.
type WaitId = (String, String);

/// The waits seen in the last list.
#[derive(Debug, Default)]
pub struct WaitTracker {
    /// `None` until the first list came.
    seen: Option<HashSet<WaitId>>,
}

impl WaitTracker {
    /// Takes a freshly loaded list and returns the sessions whose wait is
    /// new since the previous list (none for the first list). Only the
    /// listed sessions' waits are kept, so memory follows the list.
    pub fn new_waits<'a>(&mut self, sessions: &'a [SessionInfo]) -> Vec<&'a SessionInfo> {
        let current: Vec<(WaitId, &SessionInfo)> = sessions
            .iter()
            .filter_map(|session| {
                let attention = session.attention.as_ref()?;
                if attention.state != AttentionState::Waiting {
                    return None;
                }
                let began = match attention.offset {
                    Some(offset) => offset.to_string(),
                    None => attention.since.clone(),
                };
                Some(((session.id.clone(), began), session))
            })
            .collect();
        let fresh = match &self.seen {
            None => Vec::new(),
            Some(seen) => current
                .iter()
                .filter(|(id, _)| !seen.contains(id))
                .map(|&(_, session)| session)
                .collect(),
        };
        self.seen = Some(current.into_iter().map(|(id, _)| id).collect());
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, attention: Option<(&str, u64)>) -> SessionInfo {
        let mut json = serde_json::json!({
            "id": id, "agent_instance_id": id, "agent_type": "claude", "status": "live",
            "created_at": "2026-01-01T00:00:00Z", "last_activity": "2026-01-01T00:00:00Z",
        });
        if let Some((state, offset)) = attention {
            json["attention"] = serde_json::json!({
                "state": state, "text": "Allow?", "offset": offset, "since": "2026-01-01T00:00:01Z",
            });
        }
        serde_json::from_value(json).unwrap()
    }

    fn ids(sessions: Vec<&SessionInfo>) -> Vec<String> {
        sessions.into_iter().map(|s| s.id.clone()).collect()
    }

    #[test]
    fn each_wait_once_and_none_for_those_already_there() {
        let mut tracker = WaitTracker::default();
        let first = [session("a", Some(("waiting", 10))), session("b", None)];
        assert!(
            tracker.new_waits(&first).is_empty(),
            "already waiting at load"
        );
        let second = [
            session("a", Some(("waiting", 10))),
            session("b", Some(("waiting", 5))),
        ];
        assert_eq!(ids(tracker.new_waits(&second)), ["b"]);
        assert!(tracker.new_waits(&second).is_empty(), "the same wait again");
        // `a` worked and waits again (a new offset), even if no poll saw it work.
        let third = [
            session("a", Some(("waiting", 40))),
            session("b", Some(("working", 6))),
        ];
        assert_eq!(ids(tracker.new_waits(&third)), ["a"]);
        let fourth = [
            session("a", Some(("waiting", 40))),
            session("b", Some(("waiting", 50))),
        ];
        assert_eq!(ids(tracker.new_waits(&fourth)), ["b"], "b waits again");
    }
}
