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

#[cfg(test)]
mod tests {
    use crate::store::{MessageRecord, SessionRecord, SqliteStore, Store as _};
    use uuid::Uuid;

    fn post(store: &SqliteStore, session_id: Uuid, content: &str) -> Uuid {
        let id = Uuid::new_v4();
        store
            .add_message(&MessageRecord {
                id,
                session_id,
                content: content.into(),
                sender: "agent".into(),
                requires_user_input: false,
                created_at: 1,
            })
            .unwrap();
        id
    }

    fn contents(list: Vec<MessageRecord>) -> Vec<String> {
        list.into_iter().map(|m| m.content).collect()
    }

    #[test]
    fn the_log_keeps_its_latest_messages_and_pages_back() {
        let store = SqliteStore::in_memory().unwrap();
        let (session, other) = (Uuid::new_v4(), Uuid::new_v4());
        let ids: Vec<Uuid> = (0..6)
            .map(|i| post(&store, session, &format!("m{i}")))
            .collect();
        post(&store, other, "elsewhere");
        assert_eq!(store.trim_messages(session, 4).unwrap(), 2);
        assert_eq!(
            contents(store.messages(session, 10).unwrap()),
            ["m2", "m3", "m4", "m5"]
        );
        assert_eq!(
            contents(store.messages_before(session, 2, Some(ids[4])).unwrap()),
            ["m2", "m3"]
        );
        assert!(store
            .messages_before(session, 2, Some(Uuid::new_v4()))
            .unwrap()
            .is_empty());
        assert_eq!(contents(store.messages(other, 10).unwrap()), ["elsewhere"]);
        // New messages keep their order after a trim.
        post(&store, session, "m6");
        assert_eq!(store.trim_messages(session, 4).unwrap(), 1);
        assert_eq!(contents(store.messages(session, 2).unwrap()), ["m5", "m6"]);
    }

    #[test]
    fn sessions_come_a_page_at_a_time_newest_first() {
        let store = SqliteStore::in_memory().unwrap();
        let ids: Vec<Uuid> = (0..5)
            .map(|i| {
                let id = Uuid::new_v4();
                store
                    .put_session(&SessionRecord {
                        id,
                        user: "ann".into(),
                        agent_type: "codex".into(),
                        name: None,
                        created_at: i,
                        last_activity: i,
                        ended_at: None,
                        exit_status: None,
                    })
                    .unwrap();
                id
            })
            .collect();
        let page = |limit, offset| -> Vec<Uuid> {
            store
                .sessions_page("ann", limit, offset)
                .unwrap()
                .into_iter()
                .map(|s| s.id)
                .collect()
        };
        assert_eq!(page(2, 0), [ids[4], ids[3]]);
        assert_eq!(page(2, 4), [ids[0]]);
        assert!(page(2, 5).is_empty());
        assert!(store.sessions_page("bob", 10, 0).unwrap().is_empty());
    }
}
