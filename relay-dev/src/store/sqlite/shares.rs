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

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::SqliteStore;
    use super::*;
    use crate::store::{KeyRecord, Store as _};

    fn share(id: &str, session_id: Uuid, key_id: &str, expires_at: u64) -> ShareRecord {
        ShareRecord {
            id: id.into(),
            session_id,
            role: Role::ReadWrite,
            key_id: key_id.into(),
            created_at: 10,
            expires_at,
            revoked: false,
        }
    }

    #[test]
    fn grants_are_listed_until_revoked_by_id_or_with_their_key() {
        let store = SqliteStore::in_memory().unwrap();
        for id in ["k1", "k2"] {
            let key = KeyRecord {
                id: id.into(),
                user: "ann".into(),
                hash: "h".into(),
                created_at: 1,
                revoked: false,
            };
            store.insert_key(&key).unwrap();
        }
        let session = Uuid::new_v4();
        store.insert_share(&share("a", session, "k1", 100)).unwrap();
        store.insert_share(&share("b", session, "k2", 100)).unwrap();
        store
            .insert_share(&share("old", session, "k1", 50))
            .unwrap();
        assert_eq!(
            store.share("a").unwrap(),
            Some(share("a", session, "k1", 100))
        );
        let ids = |now| -> Vec<String> {
            let active = store.active_shares(session, now).unwrap();
            active.into_iter().map(|s| s.id).collect()
        };
        assert_eq!(ids(60), ["a", "b"], "expired grants are not listed");
        assert!(store.active_shares(Uuid::new_v4(), 60).unwrap().is_empty());

        assert!(store.revoke_share("a").unwrap());
        assert!(!store.revoke_share("nope").unwrap());
        store.revoke_key("k2").unwrap();
        assert!(ids(60).is_empty());
        let revoked = store.revoked_share_ids(60).unwrap();
        assert_eq!(revoked, ["a".to_string(), "b".to_string()].into());
        assert!(
            store.revoked_share_ids(100).unwrap().is_empty(),
            "expired: no longer watched"
        );

        // Minting forgets what expired by then.
        let mut late = share("late", session, "k1", 300);
        late.created_at = 120;
        store.insert_share(&late).unwrap();
        assert_eq!(store.share("a").unwrap(), None);
        assert!(store.share("late").unwrap().is_some());
    }
}
