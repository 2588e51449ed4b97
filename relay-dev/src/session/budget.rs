//! Memory budgets for session history, in bytes: what each user's sessions
//! hold in memory, and all users' together. An open session reserves its
//! whole ring (it may fill it); an ended one holds what its ring holds, and
//! is the first to give it up: [`make_room`] picks the ended rings to free,
//! oldest first, before a new session is refused.

use std::time::Instant;

use uuid::Uuid;

/// The byte budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Bytes one user's sessions may hold.
    pub(crate) per_user: u64,
    /// Bytes all sessions may hold.
    pub(crate) global: u64,
}

impl Budget {
    /// No limit (for tests of other things).
    #[cfg(test)]
    pub(crate) const UNLIMITED: Budget = Budget {
        per_user: u64::MAX,
        global: u64::MAX,
    };
}

/// What one session in memory holds, for the accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Holding {
    /// The session.
    pub(super) id: Uuid,
    /// Its owner.
    pub(super) user: String,
    /// Bytes it holds or reserves.
    pub(super) bytes: u64,
    /// When it ended, if it did (then its ring may be freed).
    pub(super) ended: Option<Instant>,
}

/// Why a session cannot have a ring in memory now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BudgetError {
    /// The user's sessions hold their whole budget.
    #[error(
        "memory budget for this user is full ({held} of {budget} bytes of session history in use): end or close a session"
    )]
    User {
        /// Bytes the user's sessions hold.
        held: u64,
        /// The per-user budget.
        budget: u64,
    },
    /// All sessions together hold the relay's whole budget.
    #[error(
        "the relay's memory budget is full ({held} of {budget} bytes of session history in use): try again later"
    )]
    Global {
        /// Bytes all sessions hold.
        held: u64,
        /// The global budget.
        budget: u64,
    },
}

/// The ended sessions whose rings must be freed (oldest first) so that
/// `user` can hold `need` more bytes within `budget`, or why no choice
/// frees enough. `holdings` are every other session in memory.
pub(super) fn make_room(
    holdings: &[Holding],
    user: &str,
    need: u64,
    budget: Budget,
) -> Result<Vec<Uuid>, BudgetError> {
    let mut user_held: u64 = holdings
        .iter()
        .filter(|h| h.user == user)
        .map(|h| h.bytes)
        .sum();
    let mut global_held: u64 = holdings.iter().map(|h| h.bytes).sum();
    let mut ended: Vec<&Holding> = holdings
        .iter()
        .filter(|h| h.ended.is_some() && h.bytes > 0)
        .collect();
    ended.sort_by_key(|h| h.ended);
    let mut freed = Vec::new();
    loop {
        let user_over = user_held.saturating_add(need) > budget.per_user;
        let global_over = global_held.saturating_add(need) > budget.global;
        if !user_over && !global_over {
            return Ok(freed);
        }
        // Over the user's budget only the user's own rings help; over the
        // global one, anyone's.
        let pick = ended
            .iter()
            .position(|h| !user_over || h.user == user)
            .map(|i| ended.remove(i));
        let Some(oldest) = pick else {
            return Err(if user_over {
                BudgetError::User {
                    held: user_held,
                    budget: budget.per_user,
                }
            } else {
                BudgetError::Global {
                    held: global_held,
                    budget: budget.global,
                }
            });
        };
        if oldest.user == user {
            user_held -= oldest.bytes;
        }
        global_held -= oldest.bytes;
        freed.push(oldest.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn holding(user: &str, bytes: u64, ended_secs_ago: Option<u64>) -> Holding {
        Holding {
            id: Uuid::new_v4(),
            user: user.into(),
            bytes,
            ended: ended_secs_ago.map(|s| Instant::now() - Duration::from_secs(s)),
        }
    }

    const BUDGET: Budget = Budget {
        per_user: 100,
        global: 250,
    };

    #[test]
    fn fits_without_freeing_anything() {
        let holdings = [holding("ann", 40, None), holding("bob", 100, Some(5))];
        assert_eq!(make_room(&holdings, "ann", 60, BUDGET), Ok(vec![]));
    }

    #[test]
    fn frees_the_users_oldest_ended_rings_first() {
        let newer = holding("ann", 30, Some(1));
        let older = holding("ann", 30, Some(9));
        let live = holding("ann", 30, None);
        let holdings = [newer.clone(), live, older.clone()];
        assert_eq!(
            make_room(&holdings, "ann", 40, BUDGET),
            Ok(vec![older.id]),
            "one ring is enough"
        );
        assert_eq!(
            make_room(&holdings, "ann", 70, BUDGET),
            Ok(vec![older.id, newer.id])
        );
    }

    #[test]
    fn refuses_when_only_open_sessions_hold_the_budget() {
        let holdings = [holding("ann", 60, None), holding("bob", 10, Some(9))];
        assert_eq!(
            make_room(&holdings, "ann", 50, BUDGET),
            Err(BudgetError::User {
                held: 60,
                budget: 100
            }),
            "another user's ring does not help the per-user budget"
        );
    }

    #[test]
    fn the_global_budget_frees_anyones_ended_ring() {
        let bobs = holding("bob", 90, Some(30));
        let holdings = [
            holding("cat", 100, None),
            bobs.clone(),
            holding("dan", 50, None),
        ];
        assert_eq!(make_room(&holdings, "ann", 20, BUDGET), Ok(vec![bobs.id]));
        let full = [holding("cat", 100, None), holding("dan", 100, None)];
        assert_eq!(
            make_room(&full, "ann", 60, BUDGET),
            Err(BudgetError::Global {
                held: 200,
                budget: 250
            })
        );
    }
}
