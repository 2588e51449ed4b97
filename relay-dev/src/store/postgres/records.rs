//! Single records in PostgreSQL: API keys, sessions, alerts and the
//! signing secret, and the helpers every query uses (cached statements, columns
//! read without panicking).

use std::collections::HashSet;

use deadpool_postgres::Object;
use tokio_postgres::types::{FromSqlOwned, ToSql};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgFailure, PgResult};
use crate::store::{KeyRecord, SessionRecord};

/// Query parameters.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Runs `sql` (prepared once per connection) and returns its rows.
pub(super) async fn rows(c: &Object, sql: &str, params: &Params<'_>) -> PgResult<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

/// Runs `sql` (prepared once per connection); returns how many rows it changed.
pub(super) async fn execute(c: &Object, sql: &str, params: &Params<'_>) -> PgResult<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

/// Column `i` of `row`: a type mismatch is an error, never a panic.
pub(super) fn col<T: FromSqlOwned>(row: &Row, i: usize) -> PgResult<T> {
    Ok(row.try_get(i)?)
}

/// A time or count column (`BIGINT`) as `u64`.
pub(super) fn u64_col(row: &Row, i: usize) -> PgResult<u64> {
    let value: i64 = col(row, i)?;
    u64::try_from(value)
        .map_err(|_| PgFailure::Invalid(format!("negative value {value} in column {i}")))
}

/// A `u64` (time, count) as the `BIGINT` it is stored as.
pub(super) fn big(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn key_from_row(row: &Row) -> PgResult<KeyRecord> {
    Ok(KeyRecord {
        id: col(row, 0)?,
        user: col(row, 1)?,
        hash: col(row, 2)?,
        created_at: u64_col(row, 3)?,
        revoked: col(row, 4)?,
    })
}

const KEY_COLUMNS: &str = "id, user_name, hash, created_at, revoked";

/// Saves a new key.
pub(super) async fn insert_key(c: &Object, key: &KeyRecord) -> PgResult<()> {
    execute(
        c,
        &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"),
        &[
            &key.id,
            &key.user,
            &key.hash,
            &big(key.created_at),
            &key.revoked,
        ],
    )
    .await
    .map(drop)
}

/// The key with this id.
pub(super) async fn key(c: &Object, id: &str) -> PgResult<Option<KeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1");
    rows(c, &sql, &[&id])
        .await?
        .first()
        .map(key_from_row)
        .transpose()
}

/// Every key, oldest first.
pub(super) async fn keys(c: &Object) -> PgResult<Vec<KeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, seq");
    rows(c, &sql, &[]).await?.iter().map(key_from_row).collect()
}

/// Revokes a key; `false` if there is none with this id.
pub(super) async fn revoke_key(c: &Object, id: &str) -> PgResult<bool> {
    let changed = execute(
        c,
        "UPDATE api_keys SET revoked = TRUE WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(changed > 0)
}

/// Ids of all revoked keys.
pub(super) async fn revoked_key_ids(c: &Object) -> PgResult<HashSet<String>> {
    let list = rows(c, "SELECT id FROM api_keys WHERE revoked", &[]).await?;
    list.iter().map(|r| col(r, 0)).collect()
}

/// The columns [`session_from_row`] reads, in its order.
pub(super) const SESSION_COLUMNS: &str =
    "id, user_name, agent_type, name, created_at, last_activity, ended_at, exit_status";

/// A session from a row of [`SESSION_COLUMNS`].
pub(super) fn session_from_row(row: &Row) -> PgResult<SessionRecord> {
    let ended_at: Option<i64> = col(row, 6)?;
    Ok(SessionRecord {
        id: col(row, 0)?,
        user: col(row, 1)?,
        agent_type: col(row, 2)?,
        name: col(row, 3)?,
        created_at: u64_col(row, 4)?,
        last_activity: u64_col(row, 5)?,
        ended_at: ended_at.map(|t| t.max(0) as u64),
        exit_status: col(row, 7)?,
    })
}

/// Creates or replaces a session record.
pub(super) async fn put_session(c: &Object, s: &SessionRecord) -> PgResult<()> {
    let sql = format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET user_name = EXCLUDED.user_name,
             agent_type = EXCLUDED.agent_type, name = EXCLUDED.name,
             created_at = EXCLUDED.created_at, last_activity = EXCLUDED.last_activity,
             ended_at = EXCLUDED.ended_at, exit_status = EXCLUDED.exit_status"
    );
    let ended_at = s.ended_at.map(big);
    execute(
        c,
        &sql,
        &[
            &s.id,
            &s.user,
            &s.agent_type,
            &s.name,
            &big(s.created_at),
            &big(s.last_activity),
            &ended_at,
            &s.exit_status,
        ],
    )
    .await
    .map(drop)
}

/// The session with this id.
pub(super) async fn session(c: &Object, id: Uuid) -> PgResult<Option<SessionRecord>> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1");
    rows(c, &sql, &[&id])
        .await?
        .first()
        .map(session_from_row)
        .transpose()
}

/// Records the wait at `offset` as alerted; `false` if a wait at or past it
/// already was (one statement, so two nodes never both claim it).
pub(super) async fn claim_alert(c: &Object, session_id: Uuid, offset: u64) -> PgResult<bool> {
    let claimed = execute(
        c,
        "INSERT INTO alerts (session_id, wait_offset) VALUES ($1, $2)
         ON CONFLICT (session_id) DO UPDATE SET wait_offset = EXCLUDED.wait_offset
         WHERE alerts.wait_offset < EXCLUDED.wait_offset",
        &[&session_id, &big(offset)],
    )
    .await?;
    Ok(claimed > 0)
}

/// The Web Push (VAPID) key, PKCS#8: the stored one, or `fresh` stored now
/// if there is none (the first node's wins; the others read it).
pub(super) async fn vapid_key(c: &Object, fresh: &[u8]) -> PgResult<Vec<u8>> {
    execute(
        c,
        "INSERT INTO vapid_key (pkcs8) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&fresh],
    )
    .await?;
    let list = rows(c, "SELECT pkcs8 FROM vapid_key", &[]).await?;
    match list.first() {
        Some(row) => col(row, 0),
        None => Err(PgFailure::Invalid("the Web Push key was not stored".into())),
    }
}

/// The signing secret: the stored one, or `fresh` stored now if there is
/// none (whichever node comes first wins; the others read its secret).
pub(super) async fn signing_secret(c: &Object, fresh: &[u8]) -> PgResult<Vec<u8>> {
    execute(
        c,
        "INSERT INTO signing_secret (secret) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&fresh],
    )
    .await?;
    let list = rows(c, "SELECT secret FROM signing_secret", &[]).await?;
    let secret: Vec<u8> = match list.first() {
        Some(row) => col(row, 0)?,
        None => {
            return Err(PgFailure::Invalid(
                "the signing secret was not stored".into(),
            ))
        }
    };
    if secret.len() < 32 {
        return Err(PgFailure::Invalid(format!(
            "the stored signing secret is {} bytes, fewer than 32",
            secret.len()
        )));
    }
    Ok(secret)
}
