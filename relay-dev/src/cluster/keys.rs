//! The names and values of the cluster's Redis keys and channel.

use std::collections::BTreeMap;

use protocol::Attention;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::valid_node_id;
use crate::session::{AttentionNow, LiveSession};

/// The pub/sub channel every node listens on.
pub(crate) const EVENTS: &str = "tether:events";

/// The key holding a node's internal URL.
pub(super) fn node_key(node: &str) -> String {
    format!("tether:node:{node}")
}

/// The key naming a session's owner and its viewer count.
pub(super) fn session_key(session: Uuid) -> String {
    format!("tether:session:{session}")
}

/// What a session's owner reports in its key, beside its node id: the
/// session as its list entry needs it on any node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Report {
    /// Viewers it serves (relayed ones included).
    pub(super) viewers: u64,
    /// Of those, the viewers of each share link, by its id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) shares: BTreeMap<String, u64>,
    /// The attention in force, once reported…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) attention: Option<Attention>,
    /// … since these Unix seconds.
    #[serde(default)]
    pub(super) since: u64,
}

impl Report {
    /// What the owner of `live` reports.
    pub(super) fn of(live: &LiveSession) -> Self {
        Self {
            viewers: live.viewers as u64,
            shares: (live.shares.iter())
                .map(|(id, n)| (id.clone(), *n as u64))
                .collect(),
            since: live.attention.as_ref().map_or(0, |a| a.since),
            attention: live.attention.as_ref().map(|a| a.attention.clone()),
        }
    }

    /// The reported attention (its text within the limit).
    pub(super) fn attention_now(&self) -> Option<AttentionNow> {
        Some(AttentionNow {
            attention: self.attention.clone()?.within_limits(),
            since: self.since,
        })
    }
}

/// The value of a session's key: `"{node} {report as JSON}"` (the node
/// first, for the scripts' check of who holds it).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OwnerValue<'a> {
    /// The owner's node id.
    pub(super) node: &'a str,
    /// What it reports.
    pub(super) report: Report,
}

impl<'a> OwnerValue<'a> {
    /// The value for `node` reporting `report`.
    pub(super) fn format(node: &str, report: &Report) -> String {
        let json = serde_json::to_string(report).unwrap_or_else(|_| "{}".into());
        format!("{node} {json}")
    }

    /// Reads a value; `None` if it is not one of ours. A bare viewer count
    /// (what nodes before the report wrote) is read as a report of it.
    pub(super) fn parse(value: &'a str) -> Option<Self> {
        let (node, rest) = value.split_once(' ')?;
        if !valid_node_id(node) {
            return None;
        }
        let report = match rest.parse::<u64>() {
            Ok(viewers) => Report {
                viewers,
                ..Report::default()
            },
            Err(_) => serde_json::from_str(rest).ok()?,
        };
        Some(Self { node, report })
    }
}

/// What an event on [`EVENTS`] says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
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
    pub(crate) fn parse(text: &'a str) -> Option<Self> {
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
        let report = Report {
            viewers: 3,
            shares: BTreeMap::from([("s1".to_string(), 2)]),
            attention: Some(Attention::new(
                protocol::AttentionState::Waiting,
                Some("Allow edit?".into()),
                Some(42),
            )),
            since: 1_800_000_000,
        };
        let value = OwnerValue::format("node-1", &report);
        assert!(value.starts_with("node-1 {"), "{value}");
        let back = OwnerValue::parse(&value).unwrap();
        assert_eq!((back.node, &back.report), ("node-1", &report));
        assert_eq!(back.report.attention_now().unwrap().since, 1_800_000_000);
        let old = OwnerValue::parse("node-1 3").unwrap();
        assert_eq!((old.node, old.report.viewers), ("node-1", 3));
        assert_eq!(OwnerValue::parse("node-1"), None);
        assert_eq!(OwnerValue::parse("node 1 x"), None);
        assert_eq!(OwnerValue::parse("no/de 1"), None);
        assert_eq!(OwnerValue::parse("node-1 {\"viewers\":-1}"), None);
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
