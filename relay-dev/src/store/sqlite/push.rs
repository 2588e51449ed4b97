//! Alerts and Web Push subscriptions in SQLite: the `alerts` table (the last
//! wait each session alerted for, so a wait reported again after a relay
//! restart alerts nobody) and `push_subscriptions` ([`PUSH_MIGRATION`]).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::PushSubscriptionRecord;

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

const COLUMNS: &str = "id, user, endpoint, p256dh, auth, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        endpoint: row.get(2)?,
        p256dh: row.get(3)?,
        auth: row.get(4)?,
        created_at: row.get::<_, i64>(5)? as u64,
    })
}

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

/// Saves a subscription, replacing the user's one with the same endpoint.
pub(super) fn put(c: &Connection, s: &PushSubscriptionRecord) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM push_subscriptions WHERE user = ?1 AND endpoint = ?2",
        params![s.user, s.endpoint],
    )?;
    c.execute(
        &format!("INSERT INTO push_subscriptions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            s.id,
            s.user,
            s.endpoint,
            s.p256dh,
            s.auth,
            s.created_at as i64
        ],
    )?;
    Ok(())
}

/// A user's subscriptions, oldest first.
pub(super) fn of_user(c: &Connection, user: &str) -> rusqlite::Result<Vec<PushSubscriptionRecord>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE user = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([user], from_row)?;
    rows.collect()
}

/// Deletes subscription `id` of `user`; `false` if there is none.
pub(super) fn delete(c: &Connection, user: &str, id: &str) -> rusqlite::Result<bool> {
    Ok(c.execute(
        "DELETE FROM push_subscriptions WHERE user = ?1 AND id = ?2",
        params![user, id],
    )? > 0)
}
