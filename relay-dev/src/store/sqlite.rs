//! The SQLite [`Store`]: one file (owner-only, with its `-wal` and `-shm`),
//! schema migrated on open. Share grants' queries live in [`shares`].

mod pages;
mod push;
mod shares;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, Row};
use uuid::Uuid;

use super::{
    KeyRecord, MessageRecord, PushSubscriptionRecord, SessionRecord, ShareRecord, Store,
    StoreError, StoreResult,
};
use crate::private_files::{create_private_file, restrict_to_owner};

/// Schema migrations, applied in order; `PRAGMA user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        agent_type TEXT NOT NULL,
        name TEXT,
        created_at INTEGER NOT NULL,
        last_activity INTEGER NOT NULL,
        ended_at INTEGER,
        exit_status INTEGER
    );
    CREATE INDEX sessions_by_user ON sessions (user, created_at);
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        content TEXT NOT NULL,
        sender TEXT NOT NULL,
        requires_user_input INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        seq INTEGER NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session_id, seq);
",
    shares::SHARES_MIGRATION,
    push::PUSH_MIGRATION,
];

/// A [`Store`] in one SQLite file.
#[derive(Debug)]
pub(crate) struct SqliteStore {
    conn: Mutex<Connection>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    /// The file and its companions are made 0600 (SQLite creates `-wal` and
    /// `-shm` with the database's mode).
    pub(crate) fn open(path: &Path) -> StoreResult<Self> {
        let io = |e: std::io::Error| StoreError(format!("{}: {e}", path.display()));
        create_private_file(path).map_err(io)?;
        let store = Self::init(Connection::open(path).map_err(err)?)?;
        for suffix in ["-wal", "-shm"] {
            let mut companion = path.as_os_str().to_owned();
            companion.push(suffix);
            restrict_to_owner(Path::new(&companion)).map_err(io)?;
        }
        Ok(store)
    }

    /// A private in-memory database, for tests.
    #[cfg(test)]
    pub(crate) fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(conn: Connection) -> StoreResult<Self> {
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        let applied: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
            conn.execute_batch(migration).map_err(err)?;
            conn.pragma_update(None, "user_version", i + 1)
                .map_err(err)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(err)
    }
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    Ok(KeyRecord {
        id: row.get(0)?,
        user: row.get(1)?,
        hash: row.get(2)?,
        created_at: row.get::<_, i64>(3)? as u64,
        revoked: row.get(4)?,
    })
}

fn uuid_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let text: String = row.get(i)?;
    Uuid::parse_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: uuid_col(row, 0)?,
        user: row.get(1)?,
        agent_type: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get::<_, i64>(4)? as u64,
        last_activity: row.get::<_, i64>(5)? as u64,
        ended_at: row.get::<_, Option<i64>>(6)?.map(|t| t as u64),
        exit_status: row.get(7)?,
    })
}

const SESSION_COLUMNS: &str =
    "id, user, agent_type, name, created_at, last_activity, ended_at, exit_status";

impl Store for SqliteStore {
    fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (id, user, hash, created_at, revoked) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![key.id, key.user, key.hash, key.created_at as i64, key.revoked],
            )
            .map(drop)
        })
    }

    fn key(&self, id: &str) -> StoreResult<Option<KeyRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, user, hash, created_at, revoked FROM api_keys WHERE id = ?1",
                [id],
                key_from_row,
            )
            .optional()
        })
    }

    fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, user, hash, created_at, revoked FROM api_keys ORDER BY created_at, rowid",
            )?;
            let rows = stmt.query_map([], key_from_row)?;
            rows.collect()
        })
    }

    fn revoke_key(&self, id: &str) -> StoreResult<bool> {
        self.with(|c| {
            c.execute("UPDATE api_keys SET revoked = 1 WHERE id = ?1", [id])
                .map(|n| n > 0)
        })
    }

    fn revoked_key_ids(&self) -> StoreResult<HashSet<String>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT id FROM api_keys WHERE revoked = 1")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn put_session(&self, s: &SessionRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO sessions (id, user, agent_type, name, created_at, last_activity, ended_at, exit_status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    s.id.to_string(),
                    s.user,
                    s.agent_type,
                    s.name,
                    s.created_at as i64,
                    s.last_activity as i64,
                    s.ended_at.map(|t| t as i64),
                    s.exit_status
                ],
            )
            .map(drop)
        })
    }

    fn session(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"),
                [id.to_string()],
                session_from_row,
            )
            .optional()
        })
    }

    fn sessions_of(&self, user: &str) -> StoreResult<Vec<SessionRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions WHERE user = ?1 ORDER BY created_at DESC, rowid DESC"
            ))?;
            let rows = stmt.query_map([user], session_from_row)?;
            rows.collect()
        })
    }

    fn add_message(&self, m: &MessageRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO messages (id, session_id, content, sender, requires_user_input, created_at, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6,
                         (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE session_id = ?2))",
                params![
                    m.id.to_string(),
                    m.session_id.to_string(),
                    m.content,
                    m.sender,
                    m.requires_user_input,
                    m.created_at as i64
                ],
            )
            .map(drop)
        })
    }

    fn messages(&self, session_id: Uuid, limit: usize) -> StoreResult<Vec<MessageRecord>> {
        self.with(|c| pages::messages(c, session_id, limit, None))
    }

    fn messages_before(
        &self,
        session_id: Uuid,
        limit: usize,
        before: Option<Uuid>,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.with(|c| pages::messages(c, session_id, limit, before))
    }

    fn trim_messages(&self, session_id: Uuid, keep: usize) -> StoreResult<usize> {
        self.with(|c| pages::trim(c, session_id, keep))
    }

    fn sessions_page(
        &self,
        user: &str,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.with(|c| pages::sessions(c, user, limit, offset))
    }

    fn insert_share(&self, share: &ShareRecord) -> StoreResult<()> {
        self.with(|c| shares::insert(c, share))
    }

    fn share(&self, id: &str) -> StoreResult<Option<ShareRecord>> {
        self.with(|c| shares::get(c, id))
    }

    fn active_shares(&self, session_id: Uuid, now: u64) -> StoreResult<Vec<ShareRecord>> {
        self.with(|c| shares::active(c, &session_id.to_string(), now))
    }

    fn revoke_share(&self, id: &str) -> StoreResult<bool> {
        self.with(|c| shares::revoke(c, id))
    }

    fn revoked_share_ids(&self, now: u64) -> StoreResult<HashSet<String>> {
        self.with(|c| shares::revoked_ids(c, now))
    }

    fn claim_alert(&self, session_id: Uuid, offset: u64) -> StoreResult<bool> {
        self.with(|c| push::claim_alert(c, &session_id.to_string(), offset))
    }

    fn put_push_subscription(&self, subscription: &PushSubscriptionRecord) -> StoreResult<()> {
        self.with(|c| push::put(c, subscription))
    }

    fn push_subscriptions_of(&self, user: &str) -> StoreResult<Vec<PushSubscriptionRecord>> {
        self.with(|c| push::of_user(c, user))
    }

    fn delete_push_subscription(&self, user: &str, id: &str) -> StoreResult<bool> {
        self.with(|c| push::delete(c, user, id))
    }
}
