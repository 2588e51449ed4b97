//! [`ViewerSeats`]: who is watching a session — the owner's own links and
//! each share link's — within [`SeatLimits`]: so many viewers in all, some
//! of those places never given to share links (the owner is never locked
//! out of their own session), and so many through any one share link.

use std::collections::HashMap;

use super::JoinError;

/// How many viewers a session takes, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SeatLimits {
    /// Viewers in all.
    pub(crate) max: usize,
    /// Places of `max` that share links cannot take.
    pub(crate) owner_reserved: usize,
    /// Viewers through one share link.
    pub(crate) per_share: usize,
}

/// Whose credential a viewer holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seat {
    /// One of the owner's API keys.
    Owner,
    /// A share link, by an identity of its token (never the token itself).
    Share(String),
}

/// The viewers of one session, counted by credential.
#[derive(Debug, Default)]
pub(super) struct ViewerSeats {
    owner: usize,
    shares: HashMap<String, usize>,
    shared: usize,
}

impl ViewerSeats {
    /// Viewers attached now.
    pub(super) fn total(&self) -> usize {
        self.owner + self.shared
    }

    /// Viewers through each share link now, by its id.
    pub(super) fn by_share(&self) -> Vec<(String, usize)> {
        self.shares.iter().map(|(id, n)| (id.clone(), *n)).collect()
    }

    /// Takes a place for `seat`, or says which limit is reached.
    pub(super) fn take(&mut self, seat: &Seat, limits: SeatLimits) -> Result<(), JoinError> {
        if self.total() >= limits.max {
            return Err(JoinError::TooManyViewers);
        }
        match seat {
            Seat::Owner => self.owner += 1,
            Seat::Share(share) => {
                if self.shared >= limits.max.saturating_sub(limits.owner_reserved) {
                    return Err(JoinError::NoRoomForShares);
                }
                let through = self.shares.entry(share.clone()).or_default();
                if *through >= limits.per_share {
                    return Err(JoinError::TooManyForShare);
                }
                *through += 1;
                self.shared += 1;
            }
        }
        Ok(())
    }

    /// Gives back a place taken for `seat`.
    pub(super) fn release(&mut self, seat: &Seat) {
        match seat {
            Seat::Owner => self.owner = self.owner.saturating_sub(1),
            Seat::Share(share) => {
                if let Some(through) = self.shares.get_mut(share) {
                    *through -= 1;
                    self.shared -= 1;
                    if *through == 0 {
                        self.shares.remove(share);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SeatLimits = SeatLimits {
        max: 6,
        owner_reserved: 2,
        per_share: 3,
    };

    fn share(name: &str) -> Seat {
        Seat::Share(name.to_string())
    }

    #[test]
    fn share_links_leave_the_owners_places_free() {
        let mut seats = ViewerSeats::default();
        for link in ["a", "a", "a", "b"] {
            seats.take(&share(link), LIMITS).unwrap();
        }
        assert_eq!(
            seats.take(&share("c"), LIMITS),
            Err(JoinError::NoRoomForShares)
        );
        seats.take(&Seat::Owner, LIMITS).unwrap();
        seats.take(&Seat::Owner, LIMITS).unwrap();
        assert_eq!(
            seats.take(&Seat::Owner, LIMITS),
            Err(JoinError::TooManyViewers)
        );
        assert_eq!(seats.total(), 6);
    }

    #[test]
    fn one_share_link_takes_at_most_its_share() {
        let mut seats = ViewerSeats::default();
        for _ in 0..3 {
            seats.take(&share("a"), LIMITS).unwrap();
        }
        assert_eq!(
            seats.take(&share("a"), LIMITS),
            Err(JoinError::TooManyForShare)
        );
        seats.release(&share("a"));
        seats.take(&share("a"), LIMITS).unwrap();
        seats.release(&share("never joined"));
        assert_eq!(seats.total(), 3);
    }

    #[test]
    fn the_owner_may_take_every_place() {
        let mut seats = ViewerSeats::default();
        for _ in 0..6 {
            seats.take(&Seat::Owner, LIMITS).unwrap();
        }
        assert_eq!(
            seats.take(&share("a"), LIMITS),
            Err(JoinError::TooManyViewers)
        );
        seats.release(&Seat::Owner);
        assert_eq!(
            seats.take(&share("a"), LIMITS),
            Ok(()),
            "a free place goes to a share link while it has room"
        );
    }
}
