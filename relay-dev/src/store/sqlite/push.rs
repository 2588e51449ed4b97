//! Alerts and Web Push subscriptions in SQLite: the `alerts` table (the last
//! wait each session alerted for, so a wait reported again after a relay
//! restart alerts nobody) and `push_subscriptions` ([`PUSH_MIGRATION`]).

use rusqlite::{params, Connection, OptionalExtension};

/// Creates the `alerts` and `push_subscriptions` tables.
pub(super) const PUSH_MIGRATION: &str = "
    CREATE TABLE alerts (
        session_id TEXT PRIMARY KEY,
        wait_offset INTEGER NOT NULL
    );
    CREATE TABLE push_subscriptions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (user, endpoint)
    );
";

/// Records the wait at `offset` as alerted; `false` if a wait at or past it
/// already was.
pub(super) fn claim_alert(c: &Connection, session_id: &str, offset: u64) -> rusqlite::Result<bool> {
    let offset = i64::try_from(offset).unwrap_or(i64::MAX);
    let last: Option<i64> = c
        .query_row(
            "SELECT wait_offset FROM alerts WHERE session_id = ?1",
            [session_id],
            |r| r.get(0),
        )
        .optional()?;
    if last.is_some_and(|last| last >= offset) {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO alerts (session_id, wait_offset) VALUES (?1, ?2)
         ON CONFLICT (session_id) DO UPDATE SET wait_offset = excluded.wait_offset",
        params![session_id, offset],
    )?;
    Ok(true)
}
