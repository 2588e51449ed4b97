//! The bounded lists in PostgreSQL: a session's message log kept to its
//! latest messages and read a page at a time, and a user's sessions.

use deadpool_postgres::Object;
use tokio_postgres::Row;
use uuid::Uuid;

use super::records::{big, col, execute, rows, session_from_row, u64_col, SESSION_COLUMNS};
use super::PgResult;
use crate::store::{MessageRecord, SessionRecord};

fn message_from_row(r: &Row) -> PgResult<MessageRecord> {
    Ok(MessageRecord {
        id: col(r, 0)?,
        session_id: col(r, 1)?,
        content: col(r, 2)?,
        sender: col(r, 3)?,
        requires_user_input: col(r, 4)?,
        created_at: u64_col(r, 5)?,
    })
}

/// Appends a message (its `seq`, from the table's identity, orders the log).
pub(super) async fn add_message(c: &Object, m: &MessageRecord) -> PgResult<()> {
    execute(
        c,
        "INSERT INTO messages (id, session_id, content, sender, requires_user_input, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &m.id,
            &m.session_id,
            &m.content,
            &m.sender,
            &m.requires_user_input,
            &big(m.created_at),
        ],
    )
    .await
    .map(drop)
}

/// The last `limit` messages of a session (before message `before`, when
/// given), oldest first. An unknown `before` gives none.
pub(super) async fn messages(
    c: &Object,
    session_id: Uuid,
    limit: usize,
    before: Option<Uuid>,
) -> PgResult<Vec<MessageRecord>> {
    let list = rows(
        c,
        "SELECT id, session_id, content, sender, requires_user_input, created_at FROM messages
         WHERE session_id = $1
           AND ($3::UUID IS NULL
                OR seq < (SELECT seq FROM messages WHERE id = $3 AND session_id = $1))
         ORDER BY seq DESC LIMIT $2",
        &[&session_id, &big(limit as u64), &before],
    )
    .await?;
    let mut list: Vec<MessageRecord> =
        list.iter().map(message_from_row).collect::<PgResult<_>>()?;
    list.reverse();
    Ok(list)
}

/// Deletes all but the latest `keep` messages of a session; returns how
/// many went.
pub(super) async fn trim(c: &Object, session_id: Uuid, keep: usize) -> PgResult<usize> {
    let gone = execute(
        c,
        "DELETE FROM messages WHERE session_id = $1 AND seq <=
             (SELECT seq FROM messages WHERE session_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)",
        &[&session_id, &big(keep as u64)],
    )
    .await?;
    Ok(usize::try_from(gone).unwrap_or(usize::MAX))
}

/// A user's sessions, newest first: all of them, or `limit` after skipping
/// `offset`.
pub(super) async fn sessions(
    c: &Object,
    user: &str,
    page: Option<(usize, usize)>,
) -> PgResult<Vec<SessionRecord>> {
    // `LIMIT NULL` is no limit.
    let limit = page.map(|(limit, _)| big(limit as u64));
    let offset = page.map_or(0, |(_, offset)| big(offset as u64));
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_name = $1
         ORDER BY created_at DESC, seq DESC LIMIT $2 OFFSET $3"
    );
    let list = rows(c, &sql, &[&user, &limit, &offset]).await?;
    list.iter().map(session_from_row).collect()
}
