//! Share grants in PostgreSQL: the queries behind the share methods of
//! [`Store`](crate::store::Store).

use std::collections::HashSet;

use deadpool_postgres::Object;
use protocol::Role;
use tokio_postgres::Row;
use uuid::Uuid;

use super::records::{big, col, execute, rows, u64_col};
use super::PgResult;
use crate::store::ShareRecord;

const COLUMNS: &str = "id, session_id, role, key_id, created_at, expires_at, revoked";

fn role_text(role: Role) -> &'static str {
    match role {
        Role::ReadOnly => "ro",
        Role::ReadWrite => "rw",
    }
}

fn from_row(row: &Row) -> PgResult<ShareRecord> {
    let role: String = col(row, 2)?;
    Ok(ShareRecord {
        id: col(row, 0)?,
        session_id: col(row, 1)?,
        role: if role == "rw" {
            Role::ReadWrite
        } else {
            Role::ReadOnly
        },
        key_id: col(row, 3)?,
        created_at: u64_col(row, 4)?,
        expires_at: u64_col(row, 5)?,
        revoked: col(row, 6)?,
    })
}

/// Saves a new grant, and forgets grants expired before `share.created_at`
/// (an expired token is refused by its signed expiry alone).
pub(super) async fn insert(c: &Object, share: &ShareRecord) -> PgResult<()> {
    execute(
        c,
        "DELETE FROM shares WHERE expires_at <= $1",
        &[&big(share.created_at)],
    )
    .await?;
    execute(
        c,
        &format!("INSERT INTO shares ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"),
        &[
            &share.id,
            &share.session_id,
            &role_text(share.role),
            &share.key_id,
            &big(share.created_at),
            &big(share.expires_at),
            &share.revoked,
        ],
    )
    .await
    .map(drop)
}

/// The grant with this id.
pub(super) async fn get(c: &Object, id: &str) -> PgResult<Option<ShareRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM shares WHERE id = $1");
    rows(c, &sql, &[&id])
        .await?
        .first()
        .map(from_row)
        .transpose()
}

/// A session's grants that still work at `now` (not expired, not revoked,
/// minting key not revoked), oldest first.
pub(super) async fn active(c: &Object, session_id: Uuid, now: u64) -> PgResult<Vec<ShareRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM shares
         WHERE session_id = $1 AND expires_at > $2 AND NOT revoked
           AND key_id NOT IN (SELECT id FROM api_keys WHERE revoked)
         ORDER BY created_at, seq"
    );
    let list = rows(c, &sql, &[&session_id, &big(now)]).await?;
    list.iter().map(from_row).collect()
}

/// Revokes a grant; `false` if there is none with this id.
pub(super) async fn revoke(c: &Object, id: &str) -> PgResult<bool> {
    let changed = execute(c, "UPDATE shares SET revoked = TRUE WHERE id = $1", &[&id]).await?;
    Ok(changed > 0)
}

/// Ids of grants not yet expired at `now` that no longer work: revoked, or
/// minted by a revoked key.
pub(super) async fn revoked_ids(c: &Object, now: u64) -> PgResult<HashSet<String>> {
    let list = rows(
        c,
        "SELECT id FROM shares WHERE expires_at > $1
           AND (revoked OR key_id IN (SELECT id FROM api_keys WHERE revoked))",
        &[&big(now)],
    )
    .await?;
    list.iter().map(|r| col(r, 0)).collect()
}
