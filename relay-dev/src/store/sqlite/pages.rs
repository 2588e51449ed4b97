//! The bounded lists in SQLite: a session's message log kept to its latest
//! messages, read a page at a time (before a given message), and a user's
//! sessions a page at a time.

use rusqlite::{params, Connection, Row};
use uuid::Uuid;

use super::{session_from_row, uuid_col, SESSION_COLUMNS};
use crate::store::{MessageRecord, SessionRecord};

fn message_from_row(r: &Row<'_>) -> rusqlite::Result<MessageRecord> {
    Ok(MessageRecord {
        id: uuid_col(r, 0)?,
        session_id: uuid_col(r, 1)?,
        content: r.get(2)?,
        sender: r.get(3)?,
        requires_user_input: r.get(4)?,
        created_at: r.get::<_, i64>(5)? as u64,
    })
}

/// The last `limit` messages of a session (before message `before`, when
/// given), oldest first. An unknown `before` gives none.
pub(super) fn messages(
    c: &Connection,
    session_id: Uuid,
    limit: usize,
    before: Option<Uuid>,
) -> rusqlite::Result<Vec<MessageRecord>> {
    let mut stmt = c.prepare(
        "SELECT id, session_id, content, sender, requires_user_input, created_at FROM messages
         WHERE session_id = ?1
           AND (?3 IS NULL OR seq < (SELECT seq FROM messages WHERE id = ?3 AND session_id = ?1))
         ORDER BY seq DESC LIMIT ?2",
    )?;
    let before = before.map(|id| id.to_string());
    let rows = stmt.query_map(
        params![session_id.to_string(), limit as i64, before],
        message_from_row,
    )?;
    let mut list: Vec<MessageRecord> = rows.collect::<rusqlite::Result<_>>()?;
    list.reverse();
    Ok(list)
}

/// Deletes all but the latest `keep` messages of a session; returns how
/// many went.
pub(super) fn trim(c: &Connection, session_id: Uuid, keep: usize) -> rusqlite::Result<usize> {
    c.execute(
        "DELETE FROM messages WHERE session_id = ?1 AND seq <=
             (SELECT MAX(seq) FROM messages WHERE session_id = ?1) - ?2",
        params![session_id.to_string(), keep as i64],
    )
}

/// A user's sessions, newest first: `limit` of them after skipping `offset`.
pub(super) fn sessions(
    c: &Connection,
    user: &str,
    limit: usize,
    offset: usize,
) -> rusqlite::Result<Vec<SessionRecord>> {
    let mut stmt = c.prepare(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user = ?1
         ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = stmt.query_map(params![user, limit as i64, offset as i64], session_from_row)?;
    rows.collect()
}
