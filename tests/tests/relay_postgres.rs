//! The relay on PostgreSQL (`--database-url`), with a real server: keys
//! made by `tether-relay keys` on a machine with no data directory, used
//! by a real `tether`; two relay processes on one database accept the same
//! key and show the same sessions; a revocation made through one is
//! refused by the other, and its open links there close. A database that
//! stops answering closes links waiting on it after the upgrade timeout.
//! A server that takes only TLS is reached with `sslmode=require` and its
//! certificate verified against `sslrootcert=`.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use protocol::Role;
use tests::relay::{contains, fetch, workspace_binary, RelayProcess};
use tests::services::postgres::PostgresServer;
use tests::test_cert::{CA_PEM, SERVER_CERT_PEM, SERVER_KEY_PEM};
use tests::wait::DEADLINE;
use tests::wrapper::TetherCommand;

/// `tether-relay keys ARGS --database-url URL`, run with `home` as its only
/// home (no data directory anywhere).
fn keys(url: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(workspace_binary("tether-relay"))
        .arg("keys")
        .args(args)
        .args(["--database-url", url])
        .env_clear()
        .env("HOME", home)
        .env("TETHER_HOME", home)
        .env("TETHER_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run tether-relay keys")
}

/// [`keys`] that must succeed; its stdout.
fn keys_ok(url: &str, home: &Path, args: &[&str]) -> String {
    let out = keys(url, home, args);
    assert!(
        out.status.success(),
        "tether-relay keys {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `keys create --user USER` on the database at `url`: the new key (the
/// last line printed).
fn create_key(url: &str, home: &Path, user: &str) -> String {
    let created = keys_ok(url, home, &["create", "--user", user]);
    created.lines().last().unwrap().trim().to_string()
}

/// A relay node on the database at `url`.
fn node(url: &str) -> RelayProcess {
    RelayProcess::start_with(&["--database-url", url, "--no-local-key"])
}

#[tokio::test]
async fn keys_from_any_machine_work_on_every_relay_of_the_database() {
    let Some(pg) = PostgresServer::start() else {
        return;
    };
    let url = pg.create_database("tether");
    let machine = tempfile::tempdir().unwrap();
    let key = create_key(&url, machine.path(), "ann");
    let id = key.split('.').nth(1).unwrap().to_string();
    let listed = keys_ok(&url, machine.path(), &["list"]);
    assert!(
        listed.contains(&format!("{id}\tann\t")) && listed.contains("active"),
        "{listed}"
    );
    assert!(
        std::fs::read_dir(machine.path()).unwrap().next().is_none(),
        "the keys commands wrote nothing on this machine"
    );
    let (a, b) = (node(&url), node(&url));

    // A real `tether` streams through node A with the key from the CLI.
    let home = tempfile::tempdir().unwrap();
    let tether = TetherCommand::new(home.path())
        .env("TETHER_API_URL", a.http_url())
        .env("TETHER_API_KEY", &key)
        .args([
            "--command",
            "sh",
            "--",
            "-c",
            "echo stored-in-postgres; read x",
        ])
        .spawn();
    let streamed = tether.session_id(DEADLINE);
    let mut viewer = a.connect_viewer(&streamed, &key, None).await;
    let join = viewer.read_history().await;
    if !contains(&join.output, b"stored-in-postgres") {
        viewer.read_output_until(b"stored-in-postgres").await;
    }

    // Node B accepts the same key and lists the same session.
    let listed_on_b: Vec<String> = b
        .sessions(&key)
        .await
        .into_iter()
        .map(|s| s.agent_instance_id)
        .collect();
    assert_eq!(listed_on_b, [streamed]);
    let on_b = b.register_session(&key, "claude");
    let mut agent_on_b = b.connect_agent(&on_b, &key).await;
    agent_on_b.send_output(b"hello from b").await;

    // A share link minted on B and revoked through A: B closes its viewer.
    let share = b.share(&key, &on_b, Role::ReadOnly, 600).await;
    let mut helper = b.joined_viewer(&on_b, &share.token).await;
    let url_on_a = format!("{}/api/v1/shares/{}", a.http_url(), share.id);
    let revoke = fetch("DELETE", &url_on_a, Some(&key), None).await;
    assert!(revoke.status < 300, "{} {}", revoke.status, revoke.text());
    let revoked = Instant::now();
    b.assert_share_revoked(
        &on_b,
        &share.token,
        revoked,
        std::slice::from_mut(&mut helper),
    )
    .await;

    // The key revoked from the machine: both nodes refuse it, B closes its agent.
    keys_ok(&url, machine.path(), &["revoke", &id]);
    assert_eq!(
        agent_on_b.socket.closed().await,
        Some((1008, "API key revoked".into()))
    );
    for relay in [&a, &b] {
        let refusal = relay.refused_agent(&on_b, &key).await;
        assert!(refusal.contains("revoked"), "{refusal}");
    }
    drop(tether);
}

#[tokio::test]
async fn links_waiting_on_a_database_that_does_not_answer_close_after_the_upgrade_timeout() {
    let Some(pg) = PostgresServer::start() else {
        return;
    };
    let url = pg.create_database("tether");
    let machine = tempfile::tempdir().unwrap();
    let key = create_key(&url, machine.path(), "ann");
    let relay = RelayProcess::start_with(&[
        "--database-url",
        &url,
        "--no-local-key",
        "--upgrade-timeout",
        "1",
    ]);
    let session = relay.register_session(&key, "claude");
    // Every key lookup now waits (the database holds them, no timeout of its own).
    let lock = pg.lock_table("tether", "api_keys");
    for _ in 0..3 {
        let started = Instant::now();
        let refusal = tokio::time::timeout(DEADLINE, relay.refused_agent(&session, &key))
            .await
            .expect("the upgraded link was left waiting on the database");
        assert_eq!(refusal, "closed 1013: authorization timed out");
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(900)..Duration::from_secs(4)).contains(&took),
            "closed after {took:?}"
        );
    }
    let started = Instant::now();
    let mut viewer = relay.connect_viewer(&session, &key, None).await;
    assert_eq!(
        viewer.socket.closed().await,
        Some((1013, "authorization timed out".into()))
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    // The database answers again: so does the relay, to the same key.
    drop(lock);
    let mut agent = relay.connect_agent(&session, &key).await;
    agent.send_output(b"answered").await;
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let machine = tempfile::tempdir().unwrap();
    let out = keys(
        "postgres://ann:s3cret@127.0.0.1:1/tether",
        machine.path(),
        &["list"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("PostgreSQL at 127.0.0.1:1/tether") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    // Modes that may fall back to the clear are refused before any
    // connection, saying what to do instead.
    for mode in ["prefer", "allow"] {
        let url = format!("postgres://ann:s3cret@127.0.0.1:1/tether?sslmode={mode}");
        let out = keys(&url, machine.path(), &["list"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(
            stderr.contains(&format!("sslmode={mode}"))
                && stderr.contains("sslmode=require")
                && stderr.contains("sslmode=disable"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("s3cret") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
    let bad = keys(
        "mysql://ann:s3cret@localhost/tether",
        machine.path(),
        &["list"],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("not a PostgreSQL URL"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "a refused URL is not echoed: {stderr}"
    );
}

#[test]
fn a_database_that_takes_only_tls_is_reached_over_tls_with_its_certificate_checked() {
    let Some(mut server) = PostgresServer::start() else {
        return;
    };
    let url = server.create_database("tls");
    server.require_tls(SERVER_CERT_PEM, SERVER_KEY_PEM);
    let machine = tempfile::tempdir().unwrap();
    let ca = machine.path().join("db-ca.pem");
    std::fs::write(&ca, CA_PEM).unwrap();
    let stderr_of = |url: &str| {
        let out = keys(url, machine.path(), &["list"]);
        assert!(!out.status.success(), "connected with {url}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    // In the clear, the server refuses it (so what works below is TLS).
    let plain = stderr_of(&url);
    assert!(plain.contains("no encryption"), "{plain}");
    // TLS, but the certificate is not one the public CAs vouch for.
    let unverified = stderr_of(&format!("{url}?sslmode=require"));
    assert!(unverified.contains("certificate"), "{unverified}");
    // TLS with the server's CA named: works, for any of the TLS modes.
    let verified = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let created = keys_ok(&verified, machine.path(), &["create", "--user", "ann"]);
    assert!(created.contains("for user ann"), "{created}");
    let required = format!("{url}?sslmode=require&sslrootcert={}", ca.display());
    let listed = keys_ok(&required, machine.path(), &["list"]);
    assert!(listed.contains("\tann\t"), "{listed}");
}
