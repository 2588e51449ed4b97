//! The PostgreSQL schema: migrations applied in order, once, in one
//! transaction under an advisory lock, so that nodes starting together
//! neither race nor apply a step twice. `tether_schema` counts the applied
//! steps; a database migrated by a newer relay is refused.

use deadpool_postgres::Object;

use super::{PgFailure, PgResult};

/// The advisory lock held while migrating (any constant all nodes agree on).
const MIGRATION_LOCK: i64 = 0x7e7_4e12;

/// Schema steps, applied in order.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE TABLE sessions (
        id UUID PRIMARY KEY,
        user_name TEXT NOT NULL,
        agent_type TEXT NOT NULL,
        name TEXT,
        created_at BIGINT NOT NULL,
        last_activity BIGINT NOT NULL,
        ended_at BIGINT,
        exit_status INTEGER,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX sessions_by_user ON sessions (user_name, created_at, seq);
    CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id UUID NOT NULL UNIQUE,
        session_id UUID NOT NULL,
        content TEXT NOT NULL,
        sender TEXT NOT NULL,
        requires_user_input BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session_id, seq);
    CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        session_id UUID NOT NULL,
        role TEXT NOT NULL,
        key_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT FALSE,
        seq BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX shares_by_session ON shares (session_id, created_at);
    CREATE INDEX shares_by_expiry ON shares (expires_at);
    -- One row: the key-signing secret every node signs and verifies with.
    CREATE TABLE signing_secret (
        only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
        secret BYTEA NOT NULL
    );
",
    "
    -- The last wait each session alerted for (by stream offset).
    CREATE TABLE alerts (
        session_id UUID PRIMARY KEY,
        wait_offset BIGINT NOT NULL
    );
",
    "
    -- Browsers' Web Push subscriptions.
    CREATE TABLE push_subscriptions (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        UNIQUE (user_name, endpoint)
    );
",
    "
    -- One row: the Web Push (VAPID) key every node signs pushes with (PKCS#8).
    CREATE TABLE vapid_key (
        only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
        pkcs8 BYTEA NOT NULL
    );
",
];

/// Creates the tables, or brings them up to date.
pub(super) async fn migrate(c: &mut Object) -> PgResult<()> {
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tether_schema (version INTEGER NOT NULL)")
        .await?;
    let applied: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM tether_schema", &[])
        .await?
        .try_get(0)?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > known {
        return Err(PgFailure::Invalid(format!(
            "the database's schema is at step {applied}, this relay knows {known}: upgrade the relay"
        )));
    }
    for (step, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(migration).await?;
        let version = i32::try_from(step + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO tether_schema (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
