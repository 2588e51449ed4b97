//! Share grants in SQLite: the `shares` table ([`SHARES_MIGRATION`]) and the
//! queries behind the share methods of [`Store`](crate::store::Store).

use std::collections::HashSet;

use protocol::Role;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::uuid_col;
use crate::store::ShareRecord;

/// Creates the `shares` table: one row per minted share link.
pub(super) const SHARES_MIGRATION: &str = "
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX shares_by_session ON shares (session_id, created_at);
    CREATE INDEX shares_by_expiry ON shares (expires_at);
";

const COLUMNS: &str = "id, session_id, role, key_id, created_at, expires_at, revoked";

fn role_text(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "ro",
        Role::ReadWrite => "rw",
    }
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<ShareRecord> {
    let role: String = row.get(2)?;
    Ok(ShareRecord {
        id: row.get(0)?,
        session_id: uuid_col(row, 1)?,
        role: if role == "rw" {
            Role::ReadWrite
        } else {
            Role::ReadOnly
        },
        key_id: row.get(3)?,
        created_at: row.get::<_, i64>(4)? as u64,
        expires_at: row.get::<_, i64>(5)? as u64,
        revoked: row.get(6)?,
    })
}

/// Saves a new grant, and forgets grants expired before `share.created_at`
/// (an expired token is refused by its signed expiry alone).
pub(super) fn insert(c: &Connection, share: &ShareRecord) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM shares WHERE expires_at <= ?1",
        [share.created_at as i64],
    )?;
    c.execute(
        &format!("INSERT INTO shares ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            share.id,
            share.session_id.to_string(),
            role_text(share.role),
            share.key_id,
            share.created_at as i64,
            share.expires_at as i64,
            share.revoked
        ],
    )
    .map(drop)
}

/// The grant with this id.
pub(super) fn get(c: &Connection, id: &str) -> rusqlite::Result<Option<ShareRecord>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM shares WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

/// A session's grants that still work at `now` (not expired, not revoked,
/// minting key not revoked), oldest first.
pub(super) fn active(
    c: &Connection,
    session_id: &str,
    now: u64,
) -> rusqlite::Result<Vec<ShareRecord>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {COLUMNS} FROM shares
         WHERE session_id = ?1 AND expires_at > ?2 AND revoked = 0
           AND key_id NOT IN (SELECT id FROM api_keys WHERE revoked = 1)
         ORDER BY created_at, rowid"
    ))?;
    let rows = stmt.query_map(params![session_id, now as i64], from_row)?;
    rows.collect()
}

/// Revokes a grant; `false` if there is none with this id.
pub(super) fn revoke(c: &Connection, id: &str) -> rusqlite::Result<bool> {
    c.execute("UPDATE shares SET revoked = 1 WHERE id = ?1", [id])
        .map(|n| n > 0)
}

/// Ids of grants not yet expired at `now` that no longer work: revoked, or
/// minted by a revoked key.
pub(super) fn revoked_ids(c: &Connection, now: u64) -> rusqlite::Result<HashSet<String>> {
    let mut stmt = c.prepare(
        "SELECT id FROM shares WHERE expires_at > ?1
           AND (revoked = 1 OR key_id IN (SELECT id FROM api_keys WHERE revoked = 1))",
    )?;
    let rows = stmt.query_map([now as i64], |r| r.get(0))?;
    rows.collect()
}
