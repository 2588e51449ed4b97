//! The names and values of the cluster's Redis keys and channel.

use uuid::Uuid;

/// The pub/sub channel every node listens on.
pub(super) const EVENTS: &str = "tether:events";

/// The key holding a node's internal URL.
pub(super) fn node_key(node: &str) -> String {
    format!("tether:node:{node}")
}

/// The key naming a session's owner and its viewer count.
pub(super) fn session_key(session: Uuid) -> String {
    format!("tether:session:{session}")
}

/// Whether `id` can name a node: 1 to 64 ASCII letters, digits, `.`, `_`
/// or `-` (it is a word in keys' values and in events).
pub(crate) fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The value of a session's key: `"{node} {viewers}"`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OwnerValue<'a> {
    /// The owner's node id.
    pub(super) node: &'a str,
    /// The viewers it serves.
    pub(super) viewers: u64,
}

impl<'a> OwnerValue<'a> {
    /// The value for `node` serving `viewers`.
    pub(super) fn format(node: &str, viewers: u64) -> String {
        format!("{node} {viewers}")
    }

    /// Reads a value; `None` if it is not one of ours.
    pub(super) fn parse(value: &'a str) -> Option<Self> {
        let (node, viewers) = value.split_once(' ')?;
        if !valid_node_id(node) {
            return None;
        }
        Some(Self {
            node,
            viewers: viewers.parse().ok()?,
        })
    }
}

/// What an event on [`EVENTS`] says.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event<'a> {
    /// A key or share link was revoked somewhere.
    Revoked,
    /// `node` took session `session`'s agent link.
    Owner {
        /// The session.
        session: Uuid,
        /// Its new owner.
        node: &'a str,
    },
}

impl<'a> Event<'a> {
    /// Reads an event; `None` for anything else.
    pub(super) fn parse(text: &'a str) -> Option<Self> {
        let mut words = text.split(' ');
        let event = match (words.next()?, words.next(), words.next()) {
            ("revoked", None, None) => Event::Revoked,
            ("owner", Some(session), Some(node)) if valid_node_id(node) => Event::Owner {
                session: Uuid::parse_str(session).ok()?,
                node,
            },
            _ => return None,
        };
        words.next().is_none().then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_values_round_trip_and_foreign_ones_are_ignored() {
        let value = OwnerValue::format("node-1", 3);
        assert_eq!(
            OwnerValue::parse(&value),
            Some(OwnerValue {
                node: "node-1",
                viewers: 3
            })
        );
        assert_eq!(OwnerValue::parse("node-1"), None);
        assert_eq!(OwnerValue::parse("node 1 x"), None);
        assert_eq!(OwnerValue::parse("no/de 1"), None);
    }

    #[test]
    fn events_parse_strictly() {
        let id = Uuid::new_v4();
        assert_eq!(Event::parse("revoked"), Some(Event::Revoked));
        assert_eq!(
            Event::parse(&format!("owner {id} n2")),
            Some(Event::Owner {
                session: id,
                node: "n2"
            })
        );
        assert_eq!(Event::parse(&format!("owner {id} n2 extra")), None);
        assert_eq!(Event::parse("owner not-a-uuid n2"), None);
        assert_eq!(Event::parse("revoked now"), None);
        assert_eq!(Event::parse(""), None);
    }

    #[test]
    fn node_ids_are_single_safe_words() {
        assert!(valid_node_id("relay-1.eu_west"));
        assert!(!valid_node_id(""));
        assert!(!valid_node_id("a b"));
        assert!(!valid_node_id(&"x".repeat(65)));
    }
}
