//! Share links as the viewer presents them: the lifetimes offered, what a
//! role lets the holder do, and why a share link was refused (the relay's
//! close reason, sorted into expired, revoked and unknown). No browser types:
//! tested natively.

use protocol::Role;

/// How long a new share link works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkLifetime {
    /// One hour.
    Hour,
    /// One day (the relay's default).
    Day,
    /// Seven days (the relay's maximum).
    Week,
}

impl LinkLifetime {
    /// Every lifetime offered, shortest first.
    pub const ALL: [LinkLifetime; 3] = [LinkLifetime::Hour, LinkLifetime::Day, LinkLifetime::Week];

    /// Seconds, as `ShareRequest::ttl_secs`.
    pub fn secs(self) -> u64 {
        match self {
            LinkLifetime::Hour => 3_600,
            LinkLifetime::Day => 86_400,
            LinkLifetime::Week => 7 * 86_400,
        }
    }

    /// What the choice says.
    pub fn label(self) -> &'static str {
        match self {
            LinkLifetime::Hour => "1 hour",
            LinkLifetime::Day => "1 day",
            LinkLifetime::Week => "7 days",
        }
    }

    /// A stable name for forms and tests (`1h`, `1d`, `7d`).
    pub fn name(self) -> &'static str {
        match self {
            LinkLifetime::Hour => "1h",
            LinkLifetime::Day => "1d",
            LinkLifetime::Week => "7d",
        }
    }

    /// The lifetime called `name` (see [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }
}

/// What a role is called in the page.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "read-only",
        Role::ReadWrite => "read-write",
    }
}

/// Said next to every read-write link: what handing it out means.
pub const READ_WRITE_WARNING: &str = "A read-write link lets whoever holds it type into the \
agent — and so run commands on your machine as you. Share it only with someone you trust.";

/// Why the relay refused a share link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareRefusal {
    /// Its time is up.
    Expired,
    /// Its owner revoked it (or the key that made it).
    Revoked,
    /// Not a link the relay knows (mistyped, forged, or for another session).
    Unknown,
}

impl ShareRefusal {
    /// Sorts the relay's close reason (`share token expired`, `share link
    /// revoked`, `unknown share link`, …). `None` for a reason that is not
    /// about the link itself (the relay is full, say).
    pub fn from_reason(reason: &str) -> Option<Self> {
        let reason = reason.to_ascii_lowercase();
        if reason.contains("expired") {
            Some(ShareRefusal::Expired)
        } else if reason.contains("revoked") {
            Some(ShareRefusal::Revoked)
        } else if [
            "unknown share link",
            "another session",
            "invalid api key or token",
            "unknown session",
            "malformed session id",
        ]
        .iter()
        .any(|known| reason.contains(known))
        {
            Some(ShareRefusal::Unknown)
        } else {
            None
        }
    }

    /// A stable name for styling and tests.
    pub fn kind(self) -> &'static str {
        match self {
            ShareRefusal::Expired => "expired",
            ShareRefusal::Revoked => "revoked",
            ShareRefusal::Unknown => "unknown",
        }
    }

    /// What the page tells the link's holder.
    pub fn message(self) -> &'static str {
        match self {
            ShareRefusal::Expired => {
                "This share link has expired. Ask the person who shared it for a new one."
            }
            ShareRefusal::Revoked => {
                "This share link was revoked by the person who shared it. Ask them for a new one."
            }
            ShareRefusal::Unknown => {
                "This share link is not valid: check that it was copied in full, or ask for a new one."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_match_the_relays_limits() {
        assert_eq!(LinkLifetime::Day.secs(), 86_400);
        assert_eq!(LinkLifetime::Week.secs(), 7 * 86_400);
        for lifetime in LinkLifetime::ALL {
            assert_eq!(LinkLifetime::from_name(lifetime.name()), Some(lifetime));
        }
        assert_eq!(LinkLifetime::from_name("2d"), None);
    }

    #[test]
    fn refusals_are_sorted_by_the_relays_reason() {
        let kind = |reason| ShareRefusal::from_reason(reason);
        assert_eq!(kind("share token expired"), Some(ShareRefusal::Expired));
        assert_eq!(kind("share link revoked"), Some(ShareRefusal::Revoked));
        assert_eq!(kind("unknown share link"), Some(ShareRefusal::Unknown));
        assert_eq!(
            kind("share link is for another session"),
            Some(ShareRefusal::Unknown)
        );
        assert_eq!(kind("too many viewers through this share link"), None);
    }
}
