//! What only the PostgreSQL store does: connect errors, a schema and a
//! secret shared by nodes that start together, closing inside async code,
//! a database that goes away and comes back.
//! (The records' behaviour is the shared `store::conformance` suite.)

use std::time::{Duration, Instant};

use tests::services::postgres::PostgresServer;
use tests::wait::{eventually_blocking, DEADLINE};

use super::PgStore;
use crate::store::{KeyRecord, Store as _};

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let error = PgStore::connect("postgres://ann:s3cret@127.0.0.1:1/tether", 1).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("PostgreSQL at 127.0.0.1:1/tether"), "{text}");
    assert!(text.contains("error connecting to server"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let error = PgStore::connect("postgres://ann:s3cret@127.0.0.1:nope/tether", 1).unwrap_err();
    assert!(error.to_string().contains("--database-url"), "{error}");
    assert!(!error.to_string().contains("s3cret"), "{error}");
    let error = PgStore::connect("mysql://ann:s3cret@localhost/tether", 1).unwrap_err();
    assert!(
        error.to_string().contains("not a PostgreSQL URL"),
        "{error}"
    );
    assert!(!error.to_string().contains("s3cret"), "{error}");
    let url = "postgres://ann:sslmode=s3cret@localhost/tether?sslmode=s3cret";
    let error = PgStore::connect(url, 1).unwrap_err().to_string();
    assert!(
        error.contains("sslmode=(unknown)") && !error.contains("s3cret"),
        "{error}"
    );
}

#[test]
fn nodes_starting_together_share_the_schema_and_the_secret() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let url = server.create_database("nodes");
    let nodes: Vec<PgStore> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| PgStore::connect(&url, 2)))
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().unwrap().unwrap())
            .collect()
    });
    let secrets: Vec<Vec<u8>> = (0..3u8)
        .map(|i| nodes[usize::from(i)].signing_secret(&[i; 32]).unwrap())
        .collect();
    assert!(
        secrets.iter().all(|s| *s == secrets[0]),
        "one secret for all"
    );
    let vapid: Vec<Vec<u8>> = (0..3u8)
        .map(|i| nodes[usize::from(i)].vapid_key(&[i; 64]).unwrap())
        .collect();
    assert!(vapid.iter().all(|k| *k == vapid[0]), "one Web Push key");
    let key = KeyRecord {
        id: "k1".into(),
        user: "ann".into(),
        hash: "h".into(),
        created_at: 1,
        revoked: false,
    };
    nodes[0].insert_key(&key).unwrap();
    assert!(nodes[1].revoke_key("k1").unwrap());
    assert!(nodes[2].revoked_key_ids().unwrap().contains("k1"));

    // Calls beyond the pool wait for a connection, and no node opens more
    // than its bound (2 each here).
    std::thread::scope(|scope| {
        for _ in 0..16 {
            scope.spawn(|| nodes[0].keys().unwrap());
        }
    });
    let open: i64 = nodes[0]
        .run(async |c| {
            let row = c
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tether-relay'",
                    &[],
                )
                .await?;
            Ok(row.try_get(0)?)
        })
        .unwrap();
    assert!(
        (1..=6).contains(&open),
        "{open} connections for 3 nodes of 2"
    );

    // Reconnecting finds the schema in place and the records kept.
    drop(nodes);
    let again = PgStore::connect(&url, 1).unwrap();
    assert!(again.key("k1").unwrap().is_some_and(|k| k.revoked));

    // TLS asked of a server without it fails at once, with a reason.
    let tls = PgStore::connect(&format!("{url}?sslmode=require"), 1).unwrap_err();
    assert!(tls.to_string().contains("TLS"), "{tls}");
    let plain = PgStore::connect(&format!("{url}?sslmode=disable"), 1).unwrap();
    assert!(plain.key("k1").unwrap().is_some());

    // A schema from a newer relay is refused, not changed.
    again
        .run(async |c| {
            Ok(c.execute("INSERT INTO tether_schema VALUES (99)", &[])
                .await?)
        })
        .unwrap();
    let refused = PgStore::connect(&url, 1).unwrap_err().to_string();
    assert!(refused.contains("upgrade the relay"), "{refused}");

    // The last reference may go inside async code (a server's state):
    // closing must not block there (which would panic).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async move { drop(again) });
}

#[test]
fn a_database_away_fails_calls_at_once_and_back_serves_them_again() {
    let Some(mut server) = PostgresServer::start() else {
        return;
    };
    let url = server.create_database("outage");
    let store = PgStore::connect(&url, 2).unwrap();
    let key = KeyRecord {
        id: "k1".into(),
        user: "ann".into(),
        hash: "h".into(),
        created_at: 1,
        revoked: false,
    };
    store.insert_key(&key).unwrap();

    server.stop();
    for _ in 0..2 {
        let started = Instant::now();
        let error = store.key("k1").unwrap_err().to_string();
        assert!(
            error.contains(&format!("PostgreSQL at 127.0.0.1:{}/outage", server.port())),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
    }

    server.restart();
    let found = eventually_blocking("the store to reconnect", DEADLINE, || {
        match store.key("k1") {
            Ok(found) => found,
            Err(e) => {
                eprintln!("{e}");
                None
            }
        }
    });
    assert_eq!(found, key);
}
