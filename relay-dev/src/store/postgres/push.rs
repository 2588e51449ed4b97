//! Web Push subscriptions in PostgreSQL: the queries behind the push
//! subscription methods of [`Store`](crate::store::Store) (the table is the
//! schema's third step).

use deadpool_postgres::Object;
use tokio_postgres::Row;

use super::records::{big, col, execute, rows, u64_col};
use super::PgResult;
use crate::store::PushSubscriptionRecord;

const COLUMNS: &str = "id, user_name, endpoint, p256dh, auth, created_at";

fn from_row(row: &Row) -> PgResult<PushSubscriptionRecord> {
    Ok(PushSubscriptionRecord {
        id: col(row, 0)?,
        user: col(row, 1)?,
        endpoint: col(row, 2)?,
        p256dh: col(row, 3)?,
        auth: col(row, 4)?,
        created_at: u64_col(row, 5)?,
    })
}

/// Saves a subscription, replacing the user's one with the same endpoint.
pub(super) async fn put(c: &Object, s: &PushSubscriptionRecord) -> PgResult<()> {
    execute(
        c,
        "DELETE FROM push_subscriptions WHERE user_name = $1 AND endpoint = $2",
        &[&s.user, &s.endpoint],
    )
    .await?;
    execute(
        c,
        &format!("INSERT INTO push_subscriptions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
        &[
            &s.id,
            &s.user,
            &s.endpoint,
            &s.p256dh,
            &s.auth,
            &big(s.created_at),
        ],
    )
    .await
    .map(drop)
}

/// A user's subscriptions, oldest first.
pub(super) async fn of_user(c: &Object, user: &str) -> PgResult<Vec<PushSubscriptionRecord>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE user_name = $1 ORDER BY created_at, id"
    );
    rows(c, &sql, &[&user])
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Deletes subscription `id` of `user`; `false` if there is none.
pub(super) async fn delete(c: &Object, user: &str, id: &str) -> PgResult<bool> {
    let sql = "DELETE FROM push_subscriptions WHERE user_name = $1 AND id = $2";
    Ok(execute(c, sql, &[&user, &id]).await? > 0)
}
